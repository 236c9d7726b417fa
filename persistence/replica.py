"""Reads a streaming replica may serve: history pages and backlog batches (docs/architecture.md, "Read replicas").

A replica lags the primary, and a reader must never miss a message the server has acknowledged or pushed. So
every such read names what it needs: for some rooms, the seq up to which the rows must be there (`Need`). On
the replica the read runs in one read-only REPEATABLE READ transaction that first reads those rooms' heads
(`rooms.last_seq`, moved by the very transaction that stores a message, with its membership and settings
changes): if a room is behind what is needed, or missing, the replica has not replayed it yet and the read
runs on the primary instead. A snapshot with every head at or past the need holds every transaction up to
those commits, since a standby replays commits in the primary's order.

A replica that fails (down, a query cancelled by a recovery conflict, a timeout) is logged and the read runs on
the primary: the user never sees it. After a failure the replica is left alone for `RETRY_SECONDS`, so an
outage costs one failed attempt per that interval, not one per read. `counts` say where reads went.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar

import asyncpg

from chatd.persistence.bridge import TRANSIENT_DB_ERRORS

log = logging.getLogger("chatd.replica")
T = TypeVar("T")

Need = Mapping[int, int]  # room id -> the seq the replica must have replayed for that room
RETRY_SECONDS = 2.0  # after a replica failure, reads go straight to the primary this long
TIMEOUT_SECONDS = 3.0  # a replica read (connecting included) taking longer is given up for the primary
REPLICA_ERRORS: tuple[type[BaseException], ...] = (asyncpg.PostgresError, *TRANSIENT_DB_ERRORS)


@dataclass
class ReplicaCounts:
    """Where the reads that may use the replica went, since the store opened."""

    replica: int = 0  # served by the replica
    behind: int = 0  # the replica had not replayed what the reader needs: served by the primary
    failed: int = 0  # the replica failed (logged): served by the primary
    skipped: int = 0  # within RETRY_SECONDS of a failure: served by the primary without trying the replica

    def served(self) -> dict[str, int]:
        """The counts by name (the metric `chatd_replica_reads{served=...}`)."""
        return {"replica": self.replica, "behind": self.behind, "failed": self.failed, "skipped": self.skipped}


class ReplicaReads:
    """The one path for "on the replica if it is fresh enough, else on the primary" (asyncio side)."""

    def __init__(self, primary: asyncpg.Pool, replica: asyncpg.Pool | None) -> None:
        self.primary = primary
        self.replica = replica
        self.counts = ReplicaCounts()
        self._retry_at = 0.0

    async def read(self, need: Need | None, read: Callable[[asyncpg.Connection], Awaitable[T]]) -> T:
        """`read(con)` on the replica when every room of `need` is replayed that far there, else on the primary.

        `need` None: the primary (a read whose need is unknown). What `read` raises that is not a database error
        (a Refusal) is the answer and is raised as it is."""
        if self.replica is not None and need is not None:
            loop = asyncio.get_running_loop()
            if loop.time() < self._retry_at:
                self.counts.skipped += 1
            else:
                try:
                    async with asyncio.timeout(TIMEOUT_SECONDS):
                        result = await self._on_replica(self.replica, need, read)
                except _Behind:
                    self.counts.behind += 1
                except REPLICA_ERRORS as exc:
                    self.counts.failed += 1
                    self._retry_at = loop.time() + RETRY_SECONDS
                    log.warning("replica read failed, reading on the primary (the replica is left alone for %s s):"
                                " %s: %s", RETRY_SECONDS, type(exc).__name__, exc)
                else:
                    self.counts.replica += 1
                    return result
        async with self.primary.acquire() as con:
            return await read(con)

    @staticmethod
    async def _on_replica(pool: asyncpg.Pool, need: Need, read: Callable[[asyncpg.Connection], Awaitable[T]]) -> T:
        async with pool.acquire() as con, con.transaction(isolation="repeatable_read", readonly=True):
            if await con.fetchval(
                    "SELECT count(*) FROM unnest($1::bigint[], $2::bigint[]) AS n(id, seq)"
                    " LEFT JOIN rooms r ON r.id = n.id WHERE r.last_seq IS NULL OR r.last_seq < n.seq",
                    list(need), list(need.values())):
                raise _Behind
            return await read(con)


class _Behind(Exception):
    """The replica has not replayed what a read needs (yet)."""
