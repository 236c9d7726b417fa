"""How the terminal client writes rooms and messages (pure functions of SDK data).

Every line is a rich Text built by `clients.literal`: bodies, names and file names are shown as typed,
never read as markup (the app puts nothing else into its widgets).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping

from msgspec import structs
from rich.text import Text

from chatd.clients.literal import Part, literal
from chatd.clients.sdk.events import SessionEnded
from chatd.clients.sdk.receipts import TICK_MARKS, Tick
from chatd.protocol import frames as f

SYSTEM_TEXT = {"created": "created the chat", "member_added": "added {user}", "member_removed": "removed {user}",
               "member_left": "left", "member_joined": "joined by invite", "owner_changed": "made {user} owner",
               "role_changed": "made {user} {role}", "room_updated": "changed the room settings",
               "message_edited": "edited a message", "message_deleted": "deleted a message",
               "member_banned": "banned {user}", "member_unbanned": "unbanned {user}"}
HIDDEN_EVENTS = ("message_edited", "message_deleted", "reaction_added", "reaction_removed")
LOCK = "🔒"
WAITING = f"{LOCK} waiting for this message's key"  # an encrypted message this device cannot read (yet)
UNDECRYPTABLE = f"{LOCK} unable to decrypt"  # ... and nothing that could bring its key has it
LOCKED = f"{LOCK} locked: /unlock with your password to read"  # encryption is not unlocked on this device
PLAIN_KINDS = ("text", "image", "video", "audio", "file")


def who(user: object, names: Mapping[int, str]) -> str:
    if not isinstance(user, int):
        return "?"
    return names.get(user, f"user {user}")


def clock(ts_ms: int | None) -> str:
    try:
        return time.strftime("%H:%M", time.localtime(ts_ms / 1000)) if ts_ms else "--:--"
    except (OverflowError, OSError, ValueError):  # a time no calendar holds
        return "--:--"


def readable(m: f.Message, content: Mapping[str, object] | None) -> f.Message:
    """An encrypted message as if it had been sent in clear, from its decrypted `content` (docs/e2ee.md §3):
    every line, quote and preview then reads it like any other. Unchanged when there is no content."""
    if m.kind != "encrypted" or content is None or m.deleted:
        return m
    kind = content.get("kind") if content.get("kind") in PLAIN_KINDS else "text"
    body = content.get("body") if isinstance(content.get("body"), str) else ""
    media = content.get("media")
    if isinstance(media, dict):  # an encrypted file (the web client sends them): named, not fetched here
        body = f"[{kind}: {media.get('name') or 'file'}, {media.get('size', '?')} bytes] {body}".strip()
    return structs.replace(m, kind=kind, body=body)


def message_line(m: f.Message, me: int | None, names: Mapping[int, str], tick: Tick | None = None,
                 quoted: f.Message | None = None, locked: str = WAITING) -> Text:
    """A message as the conversation shows it: the message it answers quoted above it (`quoted`, when the
    client holds it), the reactions under it. An encrypted message not decrypted (see `readable`) shows
    `locked` (why it cannot be read) instead of a body."""
    at = clock(m.ts)
    if m.kind == "system":
        event = m.event or {}
        actor = who(event.get("by") or event.get("user"), names)
        kind = str(event.get("type"))
        template = SYSTEM_TEXT.get(kind)  # only our own templates are formatted: an unknown type is shown as is
        text = template.format(user=who(event.get("user"), names), role=event.get("role")) if template else kind
        return literal(f"{at}  * ", (actor, "bold"), " ", text)
    sender = "me" if m.sender == me else who(m.sender, names)
    quote = literal(("       ┌ " + quote_text(quoted, me, names) + "\n", "dim")) if m.reply_to else literal()
    if m.deleted:
        return quote + literal(f"{at}  ", (sender, "bold"), ": ", ("message deleted", "italic dim"))
    if m.kind == "encrypted":
        line = literal(f"{at}  ", (sender, "bold"), ": ", (locked, "italic dim"))
        return quote + line + reaction_line(m.reactions, me)
    body = m.body or ""
    if m.media is not None:
        label = f"[{m.kind}: {m.media.file_name or m.media.id}, {m.media.size} bytes]"
        body = f"{label} {body}".strip()
    mark = f"  {TICK_MARKS[tick]}" if tick and m.sender == me else ""
    line = literal(f"{at}  ", (sender, "bold"), f": {body}", (" (edited)" if m.edited_ts else "", "dim"), mark)
    return quote + line + reaction_line(m.reactions, me)


def quote_text(quoted: f.Message | None, me: int | None, names: Mapping[int, str]) -> str:
    if quoted is None:
        return "an earlier message"
    if quoted.kind == "encrypted" and not quoted.deleted:
        return f"{'me' if quoted.sender == me else who(quoted.sender, names)}: {LOCK}"
    return f"{'me' if quoted.sender == me else who(quoted.sender, names)}: {preview(quoted)}"


def reaction_line(reactions: Iterable[f.Reaction] | None, me: int | None) -> Text:
    """`👍 2  ❤️ 1` under a message, the ones I put there in bold; nothing when there are none."""
    parts: list[Part] = []
    for r in reactions or ():
        parts += ["  " if parts else "\n       ", (f"{r.emoji} {len(r.users)}", "bold" if me in r.users else "")]
    return literal(*parts)


def is_shown(m: f.Message) -> bool:
    """Edit, delete and reaction events change the message they target and get no line of their own."""
    return not (m.kind == "system" and (m.event or {}).get("type") in HIDDEN_EVENTS)


def room_title(room: f.RoomSummary | f.RoomInfo, names: Mapping[int, str], me: int | None = None) -> str:
    if room.name:
        return room.name
    peer = getattr(room, "peer", None) or next((m.user for m in getattr(room, "members", []) if m.user != me), None)
    return who(peer, names)


def room_line(room: f.RoomSummary, names: Mapping[int, str], online: bool | None) -> Text:
    dot = "● " if online else "○ " if online is False else "  "
    badges = (f" ({room.unread})" if room.unread else "") + (f" @{room.mentions}" if room.mentions else "")
    return literal(dot, room_title(room, names), f" {LOCK}" if room.encrypted else "", badges)


def title_line(info: f.RoomInfo, names: Mapping[int, str], me: int | None, peer_online: bool | None) -> Text:
    """The open conversation's heading: its name, a lock if it is end-to-end encrypted, and for a direct room
    whether the peer is online."""
    state = "" if peer_online is None else "  · online" if peer_online else "  · offline"
    return literal((room_title(info, names, me), "bold"), f"  {LOCK} encrypted" if info.encrypted else "", state)


def typing_line(people: Iterable[str]) -> Text:
    who_types = list(people)
    return literal(f"{', '.join(who_types)} typing…" if who_types else "")


def preview(m: f.Message, width: int = 60) -> str:
    """One line of a message for a question or a mode line: its body (or file name), cut at `width`."""
    if m.deleted:
        return "message deleted"
    if m.kind == "encrypted":
        return LOCK
    text = " ".join(((m.media.file_name or m.kind) if m.media else "").split() + (m.body or "").split())
    return text if len(text) <= width else text[:width - 1] + "…"


def ended_text(event: SessionEnded) -> str:
    """Why the session ended and what to do, for the sign-in screen."""
    if event.account_closed:
        return ("This account was disabled by an administrator or deleted, so it cannot sign in "
                "(ask your administrator).")
    if event.device_signed_out:
        return ("This device was signed out (a logout, a password change, or from another device). "
                "Log in again.")
    return f"Your session ended ({event.reason}). Log in again."
