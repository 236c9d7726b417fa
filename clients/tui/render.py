"""How the terminal client writes rooms and messages (pure functions of SDK data)."""

from __future__ import annotations

import time
from collections.abc import Mapping

from clients.sdk.receipts import TICK_MARKS, Tick
from protocol import frames as f

SYSTEM_TEXT = {"created": "created the chat", "member_added": "added {user}", "member_removed": "removed {user}",
               "member_left": "left", "member_joined": "joined by invite", "owner_changed": "made {user} owner",
               "role_changed": "made {user} {role}", "room_updated": "changed the room settings",
               "message_edited": "edited a message", "message_deleted": "deleted a message",
               "member_banned": "banned {user}", "member_unbanned": "unbanned {user}"}


def who(user: int | None, names: Mapping[int, str]) -> str:
    return names.get(user, f"user {user}") if user is not None else "?"


def message_line(m: f.Message, me: int | None, names: Mapping[int, str], tick: Tick | None = None) -> str:
    clock = time.strftime("%H:%M", time.localtime(m.ts / 1000)) if m.ts else "--:--"
    if m.kind == "system":
        event = m.event or {}
        actor = who(event.get("by") or event.get("user"), names)
        text = SYSTEM_TEXT.get(str(event.get("type")), str(event.get("type")))
        return f"{clock}  * {actor} {text.format(user=who(event.get('user'), names), role=event.get('role'))}"
    if m.deleted:
        body = "(deleted)"
    else:
        body = m.body or ""
        if m.media is not None:
            label = f"[{m.kind}: {m.media.file_name or m.media.id}, {m.media.size} bytes]"
            body = f"{label} {body}".strip()
        if m.edited_ts:
            body += " (edited)"
    sender = "me" if m.sender == me else who(m.sender, names)
    mark = f"  {TICK_MARKS[tick]}" if tick and m.sender == me else ""
    return f"{clock}  {sender}: {body}{mark}"


def room_title(room: f.RoomSummary | f.RoomInfo, names: Mapping[int, str], me: int | None = None) -> str:
    if room.name:
        return room.name
    peer = getattr(room, "peer", None) or next((m.user for m in getattr(room, "members", []) if m.user != me), None)
    return who(peer, names)


def room_line(room: f.RoomSummary, names: Mapping[int, str], online: bool | None) -> str:
    dot = "● " if online else "○ " if online is False else "  "
    badges = (f" ({room.unread})" if room.unread else "") + (f" @{room.mentions}" if room.mentions else "")
    return f"{dot}{room_title(room, names)}{badges}"
