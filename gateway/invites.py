"""Invite link requests. Creating, listing and revoking links and reading the join audit need the owner
or an admin of the room (checked against Postgres); joining goes through the room actor, whose commit
checks the link under its row lock (expiry, revocation, uses left)."""

from __future__ import annotations

from chatd.actors.items import ChangeMembers, JoinByInvite
from chatd.actors.reply import Reply
from chatd.gateway.accounts import rate_limit
from chatd.gateway.context import Context
from chatd.protocol import frames as f
from chatd.protocol.errors import ErrorCode, Refusal

JOINS_PER_MINUTE = 10  # per user and per address: codes cannot be guessed by trying


async def _admin(cx: Context, room: int) -> None:
    role = await cx.services.store.role_of(room, cx.me)
    if role not in ("owner", "admin"):
        raise Refusal(ErrorCode.FORBIDDEN if role else ErrorCode.NOT_FOUND,
                      "only the owner and admins manage invite links" if role
                      else f"room {room} does not exist or you are not in it")


async def create_invite(cx: Context, req: f.CreateInvite, reply: Reply) -> None:
    info = await cx.services.store.room_info(req.room)
    if info is not None and info.kind != "group" and any(m.user == cx.me for m in info.members):
        raise Refusal(ErrorCode.BAD_REQUEST, "invite links are for groups")
    await _admin(cx, req.room)
    invite = await cx.services.store.create_invite(req.room, cx.me, req.expires_in, req.max_uses)
    reply.send(f.Invite(id=req.id, invite=invite))


async def list_invites(cx: Context, req: f.ListInvites, reply: Reply) -> None:
    await _admin(cx, req.room)
    reply.send(f.Invites(id=req.id, invites=await cx.services.store.list_invites(req.room)))


async def list_invite_joins(cx: Context, req: f.ListInviteJoins, reply: Reply) -> None:
    await _admin(cx, req.room)
    reply.send(f.InviteJoins(id=req.id, joins=await cx.services.store.invite_audit(req.room)))


async def revoke_invite(cx: Context, req: f.RevokeInvite, reply: Reply) -> None:
    await _admin(cx, req.room)
    if not await cx.services.store.revoke_invite(req.room, req.code):
        raise Refusal(ErrorCode.NOT_FOUND, "this room has no such invite link")
    if not req.remove_joined:
        reply.send(f.Ok(id=req.id))
        return
    joiners = await cx.services.store.invite_joiners(req.room, req.code)
    await cx.services.rooms.put(req.room, ChangeMembers(reply, "remove_invited", tuple(joiners)))  # the room
    # replies `ok` once the removals are committed


async def _guard(cx: Context) -> None:
    """Joins and previews share one budget: invite codes cannot be guessed by trying either."""
    await rate_limit(cx.services, f"join:user:{cx.me}", JOINS_PER_MINUTE, 60)
    await rate_limit(cx.services, f"join:addr:{cx.address}", JOINS_PER_MINUTE * 10, 60)  # NAT: many people


async def preview(cx: Context, req: f.PreviewInvite, reply: Reply) -> None:
    await _guard(cx)
    found = await cx.services.store.invite_preview(req.code, cx.me)  # or a Refusal: why joining would fail
    reply.send(f.InvitePreview(id=req.id, room=found.room, members=found.members, member=found.member,
                               name=found.name, description=found.description, icon=found.icon))


async def join(cx: Context, req: f.Join, reply: Reply) -> None:
    await _guard(cx)
    room = await cx.services.store.invite_room(req.code)
    if room is None:
        raise Refusal(ErrorCode.NOT_FOUND, "unknown invite code")
    await cx.services.rooms.put(room, JoinByInvite(reply, req.code))
