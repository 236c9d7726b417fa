"""The push workers: a node-level subtree of the supervision tree.

    push     PushService: a one_for_one supervisor of its own (5 restarts in 60 s)
    ├── push-scan  every CHAT_PUSH_SCAN_SECONDS, one SQL statement (persistence/push.py SCAN_SQL) turns
    │              messages still undelivered after CHAT_PUSH_DELAY into collapsed outbox jobs; an
    │              advisory lock makes it one scan at a time across nodes
    └── push-send  claims due jobs (FOR UPDATE SKIP LOCKED, with a lease), sends each to every
                   subscription of its user through a PushSender, records the outcome, backs off

Push is an extra: if its subtree keeps crashing it waits and starts again, and never takes the node
(chat itself) down with it. A database outage is waited out in place, like the CursorWriter does.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass

import trio

from chatd.persistence.errors import StoreUnavailable
from chatd.persistence.push import PushJob, SendFailure
from chatd.persistence.store import Store
from chatd.push.payload import push_message
from chatd.push.sender import Outcome, PushResult, PushSender
from chatd.push.vapid import VapidKey
from chatd.runtime.config import Config
from chatd.supervisor import ChildSpec, RestartIntensityExceeded, Supervisor

log = logging.getLogger("chatd.push")

MAX_BACKOFF = 3600.0
FAILURE_RETENTION = 30 * 86400.0  # push_failures rows are kept this long
PRUNE_EVERY = 3600.0
ESCALATION_PAUSE = 30.0  # after the subtree gave up: wait this long, then start it again


@dataclass(frozen=True, slots=True)
class PushSettings:
    delay: float = 10.0
    scan_seconds: float = 1.0
    lookback: float = 86400.0
    ttl: int = 86400
    max_attempts: int = 10
    retry_base: float = 5.0
    concurrency: int = 16  # jobs in flight at once (each to all of its user's subscriptions)
    send_timeout: float = 10.0

    @classmethod
    def of(cls, config: Config) -> PushSettings:
        return cls(delay=config.push_delay, scan_seconds=config.push_scan_seconds, lookback=config.push_lookback,
                   ttl=config.push_ttl, max_attempts=config.push_max_attempts, retry_base=config.push_retry_base)

    @property
    def lease(self) -> float:
        """How long a claimed job is left alone before another sender may take it (a node died mid-send)."""
        return 3 * self.send_timeout + 30

    def backoff(self, attempts: int, retry_after: float | None) -> float:
        """Seconds before attempt `attempts + 1`: doubling from retry_base with ±20% jitter, at most an hour."""
        wait = min(MAX_BACKOFF, self.retry_base * 2 ** (attempts - 1)) * random.uniform(0.8, 1.2)
        return min(MAX_BACKOFF, max(wait, retry_after or 0.0))


class Throttled:
    """Log a recurring warning at most once a minute."""

    def __init__(self) -> None:
        self.next_at = -float("inf")

    def warn(self, message: str, *args: object) -> None:
        if trio.current_time() >= self.next_at:
            self.next_at = trio.current_time() + 60
            log.warning(message, *args)


class PushScanner:
    def __init__(self, store: Store, settings: PushSettings, nudge: Callable[[], None]) -> None:
        self.store = store
        self.settings = settings
        self.nudge = nudge
        self.warnings = Throttled()

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        prune_at = trio.current_time()
        while True:
            try:
                jobs = await self.store.scan_push(self.settings.delay, self.settings.lookback)
                if jobs:
                    self.nudge()
                if jobs is not None and trio.current_time() >= prune_at:  # this node holds the scan
                    prune_at = trio.current_time() + PRUNE_EVERY
                    await self.store.prune_push_failures(FAILURE_RETENTION)
            except StoreUnavailable as exc:
                self.warnings.warn("push scan: %s; trying again", exc)
            await trio.sleep(self.settings.scan_seconds)


class PushDelivery:
    def __init__(self, store: Store, sender: PushSender, vapid: VapidKey, settings: PushSettings) -> None:
        self.store = store
        self.sender = sender
        self.vapid = vapid
        self.settings = settings
        self.in_flight = 0
        self.wake = trio.Event()
        self.warnings = Throttled()

    def nudge(self) -> None:
        """New jobs may be due (the scan made some, or a slot came free)."""
        self.wake.set()

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        self.in_flight = 0
        async with trio.open_nursery() as nursery:
            task_status.started()
            while True:
                free = self.settings.concurrency - self.in_flight
                jobs: list[PushJob] = []
                if free > 0:
                    try:
                        jobs = await self.store.claim_push_jobs(free, self.settings.lease)
                    except StoreUnavailable as exc:
                        self.warnings.warn("push claim: %s; trying again", exc)
                for job in jobs:
                    self.in_flight += 1
                    nursery.start_soon(self._deliver, job)
                if free <= 0 or len(jobs) < free:  # nothing else is due now, or no room for it
                    with trio.move_on_after(self.settings.scan_seconds):
                        await self.wake.wait()
                self.wake = trio.Event()

    async def _deliver(self, job: PushJob) -> None:
        try:
            message = push_message(job, self.vapid, self.settings.ttl)
            results: dict[int, PushResult] = {}

            async def one(index: int) -> None:
                results[index] = await self.sender.send(job.subscriptions[index], message)

            async with trio.open_nursery() as nursery:
                for index in range(len(job.subscriptions)):
                    nursery.start_soon(one, index)
            failures = [SendFailure(job.subscriptions[i], r.outcome.value, r.status, r.error or r.outcome.value)
                        for i, r in sorted(results.items()) if r.outcome is not Outcome.DELIVERED]
            retry = [r for r in results.values() if r.outcome is Outcome.RETRY]
            gave_up = bool(retry) and job.attempts >= self.settings.max_attempts
            retry_in = None
            if retry and not gave_up:
                retry_in = self.settings.backoff(job.attempts, max((r.retry_after or 0.0) for r in retry))
            if gave_up:
                log.warning("push to user %d about room %d: giving up after %d attempts (%s)", job.user_id,
                            job.room_id, job.attempts, retry[0].error)
            await self.store.finish_push_job(job, failures, retry_in, gave_up)
        except StoreUnavailable as exc:  # the claim's lease runs out and the job is sent again
            self.warnings.warn("push result not stored: %s; the job will be sent again", exc)
        finally:
            self.in_flight -= 1
            self.nudge()


class PushService:
    """The `push` child of the node's root: its own supervisor over the scan and the sender."""

    def __init__(self, store: Store, sender: PushSender, vapid: VapidKey, settings: PushSettings) -> None:
        self.delivery = PushDelivery(store, sender, vapid, settings)
        self.scanner = PushScanner(store, settings, self.delivery.nudge)
        self.supervisor = Supervisor("push")

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        children = [ChildSpec("push-scan", self.scanner.run), ChildSpec("push-send", self.delivery.run)]
        while True:
            self.supervisor = Supervisor("push", intensity=5, period=60.0)  # a fresh restart count each round
            try:
                async with self.supervisor.running(children):
                    task_status.started()
                    task_status = trio.TASK_STATUS_IGNORED
            except* RestartIntensityExceeded:
                log.error("push notifications stopped after repeated crashes; starting again in %g s",
                          ESCALATION_PAUSE)
            await trio.sleep(ESCALATION_PAUSE)
