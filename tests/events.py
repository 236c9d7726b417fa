"""Reading a room's system events from a client, one at a time, whatever way the server batched them."""

from __future__ import annotations

from typing import Any

import trio

from chatd.clients.ws import ChatClient
from chatd.protocol import frames as f


class Events:
    """Messages a client received but the test has not looked at yet, per client."""

    def __init__(self) -> None:
        self.waiting: dict[int, list[f.Message]] = {}

    async def next(self, client: ChatClient, room: int, kind: str) -> tuple[f.Message, dict[str, Any]]:
        """The next system message of type `kind` in `room` (acking as it goes), and its event."""
        waiting = self.waiting.setdefault(id(client), [])
        while True:
            if not waiting:
                waiting.extend(await client.collect(room, 1))
            msg = waiting.pop(0)
            if msg.kind == "system" and msg.event and msg.event["type"] == kind:
                return msg, msg.event


async def delivered_until(client: ChatClient, user: int, seq: int) -> f.Status:
    """The first `status` saying `user` has `seq` (others are dropped); within 5 s."""
    with trio.fail_after(5):
        while True:
            status = await client.next_of(f.Status)
            if status.user == user and status.delivered_seq >= seq:
                return status
