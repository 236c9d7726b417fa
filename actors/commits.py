"""CommitWriter: the one actor per node that stores what every room actor has ready, in one transaction.

A room actor admits its batch (membership, roles: actors/rules.py) and hands the appends here with
`commit()`, which waits for the outcome. The writer takes every room's job that is waiting, stores them
all with `Store.append_rooms` (one transaction, one statement per kind of work, seqs assigned per room
inside it: persistence/seqplan.py) and wakes each room with its own outcome; while that transaction runs,
the next batch gathers. So a thousand direct rooms with one message each cost one transaction instead of
a thousand, and a busy room still commits everything its mailbox held at once.

Failures stay with the room they belong to: a stale room (another process changed its membership) gets
StaleRoom and the others are stored; a deadlock or serialization conflict is retried once, then, like an
outage, gets every job StoreUnavailable (the rooms answer `retry`); a batch the database refuses for
another reason is split in halves until the room whose request is poisonous is alone (it then isolates
the request itself, actors/room.py), the others stored on the way. A writer that crashes or is cancelled
answers its unfinished jobs StoreUnavailable first; clients retry with the same client ids, so a commit
that did land is not stored twice. A room that stops waiting (it was restarted) before its job was taken
withdraws the job: nothing of it is stored.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import trio

from chatd.actors.items import Crash
from chatd.actors.mailbox import Mailbox
from chatd.persistence.errors import StoreContention, StoreUnavailable
from chatd.persistence.messages import RoomAppend, RoomOutcome
from chatd.persistence.records import Appended, AppendItem
from chatd.persistence.store import Store

log = logging.getLogger("chatd.commits")


@dataclass(frozen=True, slots=True)
class CommitSettings:
    mailbox_size: int = 4096
    batch_limit: int = 1024  # rooms per transaction


@dataclass(eq=False, slots=True)
class CommitJob:
    append: RoomAppend
    done: trio.Event = field(default_factory=trio.Event)
    outcome: RoomOutcome | BaseException | None = None
    taken: bool = False  # in a transaction: the room must hear how it ended
    withdrawn: bool = False  # the room stopped waiting before it was taken: skip it

    def settle(self, outcome: RoomOutcome | BaseException) -> None:
        if not self.done.is_set():
            self.outcome = outcome
            self.done.set()


class CommitWriter:
    def __init__(self, store: Store, settings: CommitSettings = CommitSettings()) -> None:
        self.store = store
        self.settings = settings
        self.mailbox = Mailbox[CommitJob | Crash](settings.mailbox_size)  # outlives restarts of run()
        self._later: list[CommitJob] = []  # a room's second job waits for the next transaction
        self.transactions = self.rooms_committed = 0  # for the admin console and the benchmarks

    async def commit(self, room_id: int, items: list[AppendItem], expected_last_seq: int | None) -> list[Appended]:
        """Store one room's appends with whatever other rooms have ready; raises StaleRoom, StoreUnavailable,
        or the database's refusal of this room's items."""
        job = CommitJob(RoomAppend(room_id, items, expected_last_seq))
        try:
            await self.mailbox.put(job)
            await job.done.wait()
        except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
            raise StoreUnavailable("the node is stopping") from exc
        except BaseException:
            job.withdrawn = not job.taken
            raise
        outcome = job.outcome
        if isinstance(outcome, BaseException):
            raise outcome
        assert outcome is not None
        return outcome

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        while True:
            batch: list[CommitJob | Crash] = [*self._later]
            self._later = []
            batch += (self.mailbox.take_nowait(self.settings.batch_limit) if batch else
                      await self.mailbox.next_batch(self.settings.batch_limit))
            jobs = self._distinct_rooms([j for j in batch if isinstance(j, CommitJob) and not j.withdrawn])
            for job in jobs:
                job.taken = True
            try:
                await self._write(jobs)
                crash = next((c for c in batch if isinstance(c, Crash)), None)
                if crash is not None:
                    raise RuntimeError(crash.reason)
            finally:  # a crash or a cancel (restart, shutdown) must not leave a room waiting for ever
                for job in jobs:
                    job.settle(StoreUnavailable("the commit writer restarted; retry"))

    def _distinct_rooms(self, jobs: list[CommitJob]) -> list[CommitJob]:
        """One job per room in a transaction (a restarted room's job may meet its predecessor's); the
        others wait for the next one, in order."""
        seen: set[int] = set()
        now = []
        for job in jobs:
            if job.append.room_id in seen:
                self._later.append(job)
            else:
                seen.add(job.append.room_id)
                now.append(job)
        return now

    async def _write(self, jobs: list[CommitJob], *, again: bool = True) -> None:
        if not jobs:
            return
        try:
            outcomes = await self.store.append_rooms([j.append for j in jobs])
        except StoreContention as exc:
            if again:
                log.info("a commit of %d rooms lost a conflict, running it again: %s", len(jobs), exc)
                await self._write(jobs, again=False)
                return
            self._settle_all(jobs, exc)
            return
        except StoreUnavailable as exc:
            self._settle_all(jobs, exc)
            return
        except Exception as exc:
            if len(jobs) == 1:
                jobs[0].settle(exc)
                return
            log.warning("a commit of %d rooms was refused (%s: %s); splitting it to find the room",
                        len(jobs), type(exc).__name__, exc)
            half = len(jobs) // 2
            await self._write(jobs[:half])
            await self._write(jobs[half:])
            return
        self.transactions += 1
        self.rooms_committed += len(jobs)
        for job, outcome in zip(jobs, outcomes, strict=True):
            job.settle(outcome)

    @staticmethod
    def _settle_all(jobs: list[CommitJob], exc: BaseException) -> None:
        for job in jobs:
            job.settle(exc)
