"""CursorWriter: the one actor per node that stores delivered_seq / read_seq, for every user at once.

User actors coalesce their own acks and hand the result here (`SaveCursors`, without waiting). The writer
is a group commit: it takes everything waiting in its mailbox, merges it (the highest seq per user and
room), writes each column with a single UPDATE, and while that runs the next batch gathers. So a busy
node makes one statement per round trip instead of one per user. After a write it tells the rooms
(`CursorMoved`) so that senders get `status` frames: the room's actors on other processes always (over
the bus), the one here for reads (a delivery ack reached it from the user actor already, actors/user.py).
A failed write keeps the moves and retries; a full mailbox makes the user actor keep its moves and offer
them again on its next tick (or, on its way out, wait for room: this writer stops after the user actors).

Cursors are resume hints, not the messages themselves: what a crash of this actor can lose is its last
unwritten batch, and then a device that reconnects without its own cursors gets those messages again.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass

import trio

from chatd.actors.items import CursorMoved, SaveCursors
from chatd.actors.mailbox import Mailbox
from chatd.persistence.errors import StoreUnavailable
from chatd.persistence.store import Store
from chatd.protocol.rooms import CURSORS, Cursor

log = logging.getLogger("chatd.cursors")

@dataclass(frozen=True, slots=True)
class CursorSettings:
    mailbox_size: int = 8192
    batch_limit: int = 8192
    retry_seconds: float = 1.0


class CursorWriter:
    def __init__(self, store: Store, tell_room: Callable[[int, CursorMoved, bool], bool],
                 settings: CursorSettings = CursorSettings()) -> None:
        self.store = store
        self.tell_room = tell_room
        self.settings = settings
        self.mailbox = Mailbox[SaveCursors](settings.mailbox_size)  # outlives restarts of run()
        self.pending: dict[Cursor, dict[tuple[int, int], int]] = {c: {} for c in CURSORS}
        self.quiet: set[int] = set()  # users whose reads are not reported (read receipts off)
        self.retry_at = math.inf

    def offer(self, item: SaveCursors) -> bool:
        return self.mailbox.offer(item)

    async def put(self, item: SaveCursors) -> None:
        """For a user actor on its way out, which has no next tick to offer again on."""
        await self.mailbox.put(item)

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        self.retry_at = math.inf  # `pending` is kept: what a crash interrupted is written by the restart
        task_status.started()
        try:
            while True:
                batch = await self.mailbox.next_batch(self.settings.batch_limit, self.retry_at)
                self._merge(batch)
                if batch or trio.current_time() >= self.retry_at:
                    await self._write()
        finally:
            with trio.CancelScope(shield=True), trio.move_on_after(2):
                self._merge(self.mailbox.take_nowait())
                await self._write()

    def _merge(self, batch: list[SaveCursors]) -> None:
        for item in batch:
            if not isinstance(item, SaveCursors):
                raise RuntimeError(getattr(item, "reason", f"unexpected mailbox item {item!r}"))
            if item.receipts:
                self.quiet.discard(item.user)
            else:
                self.quiet.add(item.user)
            moves = self.pending[item.cursor]
            for room, seq in item.cursors.items():
                key = (item.user, room)
                if seq > moves.get(key, -1):
                    moves[key] = seq

    async def _write(self) -> None:
        self.retry_at = math.inf
        stored: dict[tuple[int, int], dict[Cursor, int]] = {}
        for cursor, moves in self.pending.items():
            if not moves:
                continue
            try:
                await self.store.save_cursors(cursor, [(user, room, seq) for (user, room), seq in moves.items()])
            except StoreUnavailable as exc:
                log.warning("cursor write of %d moves failed, retrying: %s", len(moves), exc)
                self.retry_at = trio.current_time() + self.settings.retry_seconds
                continue
            self.pending[cursor] = {}
            for key, seq in moves.items():
                if cursor == "delivered" or key[0] not in self.quiet:
                    stored.setdefault(key, {})[cursor] = seq
        for (user, room), seqs in stored.items():  # rooms tell the senders (status frames)
            read = seqs.get("read")  # a delivery alone was told to the room here as it was acked
            self.tell_room(room, CursorMoved(user, seqs.get("delivered"), read, quiet=user in self.quiet),
                           read is not None or user in self.quiet)
