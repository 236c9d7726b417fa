"""Requests about one's own sessions and account (docs/protocol.md 3.8): list devices, sign some out, change the
password (the other devices are signed out), delete the account (it leaves its groups; its messages stay)."""

from __future__ import annotations

import trio

from chatd.actors.device import Device
from chatd.actors.items import ChangeMembers
from chatd.actors.reply import Reply
from chatd.auth.passwords import check_password_rules
from chatd.gateway.context import Context
from chatd.gateway.password_checks import check_password, hash_password
from chatd.gateway.sessions import close_revoked
from chatd.protocol import devices as d
from chatd.protocol import frames as f
from chatd.protocol.errors import CloseCode, ErrorCode, Refusal

LEAVE_TIMEOUT = 10.0  # seconds the groups of a deleted account have to commit its departure


async def list_devices(cx: Context, req: d.ListDevices, reply: Reply) -> None:
    reply.send(d.Devices(id=req.id, devices=await cx.services.store.list_devices(cx.me, cx.device.session)))


async def logout_devices(cx: Context, req: d.LogoutDevices, reply: Reply) -> None:
    if (req.device is None) == (not req.others):
        raise Refusal(ErrorCode.BAD_REQUEST, "logout_devices needs either 'device' or 'others: true'")
    if req.device is not None:
        revoked = await cx.services.store.revoke_devices(cx.me, only=req.device.lower())
        if not revoked.devices:
            raise Refusal(ErrorCode.NOT_FOUND, f"you have no signed-in device {req.device}")
    else:
        revoked = await cx.services.store.revoke_devices(cx.me, keep=cx.device.session)
    reply.send(d.LoggedOut(id=req.id, devices=list(revoked.devices)))  # before this socket may close
    await close_revoked(cx.services, revoked, "signed out from another device")


async def _password_ok(cx: Context, password: str, username: str | None = None) -> None:
    """Refuse a wrong password, behind the login throttle of this account's username (its failures count
    with those of `login`: the password must not be guessable through this either)."""
    if username is None:
        username = (await cx.services.store.usernames([cx.me])).get(cx.me, "")
    stored = await cx.services.store.password_hash(cx.me)
    await check_password(cx.services, username, cx.address, stored, password, "wrong password")


async def change_password(cx: Context, req: d.ChangePassword, reply: Reply) -> None:
    username = (await cx.services.store.usernames([cx.me])).get(cx.me, "")
    problem = check_password_rules(username, req.new_password)
    if problem:
        raise Refusal(ErrorCode.BAD_REQUEST, f"new_password: {problem}")
    await _password_ok(cx, req.old_password, username)
    new_hash = await hash_password(cx.services, cx.address, req.new_password)
    revoked = await cx.services.store.change_password(cx.me, new_hash, keep=cx.device.session)
    await close_revoked(cx.services, revoked, "password changed")
    reply.send(f.Ok(id=req.id))


async def delete_account(cx: Context, req: d.DeleteAccount, reply: Reply) -> None:
    await _password_ok(cx, req.password)
    await _leave_groups(cx)
    revoked = await cx.services.store.delete_account(cx.me)
    reply.send(f.Ok(id=req.id))
    await close_revoked(cx.services, revoked, "account deleted", CloseCode.DISABLED)


async def _leave_groups(cx: Context) -> None:
    """Leave every group as a member leaving would (ownership passes on, members see "X left"), through the
    room actors; their replies go to a private outbox, not to the client."""
    rooms = await cx.services.store.current_groups(cx.me)
    if not rooms:
        return
    send, replies = trio.open_memory_channel[f.Frame](2 * len(rooms) + 8)
    proxy = Device(cx.me, send, session=cx.device.session)
    for room in rooms:
        await cx.services.rooms.put(room, ChangeMembers(Reply(proxy, 0), "leave"))
    answered = 0
    with trio.move_on_after(LEAVE_TIMEOUT):
        async for frame in replies:  # one `ok` or `error` per room (anything else is not an answer)
            answered += isinstance(frame, f.Ok | f.Error)
            if answered == len(rooms):
                break
