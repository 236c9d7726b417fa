"""Delivery ticks for your own messages, from the per-recipient cursors the server reports (`status`)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Literal

Tick = Literal["pending", "sent", "delivered", "read"]
TICK_MARKS: dict[Tick, str] = {"pending": "…", "sent": "✓", "delivered": "✓✓", "read": "✓✓ read"}


def tick(seq: int | None, recipients: Iterable[int], cursors: Mapping[int, tuple[int, int]]) -> Tick:
    """`pending` until stored, then `sent`; `delivered` / `read` once every recipient's delivered / read
    cursor reaches `seq` (recipients unknown: everyone the server reported on)."""
    if seq is None:
        return "pending"
    people = list(recipients) or list(cursors)
    if not people:
        return "sent"
    states = [cursors.get(user, (0, 0)) for user in people]
    if all(read >= seq for _, read in states):
        return "read"
    if all(delivered >= seq for delivered, _ in states):
        return "delivered"
    return "sent"
