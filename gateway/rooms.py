"""Room requests: direct and group rooms, membership and roles, room settings, per-user room settings.

Membership and settings changes go to the room's actor with the reply handle (it decides who may, and answers
`ok` once the change is committed); the rest is answered here from Postgres.
"""

from __future__ import annotations

from chatd.actors.items import ChangeMembers, MemberAction, MembershipChanged, MuteChanged, SettingsChanged, UpdateRoom
from chatd.actors.reply import Reply
from chatd.gateway.checks import check_picture, resolve, to_room
from chatd.gateway.context import Context
from chatd.protocol import frames as f
from chatd.protocol.errors import ErrorCode, Refusal
from chatd.protocol.rooms import GrantableRole, room_changes


async def _room_reply(cx: Context, req_id: int, room_id: int, notify: list[int]) -> f.Frame:
    for uid in notify:
        cx.services.users.offer(uid, MembershipChanged(room_id))
    cx.services.bus.to_users(notify, MembershipChanged(room_id))
    info = await cx.services.store.room_info(room_id)
    if info is None:
        raise Refusal(ErrorCode.NOT_FOUND, f"room {room_id} does not exist")
    return f.Room(id=req_id, room=info)


async def open_direct(cx: Context, req: f.OpenDirect, reply: Reply) -> None:
    (peer,) = await resolve(cx, [req.user])
    if peer == cx.me:
        raise Refusal(ErrorCode.BAD_REQUEST, "a direct chat needs another user")
    room_id, created = await cx.services.store.get_or_create_direct(cx.me, peer, req.encrypted)
    reply.send(await _room_reply(cx, req.id, room_id, [cx.me, peer] if created else []))


async def create_group(cx: Context, req: f.CreateGroup, reply: Reply) -> None:
    members = [u for u in await resolve(cx, list(req.members or [])) if u != cx.me]
    room_id = await cx.services.store.create_group(cx.me, req.name, members, req.history_visibility, req.encrypted)
    reply.send(await _room_reply(cx, req.id, room_id, [cx.me, *members]))


async def get_room(cx: Context, req: f.GetRoom, reply: Reply) -> None:
    if not await cx.services.store.was_member(cx.me, req.room):
        raise Refusal(ErrorCode.NOT_FOUND, f"room {req.room} does not exist or you were never in it")
    reply.send(await _room_reply(cx, req.id, req.room, []))


async def list_rooms(cx: Context, req: f.ListRooms, reply: Reply) -> None:
    reply.send(f.Rooms(id=req.id, rooms=await cx.services.store.list_rooms(cx.me)))


async def add_members(cx: Context, req: f.AddMembers, reply: Reply) -> None:
    users = await resolve(cx, list(req.users))
    await to_room(cx, req.room, ChangeMembers(reply, "add", tuple(users)))


async def _change_one(cx: Context, reply: Reply, room: int, action: MemberAction, user: int | str,
                      role: GrantableRole | None = None, revoke_invites: bool = False) -> None:
    users = await resolve(cx, [user])
    await to_room(cx, room, ChangeMembers(reply, action, tuple(users), role, revoke_invites))


async def remove_member(cx: Context, req: f.RemoveMember, reply: Reply) -> None:
    await _change_one(cx, reply, req.room, "remove", req.user, revoke_invites=req.revoke_invites)


async def ban(cx: Context, req: f.Ban, reply: Reply) -> None:
    await _change_one(cx, reply, req.room, "ban", req.user)


async def unban(cx: Context, req: f.Unban, reply: Reply) -> None:
    await _change_one(cx, reply, req.room, "unban", req.user)


async def set_role(cx: Context, req: f.SetRole, reply: Reply) -> None:
    await _change_one(cx, reply, req.room, "set_role", req.user, req.role)


async def transfer_ownership(cx: Context, req: f.TransferOwnership, reply: Reply) -> None:
    await _change_one(cx, reply, req.room, "transfer", req.user)


async def leave(cx: Context, req: f.Leave, reply: Reply) -> None:
    await to_room(cx, req.room, ChangeMembers(reply, "leave"))


async def update_room(cx: Context, req: f.UpdateRoom, reply: Reply) -> None:
    changes = room_changes(req.name, req.description, req.icon, req.history_visibility, req.encrypted)
    await check_picture(cx, "icon", req.icon)
    await to_room(cx, req.room, UpdateRoom(reply, changes))


async def mute(cx: Context, req: f.Mute, reply: Reply) -> None:
    if not await cx.services.store.set_muted(cx.me, req.room, req.muted):
        raise Refusal(ErrorCode.NOT_FOUND, f"you are not a member of room {req.room}")
    await cx.services.users.put(cx.me, MuteChanged(req.room, req.muted))
    cx.services.bus.to_users((cx.me,), MuteChanged(req.room, req.muted))
    reply.send(f.Ok(id=req.id))


async def settings(cx: Context, req: f.Settings, reply: Reply) -> None:
    if req.read_receipts is not None:
        await cx.services.store.set_read_receipts(cx.me, req.read_receipts)
        await cx.services.users.put(cx.me, SettingsChanged(req.read_receipts))
        cx.services.bus.to_users((cx.me,), SettingsChanged(req.read_receipts))
    reply.send(f.Ok(id=req.id))
