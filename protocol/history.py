"""What a member may see of a room's history, as a pure function over messages.

In a room whose history_visibility is `joined`, a member sees nothing from before they joined. A
`message_edited` event carries the new body of its target, so when the target is older than what the
member may see, the body is left out of the event (the event itself stays: seqs remain gap-free).
"""

from __future__ import annotations

from dataclasses import replace

from protocol.frames import Message


def lowest_visible(visibility: str, joined_seq: int) -> int:
    """The first seq a member who joined at `joined_seq` may read."""
    return 1 if visibility == "shared" else joined_seq


def redacted(message: Message, lowest: int) -> Message:
    """`message` as a member whose history starts at `lowest` may see it."""
    event = message.event
    if event is None or event.get("type") != "message_edited" or "body" not in event:
        return message
    target = event.get("target")
    if isinstance(target, int) and target >= lowest:
        return message
    return replace(message, event={k: v for k, v in event.items() if k != "body"})
