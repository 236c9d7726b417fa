"""The one place where asyncio libraries (asyncpg, redis.asyncio) are called from trio.

They run on an asyncio event loop of their own (uvloop when it is installed) on a dedicated thread,
started on first use and shared by the process. ``bridged`` wraps an asyncio coroutine method so trio
code can await it: one hand-off to the loop thread and one back per call, so callers that batch (the
node's CommitWriter, CursorWriter, the bus) cross once per batch, not once per statement. Connection-level
failures become StoreUnavailable.

Why not trio-asyncio: it runs the asyncio loop inside trio's, entering a cancel scope for every asyncio
loop iteration; in the dm benchmark that scheduler was the largest single cost of the node (bench/RESULTS.md).

Cancellation: cancelling the trio caller cancels the asyncio task, waits for it to finish (so a pooled
connection is back in its pool before the caller goes on) and then raises trio.Cancelled; a call that
completed before the cancel arrived returns its result.
"""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import Awaitable, Callable
from typing import Any, ParamSpec, TypeVar

import asyncpg
import outcome
import trio

from persistence.errors import StoreUnavailable

P = ParamSpec("P")
T = TypeVar("T")

TRANSIENT_DB_ERRORS: tuple[type[BaseException], ...] = (
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.exceptions.OperatorInterventionError,  # admin shutdown, crash shutdown, cannot connect now
    asyncpg.exceptions.SerializationError,
    asyncpg.exceptions.DeadlockDetectedError,
    asyncpg.exceptions.InsufficientResourcesError,
    OSError,
    TimeoutError,
    asyncio.TimeoutError,
)


def _new_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency on the platforms it supports
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()  # type: ignore[no-any-return]


class LoopThread:
    """An asyncio event loop running for ever on a daemon thread."""

    def __init__(self) -> None:
        self.loop = _new_loop()
        ready = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(ready,), name="chatd-asyncio", daemon=True)
        self.thread.start()
        ready.wait()

    def _run(self, ready: threading.Event) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.call_soon(ready.set)
        self.loop.run_forever()

    async def call(self, fn: Callable[..., Awaitable[T]], *args: Any, **kwargs: Any) -> T:
        """Run `fn(*args, **kwargs)` on the loop thread and wait for it from trio (see the module docstring)."""
        task = trio.lowlevel.current_task()
        token = trio.lowlevel.current_trio_token()
        running: list[asyncio.Future[T]] = []
        aborted = False

        def finished(fut: asyncio.Future[T]) -> None:  # on the loop thread
            result: outcome.Outcome[T]
            if fut.cancelled():
                result = outcome.Error(asyncio.CancelledError())
            elif (exc := fut.exception()) is not None:
                result = outcome.Error(exc)
            else:
                result = outcome.Value(fut.result())
            try:
                token.run_sync_soon(trio.lowlevel.reschedule, task, outcome.Value(result))  # unwrapped below
            except trio.RunFinishedError:  # pragma: no cover - the trio run ended while we worked
                pass

        def start() -> None:  # on the loop thread
            fut: asyncio.Future[T] = asyncio.ensure_future(fn(*args, **kwargs))
            running.append(fut)
            fut.add_done_callback(finished)

        def cancel() -> None:  # on the loop thread, after start() (the loop runs callbacks in order)
            if running:
                running[0].cancel()

        def abort(_: Any) -> trio.lowlevel.Abort:
            nonlocal aborted
            aborted = True
            self.loop.call_soon_threadsafe(cancel)
            return trio.lowlevel.Abort.FAILED  # woken by finished() once the asyncio task is done

        self.loop.call_soon_threadsafe(start)
        result: outcome.Outcome[T] = await trio.lowlevel.wait_task_rescheduled(abort)
        if aborted and isinstance(result, outcome.Error) and isinstance(result.error, asyncio.CancelledError):
            await trio.lowlevel.checkpoint()  # our scope is cancelled: this raises trio.Cancelled
        return result.unwrap()

    def call_soon(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run a plain function on the loop thread soon (thread-safe, does not wait)."""
        self.loop.call_soon_threadsafe(fn, *args)


_shared: LoopThread | None = None
_shared_lock = threading.Lock()


def loop_thread() -> LoopThread:
    """The process's asyncio loop thread, started on first use."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = LoopThread()
        return _shared


def bridged(fn: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[T]]:
    @functools.wraps(fn)
    async def call(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return await loop_thread().call(fn, *args, **kwargs)  # type: ignore[arg-type]
        except TRANSIENT_DB_ERRORS as exc:
            raise StoreUnavailable(f"database unavailable: {type(exc).__name__}: {exc}") from exc
    return call


def aio(fn: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    """Call an asyncio coroutine function from trio without error translation."""
    async def call(*args: Any, **kwargs: Any) -> Any:
        return await loop_thread().call(fn, *args, **kwargs)
    return call
