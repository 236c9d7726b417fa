"""OTP-style supervision on trio nurseries.

A child is an async function ``run(*, task_status)`` that calls ``task_status.started()`` once it is
ready (the nursery-first convention of trio). The strategy is one_for_one: a failing child is restarted
alone, according to its restart type:

* ``PERMANENT`` - always restarted, also after a normal return;
* ``TRANSIENT`` - restarted only after an exception;
* ``TEMPORARY`` - never restarted.

More than ``intensity`` restarts within ``period`` seconds make the supervisor itself fail with
RestartIntensityExceeded, so its parent decides (the root's failure ends the node). Every start, exit,
restart and stop is recorded with a wall-clock timestamp in a bounded history for the admin console.
trio.Cancelled and KeyboardInterrupt are never swallowed: only ``Exception`` counts as a crash.

Stopping is the supervisor's job, not the enclosing cancel scope's: a running child is shielded from
outside cancellation, and when the supervisor ends (its scope is cancelled, ``stop()`` is called, it
escalates, or the body of ``async with`` raises) it cancels its children one at a time in reverse start
order, waiting up to each child's ``shutdown`` seconds before it goes on to the next one. So a child
started after another may rely on it while stopping (user actors hand their cursors to the cursor writer
started before them). A child that overstays its deadline is logged (``stop_timeout``) and left to finish
its own bounded cleanup while the others stop. Dynamic supervisors, whose children are many and
interchangeable (one actor per room), stop them all at once instead (``StopOrder.TOGETHER``, like OTP's
simple_one_for_one).
"""

from __future__ import annotations

import contextvars
import logging
import time
import traceback
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from enum import Enum, StrEnum
from typing import Any

import trio

log = logging.getLogger("chatd.supervisor")

ChildFn = Callable[..., Awaitable[None]]

# The name of the supervised child whose task (or a task it spawned) is running: structured logs carry it.
current_child: contextvars.ContextVar[str | None] = contextvars.ContextVar("chatd_child", default=None)
TRACEBACK_FRAMES = 6
DEFAULT_SHUTDOWN = 5.0  # seconds a child may take to stop once cancelled (OTP's default for workers)


class Restart(Enum):
    PERMANENT = "permanent"
    TRANSIENT = "transient"
    TEMPORARY = "temporary"


class ChildState(StrEnum):
    """Where a child is in its life; the admin console shows the value."""

    STARTING = "starting"  # its run has not called task_status.started() yet (first start or a restart)
    RUNNING = "running"
    STOPPING = "stopping"  # cancelled by its supervisor (or an admin): its cleanup runs


class StopOrder(Enum):
    REVERSE = "reverse"  # one at a time, the last started first, each within its deadline
    TOGETHER = "together"  # all at once (a dynamic supervisor of interchangeable actors)


@dataclass(frozen=True, slots=True)
class ChildSpec:
    name: str
    run: ChildFn
    restart: Restart = Restart.PERMANENT
    shutdown: float = DEFAULT_SHUTDOWN  # seconds it may take to stop once cancelled, before the next one is


@dataclass(frozen=True, slots=True)
class SupervisorEvent:
    at: float  # time.time()
    supervisor: str
    child: str
    kind: str  # started | exited | restarted | stopped | stop_timeout | start_failed | escalated
    reason: str | None = None


@dataclass(slots=True)
class ChildInfo:
    spec: ChildSpec
    state: ChildState = ChildState.STARTING
    started_at: float | None = None
    restarts: int = 0
    last_exit: str | None = None
    last_traceback: tuple[str, ...] = ()  # innermost frames of the last crash, "file:line in function"
    scope: trio.CancelScope = field(default_factory=trio.CancelScope)  # shielded once it runs
    done: trio.Event = field(default_factory=trio.Event)  # its task has ended

    @property
    def name(self) -> str:
        return self.spec.name


class SupervisorClosed(RuntimeError):
    """The supervisor is not running (yet) or is shutting down: it starts no more children."""


class RestartIntensityExceeded(Exception):
    def __init__(self, supervisor: str, restarts: int, period: float) -> None:
        super().__init__(f"supervisor {supervisor!r}: more than {restarts} restarts in {period:g}s")
        self.supervisor = supervisor


def crash_reason(exc: BaseException) -> BaseException:
    """The first leaf of nested exception groups: what actually went wrong."""
    while isinstance(exc, BaseExceptionGroup):
        exc = exc.exceptions[0]
    return exc


def describe(exc: BaseException | None) -> str:
    if exc is None:
        return "normal"
    exc = crash_reason(exc)
    where = traceback.extract_tb(exc.__traceback__)[-1:] if exc.__traceback__ else []
    loc = f" at {where[0].filename.rsplit('/', 1)[-1]}:{where[0].lineno}" if where else ""
    return f"{type(exc).__name__}: {exc}{loc}"


def traceback_summary(exc: BaseException | None, frames: int = TRACEBACK_FRAMES) -> tuple[str, ...]:
    """The innermost `frames` frames of a crash, outermost first (empty for a normal exit)."""
    if exc is None:
        return ()
    exc = crash_reason(exc)
    return tuple(f"{fr.filename.rsplit('/', 1)[-1]}:{fr.lineno} in {fr.name}"
                 for fr in traceback.extract_tb(exc.__traceback__)[-frames:])


def open_supervisor(name: str, children: Sequence[ChildSpec] = (), *, intensity: int = 5, period: float = 10.0,
                    stop_order: StopOrder = StopOrder.REVERSE) -> AbstractAsyncContextManager[Supervisor]:
    """``async with open_supervisor("root", [...]) as sup:`` starts `children` in order, one after the other
    is ready, then runs the body; leaving the block waits, like a nursery, until the supervisor ends (see
    ``Supervisor.running``)."""
    return Supervisor(name, intensity=intensity, period=period, stop_order=stop_order).running(children)


class Supervisor:
    def __init__(self, name: str, *, intensity: int = 5, period: float = 10.0, history: int = 1000,
                 stop_order: StopOrder = StopOrder.REVERSE) -> None:
        self.name = name
        self.intensity = intensity
        self.period = period
        self.stop_order = stop_order
        self.events: deque[SupervisorEvent] = deque(maxlen=history)
        self._children: dict[str, ChildInfo] = {}  # in start order: the stop goes backwards through it
        self._restart_times: deque[float] = deque()
        self._nursery: trio.Nursery | None = None
        self._closing = False
        self._scope = trio.CancelScope()

    # ------------------------------------------------------------------ public API

    @asynccontextmanager
    async def running(self, children: Sequence[ChildSpec] = ()) -> AsyncIterator[Supervisor]:
        """Start `children` in order, run the body, then supervise until the supervisor ends: its enclosing
        scope is cancelled or ``stop()`` is called (the block then ends normally), a child escalates
        (RestartIntensityExceeded leaves the block in an exception group, as from a nursery) or the body
        raises. Either way the children are stopped first, in reverse start order, each within its
        ``shutdown`` seconds."""
        if self._nursery is not None:
            raise RuntimeError(f"supervisor {self.name!r} is running already")
        self._closing, self._scope = False, trio.CancelScope()
        self._restart_times.clear()  # a supervisor run again (its parent restarted it) counts afresh
        try:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                try:
                    with self._scope:
                        for spec in children:
                            await self.start_child(spec)
                        yield self
                        await trio.sleep_forever()
                finally:
                    self._closing = True
                    with trio.CancelScope(shield=True):
                        await self._stop_children()
        finally:
            self._nursery = None

    async def run(self, children: Sequence[ChildSpec] = (), *,
                  task_status: trio.TaskStatus[Supervisor] = trio.TASK_STATUS_IGNORED) -> None:
        """`running` as a child function (a supervisor under another supervisor): ready once `children` are."""
        async with self.running(children):
            task_status.started(self)

    def stop(self) -> None:
        """End the supervisor: its children stop in order and its ``async with`` block ends normally."""
        self._scope.cancel()

    async def start_child(self, spec: ChildSpec) -> None:
        """Start a child and return once it is ready; raises what its first start raised."""
        info = self._register(spec)
        assert self._nursery is not None
        await self._nursery.start(self._supervise, info)

    def start_child_soon(self, spec: ChildSpec) -> None:
        """Start a child without waiting for it to be ready (for callers that cannot await)."""
        info = self._register(spec)
        assert self._nursery is not None
        self._nursery.start_soon(self._supervise, info)

    def stop_child(self, name: str) -> bool:
        """Cancel one child now (it is not restarted); False if there is no such child."""
        info = self._children.get(name)
        if info is None:
            return False
        info.state = ChildState.STOPPING
        info.scope.cancel()
        return True

    def children(self) -> list[ChildInfo]:
        return list(self._children.values())

    def child(self, name: str) -> ChildInfo | None:
        return self._children.get(name)

    # ------------------------------------------------------------------ machinery

    def _register(self, spec: ChildSpec) -> ChildInfo:
        """Take a child in synchronously, so that a stop that begins before its task runs still sees it."""
        if self._nursery is None or self._closing:
            raise SupervisorClosed(f"supervisor {self.name!r} is {'stopping' if self._closing else 'not running'}")
        if spec.name in self._children:
            raise ValueError(f"supervisor {self.name!r} already has a child named {spec.name!r}")
        info = self._children[spec.name] = ChildInfo(spec)
        return info

    async def _stop_children(self) -> None:
        """Cancel the children (see the module docstring) and wait for each up to its deadline."""
        infos = list(self._children.values())
        if self.stop_order is StopOrder.REVERSE:
            for info in reversed(infos):
                await self._stopped_within(info, trio.current_time() + info.spec.shutdown)
            return
        now = trio.current_time()
        for info in infos:
            self._cancel(info)
        for info in infos:
            await self._stopped_within(info, now + info.spec.shutdown)

    def _cancel(self, info: ChildInfo) -> None:
        if not info.done.is_set():
            info.state = ChildState.STOPPING
            info.scope.cancel()

    async def _stopped_within(self, info: ChildInfo, deadline: float) -> None:
        self._cancel(info)
        with trio.move_on_at(deadline):
            await info.done.wait()
        if not info.done.is_set():
            self._record(info.name, "stop_timeout", f"still stopping after {info.spec.shutdown:g}s")

    def _record(self, child: str, kind: str, reason: str | None = None) -> None:
        self.events.append(SupervisorEvent(time.time(), self.name, child, kind, reason))
        quiet = kind in ("started", "stopped") or (kind == "exited" and reason == "normal")
        level = logging.INFO if quiet else logging.WARNING
        log.log(level, "%s/%s %s%s", self.name, child, kind, f": {reason}" if reason else "",
                extra={"supervisor": self.name, "actor": child})

    def _should_restart(self, spec: ChildSpec, crashed: bool) -> bool:
        if spec.restart is Restart.TEMPORARY:
            return False
        return crashed or spec.restart is Restart.PERMANENT

    def _count_restart(self) -> bool:
        """Record a restart; False if that exceeds the intensity."""
        now = trio.current_time()
        self._restart_times.append(now)
        while self._restart_times and self._restart_times[0] < now - self.period:
            self._restart_times.popleft()
        return len(self._restart_times) <= self.intensity

    async def _supervise(self, info: ChildInfo, *,
                         task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        spec = info.spec
        current_child.set(spec.name)  # this task's own context: the child's tasks inherit it
        first = True
        try:
            with info.scope:
                while True:
                    error: BaseException | None = None
                    try:
                        async with trio.open_nursery() as child_nursery:
                            await child_nursery.start(spec.run)
                            # From now on only this supervisor stops it, in its order (a first start is
                            # still cancelled with the task that waits for it, like trio's start()).
                            info.scope.shield = True
                            info.started_at = time.time()
                            if info.state is ChildState.STARTING:
                                info.state = ChildState.RUNNING
                            self._record(spec.name, "started" if first else "restarted")
                            if first:
                                first = False
                                task_status.started()
                    except Exception as exc:
                        error = exc
                        if first:  # never became ready: the caller of start_child gets the error
                            self._record(spec.name, "start_failed", describe(exc))
                            raise crash_reason(exc) from exc
                    info.last_exit, info.last_traceback = describe(error), traceback_summary(error)
                    self._record(spec.name, "exited", info.last_exit)
                    if info.scope.cancel_called or not self._should_restart(spec, error is not None):
                        return
                    if not self._count_restart():
                        self._record(spec.name, "escalated", info.last_exit)
                        raise RestartIntensityExceeded(self.name, self.intensity, self.period) from error
                    info.restarts += 1
                    info.state = ChildState.STARTING
            if info.scope.cancelled_caught:
                self._record(spec.name, "stopped")
        finally:
            if self._children.get(spec.name) is info:
                del self._children[spec.name]
            info.done.set()


def child(name: str, fn: ChildFn, restart: Restart = Restart.PERMANENT, **kwargs: Any) -> ChildSpec:
    """Shorthand: a ChildSpec whose run is ``fn(**kwargs, task_status=...)``."""
    if not kwargs:
        return ChildSpec(name, fn, restart)

    async def run(*, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        await fn(**kwargs, task_status=task_status)
    return ChildSpec(name, run, restart)
