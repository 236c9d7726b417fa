"""Invite link requests. Creating, listing and revoking links and reading the join audit need the owner
or an admin of the room (checked against Postgres); joining goes through the room actor, whose commit
checks the link under its row lock (expiry, revocation, uses left)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chatd.actors.items import ChangeMembers, JoinByInvite
from chatd.actors.reply import Reply
from chatd.gateway.errors import Handler
from chatd.protocol import frames as f
from chatd.protocol.errors import ErrorCode, Refusal

if TYPE_CHECKING:
    from chatd.gateway.handlers import Handlers

JOINS_PER_MINUTE = 10  # per user and per address: codes cannot be guessed by trying


class InviteHandlers:
    def __init__(self, h: Handlers) -> None:
        self.h = h
        self.table: dict[type[f.Frame], Handler] = {
            f.CreateInvite: self.create_invite, f.ListInvites: self.list_invites, f.RevokeInvite: self.revoke_invite,
            f.ListInviteJoins: self.list_invite_joins, f.Join: self.join, f.PreviewInvite: self.preview}

    async def _admin(self, room: int) -> None:
        role = await self.h.s.store.role_of(room, self.h.me)
        if role not in ("owner", "admin"):
            raise Refusal(ErrorCode.FORBIDDEN if role else ErrorCode.NOT_FOUND,
                               "only the owner and admins manage invite links" if role
                               else f"room {room} does not exist or you are not in it")

    async def create_invite(self, req: f.CreateInvite, reply: Reply) -> None:
        info = await self.h.s.store.room_info(req.room)
        if info is not None and info.kind != "group" and any(m.user == self.h.me for m in info.members):
            raise Refusal(ErrorCode.BAD_REQUEST, "invite links are for groups")
        await self._admin(req.room)
        invite = await self.h.s.store.create_invite(req.room, self.h.me, req.expires_in, req.max_uses)
        reply.send(f.Invite(id=req.id, invite=invite))

    async def list_invites(self, req: f.ListInvites, reply: Reply) -> None:
        await self._admin(req.room)
        reply.send(f.Invites(id=req.id, invites=await self.h.s.store.list_invites(req.room)))

    async def list_invite_joins(self, req: f.ListInviteJoins, reply: Reply) -> None:
        await self._admin(req.room)
        reply.send(f.InviteJoins(id=req.id, joins=await self.h.s.store.invite_audit(req.room)))

    async def revoke_invite(self, req: f.RevokeInvite, reply: Reply) -> None:
        await self._admin(req.room)
        if not await self.h.s.store.revoke_invite(req.room, req.code):
            raise Refusal(ErrorCode.NOT_FOUND, "this room has no such invite link")
        if not req.remove_joined:
            reply.send(f.Ok(id=req.id))
            return
        joiners = await self.h.s.store.invite_joiners(req.code)
        await self.h.s.rooms.put(req.room, ChangeMembers(reply, "remove_invited", tuple(joiners)))  # the room
        # replies `ok` once the removals are committed

    async def _guard(self) -> None:
        """Joins and previews share one budget: invite codes cannot be guessed by trying either."""
        await self.h._limit(f"join:user:{self.h.me}", JOINS_PER_MINUTE, 60)
        await self.h._limit(f"join:addr:{self.h.address}", JOINS_PER_MINUTE * 10, 60)  # NAT: many people

    async def preview(self, req: f.PreviewInvite, reply: Reply) -> None:
        await self._guard()
        found = await self.h.s.store.invite_preview(req.code, self.h.me)  # or a Refusal: why joining would fail
        reply.send(f.InvitePreview(id=req.id, room=found.room, members=found.members, member=found.member,
                                   name=found.name, description=found.description, icon=found.icon))

    async def join(self, req: f.Join, reply: Reply) -> None:
        await self._guard()
        room = await self.h.s.store.invite_room(req.code)
        if room is None:
            raise Refusal(ErrorCode.NOT_FOUND, "unknown invite code")
        await self.h.s.rooms.put(room, JoinByInvite(reply, req.code))
