"""What a member may see of a room's history, as pure functions over messages: the one place of the rule.

`history_visibility` applies as it was when each message was sent (as in Matrix): the room keeps a log of
its settings by seq (`VisibilityLog`: each entry holds from its seq on, the first one from seq 1). A member
who joined at `joined_seq` may read every seq from their join on, and each earlier seq that was sent while
the room was `shared`; a former member nothing after their removal (`upto`). Switching `joined` ->
`shared` therefore opens the messages from then on, not the ones before; `shared` -> `joined` closes the
messages from then on to later joiners, not the ones before.

A `message_edited` event carries the new body of its target and a reaction event its emoji, so when the
target is not readable to the member, that is left out of the event (the event itself stays: seqs remain
gap-free).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass

from msgspec import structs

from chatd.protocol.frames import Message
from chatd.protocol.rooms import Visibility

VisibilityLog = Sequence[tuple[int, Visibility]]  # (from_seq, visibility), ascending by seq


def visibility_at(log: VisibilityLog, seq: int) -> Visibility:
    """The history_visibility in force when message `seq` was sent (`joined` before the log starts)."""
    i = bisect_right([s for s, _ in log], seq)
    return log[i - 1][1] if i else "joined"


@dataclass(frozen=True, slots=True)
class Window:
    """The seqs a member may read: disjoint inclusive ranges, ascending (possibly none)."""

    ranges: tuple[tuple[int, int], ...]

    def __contains__(self, seq: object) -> bool:
        return isinstance(seq, int) and any(lo <= seq <= hi for lo, hi in self.ranges)

    @property
    def lowest(self) -> int | None:
        return self.ranges[0][0] if self.ranges else None

    def below(self, before: int) -> Window:
        """Only the seqs lower than `before`."""
        return Window(tuple((lo, min(hi, before - 1)) for lo, hi in self.ranges if lo < before))


def readable(log: VisibilityLog, joined_seq: int, upto: int) -> Window:
    """What a member who joined at `joined_seq` and is owed up to `upto` may read (see the module doc)."""
    ranges: list[tuple[int, int]] = []

    def add(lo: int, hi: int) -> None:
        if lo > hi:
            return
        if ranges and ranges[-1][1] >= lo - 1:
            lo = ranges.pop()[0]
        ranges.append((lo, hi))

    for i, (start, visibility) in enumerate(log):
        if start >= joined_seq or start > upto:
            break
        end = log[i + 1][0] - 1 if i + 1 < len(log) else joined_seq - 1
        if visibility == "shared":
            add(max(start, 1), min(end, joined_seq - 1, upto))
    add(joined_seq, upto)
    return Window(tuple(ranges))


# System messages about one message: they change no membership or setting, so they never make a room
# actor's view of the room stale (persistence/messages.py, actors/remote.py)
MESSAGE_EVENTS = ("message_edited", "message_deleted", "reaction_added", "reaction_removed")

# What an event about another message tells of it, by event type
TELLS = {"message_edited": "body", "reaction_added": "emoji", "reaction_removed": "emoji"}


def may_tell(message: Message) -> bool:
    """Whether `message` is an event that tells something of its target (which the reader may not read)."""
    return message.event is not None and message.event.get("type") in TELLS


def redacted(message: Message, window: Window) -> Message:
    """`message` as a member who may read `window` may see it."""
    event = message.event
    if event is None or event.get("target") in window:
        return message
    hidden = TELLS.get(event.get("type", ""))
    if hidden is None or hidden not in event:
        return message
    return structs.replace(message, event={k: v for k, v in event.items() if k != hidden})
