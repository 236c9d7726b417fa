"""What an operator can do to the live node: restart an actor, stop an idle room, disconnect or disable a user.

Each action answers a JSON-ready dict or raises Refusal (the HTTP side maps its code to a status).
"""

from __future__ import annotations

import logging
from typing import Any

import trio

from chatd.actors.directory import RoomDirectory, UserDirectory
from chatd.actors.items import CloseDevices
from chatd.admin.context import AdminContext
from chatd.persistence.admin import UserRow
from chatd.protocol.errors import CloseCode, ErrorCode, Refusal
from chatd.supervisor import current_child

log = logging.getLogger("chatd.admin")

SECOND_SWEEP_SECONDS = 1.0  # a hello that read the account just before it was disabled is caught by this

Json = dict[str, Any]


def directory(ctx: AdminContext, kind: str) -> RoomDirectory | UserDirectory:
    if kind == "room":
        return ctx.rooms
    if kind == "user":
        return ctx.users
    raise Refusal(ErrorCode.NOT_FOUND, f"no actor kind {kind!r} (room or user)")


def restart_actor(ctx: AdminContext, kind: str, key: int, by: str) -> Json:
    """Crash actor `key` on purpose (a Crash item through its mailbox, after what is already queued).

    Room actors are transient: the supervisor restarts them, they reload from Postgres and keep their mailbox.
    User actors are temporary: their devices are closed with 1012 and reconnect into a fresh actor.
    """
    found = directory(ctx, kind)
    if not found.is_online(key):
        raise Refusal(ErrorCode.NOT_FOUND, f"no {kind} actor {key} is running on this node")
    if not found.inject_crash(key, f"restart requested by admin {by}"):
        raise Refusal(ErrorCode.CONFLICT, f"{kind} actor {key}: mailbox full or closing, try again")
    log.warning("admin %s: restart %s actor %s", by, kind, key, extra={kind: key, "admin": by})
    return {"kind": kind, "id": key, "actor": found.child_name(key), "restarting": True}


def stop_room(ctx: AdminContext, room: int, by: str) -> Json:
    """Stop an idle room actor now (it loads again from Postgres on its next request)."""
    if not ctx.rooms.is_online(room):
        raise Refusal(ErrorCode.NOT_FOUND, f"no room actor {room} is running on this node")
    name = ctx.rooms.child_name(room)
    if not ctx.rooms.retire(room):
        raise Refusal(ErrorCode.CONFLICT, f"room {room} is busy (requests queued or being committed)")
    log.warning("admin %s: stopped room actor %s", by, room, extra={"room": room, "admin": by})
    return {"room": room, "actor": name, "stopped": True}


def close_devices(ctx: AdminContext, user: int, code: CloseCode, reason: str) -> int:
    """Close every open connection of `user` on this node (after the frames already queued for it), and tell
    the other processes to close theirs (over the bus: at most once, hence the admin's second sweep here and
    the account check at every hello and token refresh there). Returns how many were closed here."""
    closing = [d for d in ctx.gateway.devices if d.user_id == user and not d.closed]
    for device in closing:
        device.kill(code, reason)
    ctx.rooms.bus.to_users([user], CloseDevices(code, reason))
    return len(closing)


def disconnect_user(ctx: AdminContext, user: UserRow, by: str) -> Json:
    closed = close_devices(ctx, user.id, CloseCode.DISCONNECTED, "disconnected by an administrator")
    log.warning("admin %s: disconnected user %s (%d connections)", by, user.username, closed,
                extra={"user": user.id, "admin": by})
    return {"user": user.id, "username": user.username, "closed_connections": closed}


async def disable_user(ctx: AdminContext, user: UserRow, by: str, by_id: int) -> Json:
    """Disable the account: refresh tokens revoked, live connections closed (4003), hello and HTTP refused."""
    if user.id == by_id:
        raise Refusal(ErrorCode.CONFLICT, "you cannot disable your own account")
    revoked = await ctx.store.set_disabled(user.id, True)
    closed = close_devices(ctx, user.id, CloseCode.DISABLED, "account disabled")
    if ctx.nursery is not None:
        ctx.nursery.start_soon(_sweep_again, ctx, user.id)
    log.warning("admin %s: disabled user %s (%d refresh tokens revoked, %d connections closed)", by,
                user.username, revoked, closed, extra={"user": user.id, "admin": by})
    return {"user": user.id, "username": user.username, "disabled": True, "revoked_refresh_tokens": revoked,
            "closed_connections": closed}


async def _sweep_again(ctx: AdminContext, user: int) -> None:
    """A hello may have checked the account just before the update and attached just after the first sweep."""
    current_child.set(None)
    await trio.sleep(SECOND_SWEEP_SECONDS)
    if await ctx.store.active_username(user) is None \
            and close_devices(ctx, user, CloseCode.DISABLED, "account disabled"):
        log.warning("admin: closed a connection of disabled user %s that raced the disable", user,
                    extra={"user": user})


async def enable_user(ctx: AdminContext, user: UserRow, by: str) -> Json:
    await ctx.store.set_disabled(user.id, False)
    log.warning("admin %s: enabled user %s", by, user.username, extra={"user": user.id, "admin": by})
    return {"user": user.id, "username": user.username, "disabled": False}
