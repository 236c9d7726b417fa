"""Notifier: wake whoever waits for the next change of some state, so that they look again instead of polling.

A trio.Event can be set only once; a Notifier hands out a fresh one after each notify(). Waiters re-check
their condition after every wake-up (the state may have changed back meanwhile):

    while not condition():
        await notifier.wait()
"""

from __future__ import annotations

import trio


class Notifier:
    def __init__(self) -> None:
        self._event = trio.Event()

    def notify(self) -> None:
        """Wake every task now waiting (cheap when none is: nothing is allocated)."""
        if self._event.statistics().tasks_waiting:
            self._event.set()
            self._event = trio.Event()

    async def wait(self) -> None:
        """Until the next notify()."""
        await self._event.wait()
