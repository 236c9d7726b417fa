"""Wake the tasks waiting on a key in this process (a QR login's long-poll, when its request is answered here).

Waiters on other processes are not woken: they look again after a short poll (gateway/qr_login.py). A key holds
memory only while someone waits on it.
"""

from __future__ import annotations

import trio


class Wakeups:
    def __init__(self) -> None:
        self._events: dict[str, tuple[trio.Event, list[int]]] = {}  # key -> (its event, [waiters])

    async def wait(self, key: str) -> None:
        """Until `wake(key)` (use with a timeout)."""
        entry = self._events.setdefault(key, (trio.Event(), [0]))
        entry[1][0] += 1
        try:
            await entry[0].wait()
        finally:
            entry[1][0] -= 1
            if not entry[1][0] and self._events.get(key) is entry:
                del self._events[key]

    def wake(self, key: str) -> None:
        entry = self._events.pop(key, None)
        if entry is not None:
            entry[0].set()

    def __len__(self) -> int:
        return len(self._events)
