"""CommitWriter: the one actor per node that stores what every room actor has ready, in one transaction.

A room actor admits its batch (membership, roles: actors/rules.py) and hands the appends here with
`commit()`, which waits for the outcome. The writer takes every room's job that is waiting, stores them
all with `Store.append_rooms` (one transaction, one statement per kind of work, seqs assigned per room
inside it: persistence/seqplan.py) and wakes each room with its own outcome; while that transaction runs,
the next batch gathers. So a thousand direct rooms with one message each cost one transaction instead of
a thousand, and a busy room still commits everything its mailbox held at once.

Failures stay with the room they belong to: a stale room (another process changed its membership) gets
StaleRoom and the others are stored; an outage gets every job StoreUnavailable (the rooms answer `retry`);
a batch the database refuses for another reason is split, each room committing alone, so only the room
whose request is poisonous sees the error (and isolates the request itself, actors/room.py). A writer that
crashes or is cancelled answers its unfinished jobs StoreUnavailable first; clients retry with the same
client ids, so a commit that did land is not stored twice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import trio

from actors.items import Crash
from actors.mailbox import Mailbox
from persistence.errors import StoreUnavailable
from persistence.messages import RoomAppend, RoomOutcome
from persistence.records import Appended, AppendItem
from persistence.store import Store

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

    def settle(self, outcome: RoomOutcome | BaseException) -> None:
        if not self.done.is_set():
            self.outcome = outcome
            self.done.set()


class CommitWriter:
    def __init__(self, store: Store, settings: CommitSettings = CommitSettings()) -> None:
        self.store = store
        self.settings = settings
        self.mailbox = Mailbox[CommitJob | Crash](settings.mailbox_size)  # outlives restarts of run()
        self.transactions = self.rooms_committed = 0  # for the admin console and the benchmarks

    async def commit(self, room_id: int, items: list[AppendItem], expected_last_seq: int | None) -> list[Appended]:
        """Store one room's appends with whatever other rooms have ready; raises StaleRoom, StoreUnavailable,
        or the database's refusal of this room's items."""
        job = CommitJob(RoomAppend(room_id, items, expected_last_seq))
        try:
            await self.mailbox.put(job)
        except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
            raise StoreUnavailable("the node is stopping") from exc
        await job.done.wait()
        outcome = job.outcome
        if isinstance(outcome, BaseException):
            raise outcome
        assert outcome is not None
        return outcome

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        while True:
            batch = await self.mailbox.next_batch(self.settings.batch_limit)
            jobs = [j for j in batch if isinstance(j, CommitJob)]
            try:
                await self._write(jobs)
                crash = next((c for c in batch if isinstance(c, Crash)), None)
                if crash is not None:
                    raise RuntimeError(crash.reason)
            finally:  # a crash or a cancel (restart, shutdown) must not leave a room waiting for ever
                for job in jobs:
                    job.settle(StoreUnavailable("the commit writer restarted; retry"))

    async def _write(self, jobs: list[CommitJob]) -> None:
        if not jobs:
            return
        try:
            outcomes = await self.store.append_rooms([j.append for j in jobs])
        except StoreUnavailable as exc:
            for job in jobs:
                job.settle(exc)
            return
        except Exception as exc:
            if len(jobs) == 1:
                jobs[0].settle(exc)
                return
            log.warning("a commit of %d rooms was refused (%s: %s); committing each room alone",
                        len(jobs), type(exc).__name__, exc)
            for job in jobs:  # the refusal is one room's: find it, store the others
                await self._write([job])
            return
        self.transactions += 1
        self.rooms_committed += len(jobs)
        for job, outcome in zip(jobs, outcomes, strict=True):
            job.settle(outcome)

