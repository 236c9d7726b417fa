"""Requests about one's own sessions and account (docs/protocol.md 3.8): list devices, sign some out, change the
password (the other devices are signed out), delete the account (it leaves its groups; its messages stay)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import trio

from chatd.actors.device import Device
from chatd.actors.items import ChangeMembers
from chatd.actors.reply import Reply
from chatd.auth.passwords import check_password_rules
from chatd.gateway.errors import Handler
from chatd.gateway.password_checks import check_password, hash_password
from chatd.gateway.sessions import close_revoked
from chatd.protocol import devices as d
from chatd.protocol import frames as f
from chatd.protocol.errors import CloseCode, ErrorCode, Refusal

if TYPE_CHECKING:
    from chatd.gateway.handlers import Handlers

LEAVE_TIMEOUT = 10.0  # seconds the groups of a deleted account have to commit its departure


class DeviceHandlers:
    def __init__(self, h: Handlers) -> None:
        self.h = h
        self.s = h.s
        self.table: dict[type[f.Frame], Handler] = {
            d.ListDevices: self.list_devices, d.LogoutDevices: self.logout_devices,
            d.ChangePassword: self.change_password, d.DeleteAccount: self.delete_account}

    @property
    def session(self) -> str:
        return self.h.device.session

    async def list_devices(self, req: d.ListDevices, reply: Reply) -> None:
        reply.send(d.Devices(id=req.id, devices=await self.s.store.list_devices(self.h.me, self.session)))

    async def logout_devices(self, req: d.LogoutDevices, reply: Reply) -> None:
        if (req.device is None) == (not req.others):
            raise Refusal(ErrorCode.BAD_REQUEST, "logout_devices needs either 'device' or 'others: true'")
        if req.device is not None:
            revoked = await self.s.store.revoke_devices(self.h.me, only=req.device.lower())
            if not revoked.devices:
                raise Refusal(ErrorCode.NOT_FOUND, f"you have no signed-in device {req.device}")
        else:
            revoked = await self.s.store.revoke_devices(self.h.me, keep=self.session)
        reply.send(d.LoggedOut(id=req.id, devices=list(revoked.devices)))  # before this socket may close
        await close_revoked(self.s, revoked, "signed out from another device")

    async def _password_ok(self, password: str, username: str | None = None) -> None:
        """Refuse a wrong password, behind the login throttle of this account's username (its failures count
        with those of `login`: the password must not be guessable through this either)."""
        if username is None:
            username = (await self.s.store.usernames([self.h.me])).get(self.h.me, "")
        stored = await self.s.store.password_hash(self.h.me)
        await check_password(self.s, username, self.h.address, stored, password, "wrong password")

    async def change_password(self, req: d.ChangePassword, reply: Reply) -> None:
        username = (await self.s.store.usernames([self.h.me])).get(self.h.me, "")
        problem = check_password_rules(username, req.new_password)
        if problem:
            raise Refusal(ErrorCode.BAD_REQUEST, f"new_password: {problem}")
        await self._password_ok(req.old_password, username)
        new_hash = await hash_password(self.s, self.h.address, req.new_password)
        revoked = await self.s.store.change_password(self.h.me, new_hash, keep=self.session)
        await close_revoked(self.s, revoked, "password changed")
        reply.send(f.Ok(id=req.id))

    async def delete_account(self, req: d.DeleteAccount, reply: Reply) -> None:
        await self._password_ok(req.password)
        await self._leave_groups()
        revoked = await self.s.store.delete_account(self.h.me)
        reply.send(f.Ok(id=req.id))
        await close_revoked(self.s, revoked, "account deleted", CloseCode.DISABLED)

    async def _leave_groups(self) -> None:
        """Leave every group as a member leaving would (ownership passes on, members see "X left"), through the
        room actors; their replies go to a private outbox, not to the client."""
        rooms = await self.s.store.current_groups(self.h.me)
        if not rooms:
            return
        send, replies = trio.open_memory_channel[f.Frame](2 * len(rooms) + 8)
        proxy = Device(self.h.me, send, session=self.session)
        for room in rooms:
            await self.s.rooms.put(room, ChangeMembers(Reply(proxy, 0), "leave"))
        answered = 0
        with trio.move_on_after(LEAVE_TIMEOUT):
            async for reply in replies:  # one `ok` or `error` per room (anything else is not an answer)
                answered += isinstance(reply, f.Ok | f.Error)
                if answered == len(rooms):
                    break
