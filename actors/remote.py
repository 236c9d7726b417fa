"""What a room actor makes of messages another process stored in its room (pure, no I/O).

The room actor's state (members, roles, settings) reflects every system message up to its `last_seq`:
that only moves by a load from Postgres, by the actor's own commits (which fail with StaleRoom if a
system message came in between), or through news it has taken in order. News from the bus may come
late, out of order, or not at all; so the state must be reloaded when the news holds a system message
past `last_seq` (but an edit, delete or reaction, which changes nothing it keeps), or leaves a gap after
it (the gap may hide one). Older news is fanned out as it is.
"""

from __future__ import annotations

from dataclasses import dataclass

from chatd.protocol.frames import Message
from chatd.protocol.history import MESSAGE_EVENTS


def about_a_message(msg: Message) -> bool:
    """An edit, delete or reaction: it changes nothing the room actor keeps."""
    return (msg.event or {}).get("type") in MESSAGE_EVENTS


@dataclass(frozen=True, slots=True)
class RemoteNews:
    messages: list[Message]  # by seq, each once
    stale: bool  # reload the room's state before fanning these out
    changed: set[int]  # users whose membership these messages change
    last_seq: int  # the actor's contiguous view after them (when not stale)


def remote_news(last_seq: int, messages: list[Message]) -> RemoteNews:
    ordered = sorted({m.seq: m for m in messages}.values(), key=lambda m: m.seq)
    stale, changed, seen = False, set(), last_seq
    for msg in ordered:
        if msg.seq > last_seq:
            stale = stale or msg.seq > seen + 1 or (msg.kind == "system" and not about_a_message(msg))
            seen = msg.seq
        if msg.kind == "system":
            event = msg.event or {}
            if isinstance(event.get("user"), int):
                changed.add(event["user"])
            changed.update(u for u in event.get("members") or () if isinstance(u, int))
    return RemoteNews(ordered, stale, changed, seen)
