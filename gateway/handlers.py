"""Request handlers: one coroutine per client frame type.

A handler answers its request's reply handle (actors/reply.py): it sends the reply frame, or puts the handle
into the mailbox item of the actor that answers it (send, membership changes); ack, read and typing get no
reply. It raises a Refusal to refuse; the connection answers the handle with it (an `error` frame echoing the
request id). Authorization happens where the data lives: membership checks
in the room actor, visibility checks in the history query; a request for a room whose actor is not
running is refused here unless its sender is a member (`_member_of`), so it cannot start the actor.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

import trio

from chatd.actors.device import Device
from chatd.actors.items import (
    AckFrom,
    ChangeMembers,
    ChangeMessage,
    ChangeReaction,
    LookUpReceipts,
    MembershipChanged,
    MuteChanged,
    ReadMoved,
    RoomItem,
    SendText,
    SettingsChanged,
    TypingNow,
    UpdateRoom,
)
from chatd.actors.reply import Reply
from chatd.actors.rules import no_such_room, not_a_member
from chatd.auth.tokens import AccessClaims
from chatd.gateway.accounts import Accounts, rate_limit
from chatd.gateway.devices import DeviceHandlers
from chatd.gateway.errors import Handler
from chatd.gateway.invites import InviteHandlers
from chatd.gateway.people import PeopleHandlers
from chatd.gateway.qr_login import QrApprovals
from chatd.gateway.services import Services
from chatd.gateway.sessions import session_user, verify_token
from chatd.protocol import frames as f
from chatd.protocol.errors import CloseCode, ErrorCode, Refusal
from chatd.protocol.session import Session


def answering(action: Callable[[Any], Awaitable[f.Frame]]) -> Handler:
    """A handler that answers with what `action` returns (the account actions, shared with the HTTP side)."""
    async def handler(req: Any, reply: Reply) -> None:
        reply.send(await action(req))
    return handler


class Handlers:
    def __init__(self, services: Services, session: Session, device: Device, address: str,
                 on_authenticated: Callable[[float], None]) -> None:
        self.s = services
        self.session = session
        self.device = device
        self.address = address  # the client's limit key (runtime/client_address.py: an IPv6 client's /64)
        self._on_authenticated = on_authenticated
        self.accounts = Accounts(services, address)
        self.table: dict[type[f.Frame], Handler] = {
            f.Signup: answering(self.accounts.signup), f.Login: answering(self.accounts.login),
            f.Refresh: answering(self.accounts.refresh), f.Logout: answering(self.accounts.logout),
            f.Hello: self.hello, f.Auth: self.auth, f.OpenDirect: self.open_direct,
            f.CreateGroup: self.create_group, f.AddMembers: self.add_members,
            f.RemoveMember: self.remove_member, f.Leave: self.leave, f.ListRooms: self.list_rooms,
            f.Send: self.send, f.Ack: self.ack, f.Read: self.read, f.History: self.history,
            f.Ban: self.ban, f.Unban: self.unban, f.SetRole: self.set_role,
            f.TransferOwnership: self.transfer_ownership, f.UpdateRoom: self.update_room,
            f.GetRoom: self.get_room, f.Edit: self.edit, f.Delete: self.delete, f.Settings: self.settings,
            f.Typing: self.typing, f.Mute: self.mute, f.React: self.react, f.Unreact: self.react,
            f.GetReceipts: self.get_receipts, f.Ping: self.ping,
        }
        self.table.update(InviteHandlers(self).table)
        self.table.update(PeopleHandlers(self).table)  # profiles, search, presence
        self.table.update(DeviceHandlers(self).table)  # devices, password, account deletion
        self.table.update(QrApprovals(self).table)  # approving a QR login of a new device

    @property
    def me(self) -> int:
        assert self.session.user_id is not None
        return self.session.user_id

    # ------------------------------------------------------------------ accounts

    async def _limit(self, key: str, limit: int, window: int, cost: int = 1) -> None:
        await rate_limit(self.s, key, limit, window, cost)

    # ------------------------------------------------------------------ session

    def _verify(self, token: str) -> AccessClaims:
        claims = verify_token(self.s, token)
        if self.session.user_id is not None and claims.user_id != self.session.user_id:
            raise Refusal(ErrorCode.FORBIDDEN, "token belongs to another user")
        return claims

    async def hello(self, req: f.Hello, reply: Reply) -> None:
        if req.version not in f.SUPPORTED_VERSIONS:
            raise Refusal(ErrorCode.BAD_REQUEST, f"unsupported protocol version {req.version}; this server "
                                                 f"speaks versions {', '.join(map(str, f.SUPPORTED_VERSIONS))}")
        claims = self._verify(req.token)
        user_id = claims.user_id
        username = await session_user(self.s, claims)
        self.session.authenticated(user_id, req.version)
        self.device.user_id = user_id
        self.device.session = claims.device_id
        reply.send(f.Welcome(id=req.id, version=req.version, user_id=user_id, username=username,
                             max_frame_bytes=self.s.config.max_frame_bytes))
        self._on_authenticated(claims.expires_at)
        try:
            await self.s.users.attach(self.device, req.cursors or {})
        except BaseException:
            self.device.kill(CloseCode.TRY_AGAIN, "could not start your session, reconnect")
            raise

    async def auth(self, req: f.Auth, reply: Reply) -> None:
        """A fresh access token for this connection; refused (and the connection closed) once the account is
        disabled or the token's device signed out, so a connection the bus's close missed cannot outlive its token."""
        claims = self._verify(req.token)
        if self.device.session and claims.device_id != self.device.session:  # else revoking it would miss us
            raise Refusal(ErrorCode.FORBIDDEN, "token belongs to another device of yours: a connection keeps "
                                               "the device it said hello with")
        try:
            await session_user(self.s, claims)
        except Refusal as exc:
            if exc.close is None:
                raise
            reply.refuse(exc)
            self.device.kill(exc.close, str(exc))  # after the error frame
            return
        self.device.session = claims.device_id
        self._on_authenticated(claims.expires_at)
        reply.send(f.Ok(id=req.id))

    async def ping(self, req: f.Ping, reply: Reply) -> None:
        """The client's heartbeat: an answer proves the whole path (socket, reader, writer) still works."""
        reply.send(f.Ok(id=req.id))

    # ------------------------------------------------------------------ rooms

    async def spend(self, what: str, limit: int, cost: int, message: str) -> None:
        """Take `cost` from this user's per-minute budget `what` (Redis), or refuse with rate_limited."""
        wait = await self.s.cache.hit(f"{what}:{self.me}", limit, 60, cost)
        if wait is not None:
            raise Refusal(ErrorCode.RATE_LIMITED, message, retry_after=wait)

    async def look_up(self, users: int) -> None:
        """Naming or looking at other people: `users` of the per-minute lookup budget, paid before the
        answer is known, so that no one can find out quickly which usernames exist."""
        if users:
            await self.spend("lookup", self.s.config.lookups_per_minute, users,
                             "too many profile, presence or user lookups, wait and try again")

    async def check_picture(self, what: str, value: str | None) -> None:
        """An avatar or icon that is a media id must be an image this user uploaded (it then becomes
        readable by whoever may see it); anything else is kept as text (e.g. a URL)."""
        if value and re.fullmatch(f.MEDIA_ID_RE, value) and not await self.s.store.owns_image(self.me, value):
            raise Refusal(ErrorCode.NOT_FOUND, f"{what}: you uploaded no image {value}")

    async def _resolve(self, refs: list[int | str]) -> list[int]:
        await self.look_up(sum(1 for r in dict.fromkeys(refs) if r != self.me))
        found = await self.s.store.resolve_users(refs)
        missing = [str(r) for r in refs if r not in found]
        if missing:
            raise Refusal(ErrorCode.NOT_FOUND, f"no such user: {', '.join(missing[:10])}")
        return list(dict.fromkeys(found[r][0] for r in refs))

    async def _room_reply(self, req_id: int, room_id: int, notify: list[int]) -> f.Frame:
        for uid in notify:
            self.s.users.offer(uid, MembershipChanged(room_id))
        self.s.bus.to_users(notify, MembershipChanged(room_id))
        info = await self.s.store.room_info(room_id)
        if info is None:
            raise Refusal(ErrorCode.NOT_FOUND, f"room {room_id} does not exist")
        return f.Room(id=req_id, room=info)

    async def open_direct(self, req: f.OpenDirect, reply: Reply) -> None:
        (peer,) = await self._resolve([req.user])
        if peer == self.me:
            raise Refusal(ErrorCode.BAD_REQUEST, "a direct chat needs another user")
        room_id, created = await self.s.store.get_or_create_direct(self.me, peer)
        reply.send(await self._room_reply(req.id, room_id, [self.me, peer] if created else []))

    async def create_group(self, req: f.CreateGroup, reply: Reply) -> None:
        members = [u for u in await self._resolve(list(req.members or [])) if u != self.me]
        room_id = await self.s.store.create_group(self.me, req.name, members, req.history_visibility)
        reply.send(await self._room_reply(req.id, room_id, [self.me, *members]))

    async def _member_of(self, room: int, what: str = "") -> None:
        """Refuse a request for `room` from anyone but a current member before it can start the room's actor
        (which loads the room from Postgres), so a stranger cannot pull rooms into memory. A running actor
        checks the request itself against the membership it holds: no query on that, the hot, path. A
        stopped one starts only once Postgres says yes, and joins are stored there before they are
        acknowledged, so a room the user was just added to (on any process) is reachable at once."""
        if self.s.rooms.is_online(room):
            return
        member = await self.s.store.is_current_member(self.me, room)
        if member is None:
            raise Refusal(ErrorCode.NOT_FOUND, what + no_such_room(room))
        if not member:
            raise Refusal(ErrorCode.FORBIDDEN, what + not_a_member(room))

    async def _to_room(self, room: int, item: RoomItem) -> None:
        """Hand a member's request to the room's actor (no checkpoint between the check and the put)."""
        await self._member_of(room)
        await self.s.rooms.put(room, item)

    async def add_members(self, req: f.AddMembers, reply: Reply) -> None:
        users = await self._resolve(list(req.users))
        await self._to_room(req.room, ChangeMembers(reply, "add", tuple(users)))

    async def _change_one(self, reply: Reply, room: int, action: str, user: int | str, role: str | None = None,
                          revoke_invites: bool = False) -> None:
        users = await self._resolve([user])
        await self._to_room(room, ChangeMembers(reply, action, tuple(users), role, revoke_invites))

    async def remove_member(self, req: f.RemoveMember, reply: Reply) -> None:
        await self._change_one(reply, req.room, "remove", req.user, revoke_invites=req.revoke_invites)

    async def ban(self, req: f.Ban, reply: Reply) -> None:
        await self._change_one(reply, req.room, "ban", req.user)

    async def unban(self, req: f.Unban, reply: Reply) -> None:
        await self._change_one(reply, req.room, "unban", req.user)

    async def set_role(self, req: f.SetRole, reply: Reply) -> None:
        await self._change_one(reply, req.room, "set_role", req.user, req.role)

    async def transfer_ownership(self, req: f.TransferOwnership, reply: Reply) -> None:
        await self._change_one(reply, req.room, "transfer", req.user)

    async def update_room(self, req: f.UpdateRoom, reply: Reply) -> None:
        changes = {k: v for k in ("name", "description", "icon", "history_visibility")
                   if (v := getattr(req, k)) is not None}
        await self.check_picture("icon", req.icon)
        await self._to_room(req.room, UpdateRoom(reply, changes))

    async def leave(self, req: f.Leave, reply: Reply) -> None:
        await self._to_room(req.room, ChangeMembers(reply, "leave"))

    async def get_room(self, req: f.GetRoom, reply: Reply) -> None:
        if not await self.s.store.was_member(self.me, req.room):
            raise Refusal(ErrorCode.NOT_FOUND, f"room {req.room} does not exist or you were never in it")
        reply.send(await self._room_reply(req.id, req.room, []))

    async def list_rooms(self, req: f.ListRooms, reply: Reply) -> None:
        reply.send(f.Rooms(id=req.id, rooms=await self.s.store.list_rooms(self.me)))

    # ------------------------------------------------------------------ messages

    async def send(self, req: f.Send, reply: Reply) -> None:
        await self._to_room(req.room, SendText(reply, req.client_id.lower(), req.body, req.kind,
                                               req.media, req.reply_to))

    async def edit(self, req: f.Edit, reply: Reply) -> None:
        await self._to_room(req.room, ChangeMessage(reply, req.seq, req.body))

    async def delete(self, req: f.Delete, reply: Reply) -> None:
        await self._to_room(req.room, ChangeMessage(reply, req.seq, None))

    async def react(self, req: f.Reacting, reply: Reply) -> None:
        await self._to_room(req.room, ChangeReaction(reply, req.target, req.emoji,
                                                     add=isinstance(req, f.React)))

    async def get_receipts(self, req: f.GetReceipts, reply: Reply) -> None:
        private = not await self.s.store.read_receipts(self.me)  # the room hears of a change with the next read
        await self._to_room(req.room, LookUpReceipts(reply, private))

    async def _cursor(self, room: int, seq: int, read: bool) -> None:
        mailbox = self.s.users.lookup(self.me)
        if mailbox is not None:
            try:
                await mailbox.put(AckFrom(self.device, room, seq, read))
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                pass  # the user actor stopped; this device is being closed and will resume on reconnect

    async def ack(self, req: f.Ack, reply: Reply) -> None:
        await self._cursor(req.room, req.seq, read=False)

    async def read(self, req: f.Read, reply: Reply) -> None:
        await self._cursor(req.room, req.seq, read=True)
        self.s.bus.to_users((self.me,), ReadMoved(req.room, req.seq))  # my devices on other processes

    async def typing(self, req: f.Typing, reply: Reply) -> None:
        await self._member_of(req.room, "typing: ")
        self.s.rooms.tell(req.room, TypingNow(self.device, req.active))  # best-effort: dropped if overloaded

    async def mute(self, req: f.Mute, reply: Reply) -> None:
        if not await self.s.store.set_muted(self.me, req.room, req.muted):
            raise Refusal(ErrorCode.NOT_FOUND, f"you are not a member of room {req.room}")
        await self.s.users.put(self.me, MuteChanged(req.room, req.muted))
        self.s.bus.to_users((self.me,), MuteChanged(req.room, req.muted))
        reply.send(f.Ok(id=req.id))

    async def settings(self, req: f.Settings, reply: Reply) -> None:
        if req.read_receipts is not None:
            await self.s.store.set_read_receipts(self.me, req.read_receipts)
            await self.s.users.put(self.me, SettingsChanged(req.read_receipts))
            self.s.bus.to_users((self.me,), SettingsChanged(req.read_receipts))
        reply.send(f.Ok(id=req.id))

    async def history(self, req: f.History, reply: Reply) -> None:
        messages, has_more = await self.s.store.history(self.me, req.room, req.before_seq, req.limit)
        reply.send(f.HistoryPage(id=req.id, room=req.room, messages=messages, has_more=has_more))
