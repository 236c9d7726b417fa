"""A bounded actor mailbox with a non-blocking offer and an overflow bell.

Producers that must never block (a room fanning out) use ``offer``; when the mailbox is full the item is
dropped and the bell rings, so the owner knows it lost something and catches up from Postgres. The bell
rings while the mailbox is still full, so the owner always sees it after draining those items.

`until_idle` waits, without polling, until the owner has taken everything and waits for more (or has
closed the mailbox): a node that drains waits so for its rooms to finish what they took.
"""

from __future__ import annotations

import math
from typing import Generic, TypeVar

import trio

from chatd.runtime.notifier import Notifier

T = TypeVar("T")


class Mailbox(Generic[T]):
    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._send, self._receive = trio.open_memory_channel[T](capacity)
        self._bell_send, self._bell_receive = trio.open_memory_channel[None](1)
        self.handled = 0
        self._closed = False
        self._idle = Notifier()  # notified whenever the owner starts waiting for an item, and on close

    def offer(self, item: T) -> bool:
        """Put without waiting; False if the item was dropped (full: bell rung) or the mailbox is closed."""
        try:
            self._send.send_nowait(item)
            return True
        except trio.WouldBlock:
            try:
                self._bell_send.send_nowait(None)
            except trio.WouldBlock:
                pass
            return False
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            return False

    async def put(self, item: T) -> None:
        """Put, waiting for room; raises trio.BrokenResourceError once the owner has stopped."""
        await self._send.send(item)

    async def next_batch(self, limit: int, deadline: float = math.inf) -> list[T]:
        """Wait for at least one item (until `deadline`), then take what is already waiting, up to `limit`.

        Always a checkpoint, and a cancel takes nothing (like trio's receive); a cancel scope (a deadline to
        register) only when it has to wait with one."""
        await trio.lowlevel.checkpoint_if_cancelled()
        batch = self.take_nowait(limit)
        if batch:
            await trio.lowlevel.cancel_shielded_checkpoint()  # let others run; items taken are not dropped
        elif deadline == math.inf:
            self._idle.notify()
            batch.append(await self._receive.receive())
        else:
            self._idle.notify()
            with trio.move_on_at(deadline):
                batch.append(await self._receive.receive())
        if len(batch) == 1:
            batch.extend(self.take_nowait(limit - 1))
        self.handled += len(batch)
        return batch

    def take_nowait(self, limit: int = 1_000_000) -> list[T]:
        items: list[T] = []
        while len(items) < limit:
            try:
                items.append(self._receive.receive_nowait())
            except trio.WouldBlock:
                break
        return items

    def overflowed(self) -> bool:
        """True once after items were dropped since the last call."""
        try:
            self._bell_receive.receive_nowait()
            return True
        except trio.WouldBlock:
            return False

    def close(self) -> None:
        """Stop accepting: later put() raises BrokenResourceError, later offer() returns False."""
        self._receive.close()
        self._closed = True
        self._idle.notify()

    def depth(self) -> int:
        return self._send.statistics().current_buffer_used  # type: ignore[no-any-return]

    def waiting(self) -> bool:
        """True while the owner is blocked waiting for an item (it holds no unfinished batch)."""
        return self._receive.statistics().tasks_waiting_receive > 0  # type: ignore[no-any-return]

    def idle(self) -> bool:
        """Nothing left to do here: the owner waits for work with nothing queued, or the mailbox is closed."""
        return self._closed or self.waiting()

    async def until_idle(self) -> None:
        """Return once idle() (at once if it is)."""
        while not self.idle():
            await self._idle.wait()
