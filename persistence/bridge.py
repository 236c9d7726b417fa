"""The one place where asyncio libraries (asyncpg, redis.asyncio) are called from trio.

They run on an asyncio event loop of their own on a dedicated thread,
started on first use and shared by the process. ``bridged`` wraps an asyncio coroutine method so trio
code can await it: one hand-off to the loop thread and one back per call, so callers that batch (the
node's CommitWriter, CursorWriter, the bus) cross once per batch, not once per statement. Connection-level
failures become StoreUnavailable.

Why not trio-asyncio: it runs the asyncio loop inside trio's, entering a cancel scope for every asyncio
loop iteration; in the dm benchmark that scheduler was the largest single cost of the node. Why not uvloop:
alternating dm runs measured no difference (asyncio 526-568, uvloop 521-554 us of server CPU per message;
the loop thread only sees a few batched calls a second), so the standard library's loop it is, one
dependency fewer (bench/RESULTS.md).

Cancellation: cancelling the trio caller cancels the asyncio task, waits for it to finish (so a pooled
connection is back in its pool before the caller goes on) and then raises trio.Cancelled, whatever error
the library made of the cancel; a call that completed before the cancel arrived returns its result. A
call the loop itself cancelled (it is shutting down) raises ConnectionAbortedError (StoreUnavailable
through ``bridged``); one that cannot start (not a coroutine) raises its error in the caller.
"""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, ParamSpec, TypeVar

import asyncpg
import outcome
import trio

from chatd.persistence.errors import StoreContention, StoreUnavailable

P = ParamSpec("P")
T = TypeVar("T")

CONTENTION_DB_ERRORS: tuple[type[BaseException], ...] = (
    asyncpg.exceptions.SerializationError,
    asyncpg.exceptions.DeadlockDetectedError,
)
TRANSIENT_DB_ERRORS: tuple[type[BaseException], ...] = (
    *CONTENTION_DB_ERRORS,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.exceptions.OperatorInterventionError,  # admin shutdown, crash shutdown, cannot connect now
    asyncpg.exceptions.InsufficientResourcesError,
    OSError,
    TimeoutError,
    asyncio.TimeoutError,
)


class LoopThread:
    """An asyncio event loop running for ever on a daemon thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
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
        raise_cancel: Callable[[], Any] | None = None

        def wake(result: outcome.Outcome[T]) -> None:  # on the loop thread; exactly once per call
            try:
                token.run_sync_soon(trio.lowlevel.reschedule, task, outcome.Value(result))  # unwrapped below
            except trio.RunFinishedError:  # pragma: no cover - the trio run ended while we worked
                pass

        def finished(fut: asyncio.Future[T]) -> None:  # on the loop thread
            if fut.cancelled():
                wake(outcome.Error(asyncio.CancelledError()))
            elif (exc := fut.exception()) is not None:
                wake(outcome.Error(exc))
            else:
                wake(outcome.Value(fut.result()))

        def start() -> None:  # on the loop thread
            try:
                fut: asyncio.Future[T] = asyncio.ensure_future(fn(*args, **kwargs))
            except BaseException as exc:  # not a coroutine, bad arguments: the caller gets it
                wake(outcome.Error(exc))
                return
            running.append(fut)
            fut.add_done_callback(finished)

        def cancel() -> None:  # on the loop thread, after start() (the loop runs callbacks in order)
            if running:
                running[0].cancel()

        def abort(inner_raise_cancel: Callable[[], Any]) -> trio.lowlevel.Abort:
            nonlocal raise_cancel
            raise_cancel = inner_raise_cancel
            self.loop.call_soon_threadsafe(cancel)
            return trio.lowlevel.Abort.FAILED  # woken by wake() once the asyncio task is done

        self.loop.call_soon_threadsafe(start)
        result: outcome.Outcome[T] = await trio.lowlevel.wait_task_rescheduled(abort)
        if isinstance(result, outcome.Error):
            if raise_cancel is not None:  # we were cancelled and the call did not complete: Cancelled
                raise_cancel()  # (whatever asyncpg or redis made of the asyncio cancel)
            if isinstance(result.error, asyncio.CancelledError):  # cancelled by the loop, not by us
                raise ConnectionAbortedError("the asyncio loop cancelled the call") from None
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
        except CONTENTION_DB_ERRORS as exc:
            raise StoreContention(f"database contention: {type(exc).__name__}: {exc}") from exc
        except TRANSIENT_DB_ERRORS as exc:
            raise StoreUnavailable(f"database unavailable: {type(exc).__name__}: {exc}") from exc
    return call


def aio(fn: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    """Call an asyncio coroutine function from trio without error translation."""
    async def call(*args: Any, **kwargs: Any) -> Any:
        return await loop_thread().call(fn, *args, **kwargs)
    return call


async def concurrently(calls: Iterable[Awaitable[T]]) -> list[T]:
    """Await `calls` at once on the loop thread (an asyncio TaskGroup: the first failure cancels the rest)
    and return their results in order; a failure is raised as itself, not as an ExceptionGroup, so callers
    catch a library's errors as they would from one call."""
    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(_awaited(call)) for call in calls]
    except ExceptionGroup as failed:
        raise failed.exceptions[0] from failed
    return [task.result() for task in tasks]


async def _awaited(call: Awaitable[T]) -> T:
    return await call
