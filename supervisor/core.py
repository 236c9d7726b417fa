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
"""

from __future__ import annotations

import contextvars
import logging
import time
import traceback
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import trio

log = logging.getLogger("chatd.supervisor")

ChildFn = Callable[..., Awaitable[None]]

# The name of the supervised child whose task (or a task it spawned) is running: structured logs carry it.
current_child: contextvars.ContextVar[str | None] = contextvars.ContextVar("chatd_child", default=None)
TRACEBACK_FRAMES = 6


class Restart(Enum):
    PERMANENT = "permanent"
    TRANSIENT = "transient"
    TEMPORARY = "temporary"


@dataclass(frozen=True, slots=True)
class ChildSpec:
    name: str
    run: ChildFn
    restart: Restart = Restart.PERMANENT


@dataclass(frozen=True, slots=True)
class SupervisorEvent:
    at: float  # time.time()
    supervisor: str
    child: str
    kind: str  # started | exited | restarted | stopped | start_failed | escalated
    reason: str | None = None


@dataclass(slots=True)
class ChildInfo:
    spec: ChildSpec
    state: str = "starting"  # starting | running | stopping
    started_at: float | None = None
    restarts: int = 0
    last_exit: str | None = None
    last_traceback: tuple[str, ...] = ()  # innermost frames of the last crash, "file:line in function"
    scope: trio.CancelScope = field(default_factory=trio.CancelScope)

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


class Supervisor:
    def __init__(self, name: str, *, intensity: int = 5, period: float = 10.0, history: int = 1000) -> None:
        self.name = name
        self.intensity = intensity
        self.period = period
        self.events: deque[SupervisorEvent] = deque(maxlen=history)
        self._children: dict[str, ChildInfo] = {}
        self._restart_times: deque[float] = deque()
        self._nursery: trio.Nursery | None = None

    # ------------------------------------------------------------------ public API

    async def run(self, children: list[ChildSpec] | None = None, *,
                  task_status: trio.TaskStatus[Supervisor] = trio.TASK_STATUS_IGNORED) -> None:
        """Start `children` in order, report ready, then supervise until cancelled or escalated."""
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            for spec in children or []:
                await self.start_child(spec)
            task_status.started(self)
            await trio.sleep_forever()

    async def start_child(self, spec: ChildSpec) -> None:
        """Start a child and return once it is ready; raises what its first start raised."""
        if self._nursery is None:
            raise RuntimeError(f"supervisor {self.name!r} is not running")
        if spec.name in self._children:
            raise ValueError(f"supervisor {self.name!r} already has a child named {spec.name!r}")
        await self._nursery.start(self._supervise, spec)

    def start_child_soon(self, spec: ChildSpec) -> None:
        """Start a child without waiting for it to be ready (for callers that cannot await)."""
        if self._nursery is None:
            raise SupervisorClosed(f"supervisor {self.name!r} is not running")
        try:
            self._nursery.start_soon(self._supervise, spec)
        except RuntimeError as exc:  # trio: "Nursery is closed to new arrivals"
            raise SupervisorClosed(f"supervisor {self.name!r} is shutting down") from exc

    def stop_child(self, name: str) -> bool:
        info = self._children.get(name)
        if info is None:
            return False
        info.state = "stopping"
        info.scope.cancel()
        return True

    def children(self) -> list[ChildInfo]:
        return list(self._children.values())

    def child(self, name: str) -> ChildInfo | None:
        return self._children.get(name)

    # ------------------------------------------------------------------ machinery

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

    async def _supervise(self, spec: ChildSpec, *,
                         task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        info = ChildInfo(spec)
        self._children[spec.name] = info
        current_child.set(spec.name)  # this task's own context: the child's tasks inherit it
        first = True
        try:
            with info.scope:
                while True:
                    error: BaseException | None = None
                    try:
                        async with trio.open_nursery() as child_nursery:
                            await child_nursery.start(spec.run)
                            info.state, info.started_at = "running", time.time()
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
                    if not self._should_restart(spec, error is not None):
                        return
                    if not self._count_restart():
                        self._record(spec.name, "escalated", info.last_exit)
                        raise RestartIntensityExceeded(self.name, self.intensity, self.period) from error
                    info.restarts += 1
                    info.state = "starting"
            if info.scope.cancelled_caught:
                self._record(spec.name, "stopped")
        finally:
            if self._children.get(spec.name) is info:
                del self._children[spec.name]


def child(name: str, fn: ChildFn, restart: Restart = Restart.PERMANENT, **kwargs: Any) -> ChildSpec:
    """Shorthand: a ChildSpec whose run is ``fn(**kwargs, task_status=...)``."""
    if not kwargs:
        return ChildSpec(name, fn, restart)

    async def run(*, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        await fn(**kwargs, task_status=task_status)
    return ChildSpec(name, run, restart)
