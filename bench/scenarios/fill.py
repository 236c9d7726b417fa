"""Filling a room with N messages as fast as chatd takes them (for backlog and history)."""

from __future__ import annotations

import time

from bench import wire
from bench.pool import SENT
from bench.systems import ChatdSystem

WINDOW = 500  # sends in flight


def fill(system: ChatdSystem, sender: int, room: int, count: int) -> tuple[int, float, dict[str, int]]:
    """Send `count` messages from `sender`; returns (stored, seconds, errors)."""
    started = time.monotonic()
    (reply,) = system.pool.run([(system.pool.worker_of(sender), "send_plan", {
        "plan": [(sender, room, 1e9, count)], "start_at": time.monotonic(), "kind": wire.FILL, "window": WINDOW,
        "settle_s": 30.0})], f"filling room with {count} messages", total=count, slot=SENT)
    return sum(reply["sent"].values()), time.monotonic() - started, reply["errors"]
