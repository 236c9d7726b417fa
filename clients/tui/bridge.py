"""Run trio inside Textual's asyncio loop (trio guest mode) and await trio functions from asyncio.

Both run on the one UI thread, so trio code and Textual code never race; ``call`` hands a trio
coroutine function to the guest run and awaits its result as an asyncio future.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import outcome
import trio

T = TypeVar("T")


class TrioGuest:
    def __init__(self) -> None:
        self._nursery: trio.Nursery | None = None
        self._token: trio.lowlevel.TrioToken | None = None
        self._ready = asyncio.Event()
        self._done = asyncio.Event()

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        trio.lowlevel.start_guest_run(self._main, run_sync_soon_threadsafe=loop.call_soon_threadsafe,
                                      run_sync_soon_not_threadsafe=loop.call_soon,
                                      done_callback=self._finished, host_uses_signal_set_wakeup_fd=True)

    async def _main(self) -> None:
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            self._token = trio.lowlevel.current_trio_token()
            self._ready.set()
            await trio.sleep_forever()

    def _finished(self, result: outcome.Outcome[Any]) -> None:
        self._done.set()
        if isinstance(result, outcome.Error) and not isinstance(result.error, trio.Cancelled):
            raise result.error

    async def call(self, fn: Callable[..., Awaitable[T]], *args: Any) -> T:
        """Run ``await fn(*args)`` in trio; its result or exception comes back here."""
        await self._ready.wait()
        assert self._token is not None and self._nursery is not None
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        scope = trio.CancelScope()

        async def run() -> None:
            with scope:
                try:
                    result = await fn(*args)
                except Exception as exc:
                    if not future.done():
                        future.set_exception(exc)
                    return
                if not future.done():
                    future.set_result(result)
            if not future.done():
                future.cancel()
        token = self._token
        future.add_done_callback(lambda fut: token.run_sync_soon(scope.cancel) if fut.cancelled() else None)
        token.run_sync_soon(self._nursery.start_soon, run)
        return await future

    async def stop(self) -> None:
        if self._nursery is not None and self._token is not None:
            self._token.run_sync_soon(self._nursery.cancel_scope.cancel)
            await self._done.wait()
