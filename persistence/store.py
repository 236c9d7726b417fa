"""The store: an asyncpg pool (asyncio side) exposed to trio through bridged methods.

With a read replica configured, a second pool on it serves history pages and backlog batches when it has
replayed what they need (persistence/replica.py); everything else uses the primary's pool.

Every SQL statement of the server lives in persistence/; nothing else imports asyncpg.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable

import asyncpg
import trio

from chatd.persistence.accounts import AccountQueries
from chatd.persistence.admin import AdminQueries
from chatd.persistence.bridge import aio, bridged
from chatd.persistence.e2ee import KeyQueries
from chatd.persistence.errors import StoreUnavailable
from chatd.persistence.invites import InviteQueries
from chatd.persistence.media import MediaQueries
from chatd.persistence.media_gc import MediaCollectorQueries
from chatd.persistence.messages import MessageQueries
from chatd.persistence.migrate import DEFAULT_PARTITIONS, apply_migrations
from chatd.persistence.profiles import ProfileQueries
from chatd.persistence.push import PushQueries
from chatd.persistence.replica import ReplicaCounts, ReplicaReads
from chatd.persistence.rooms import RoomQueries
from chatd.persistence.sessions import SessionQueries
from chatd.persistence.upload_quota import UploadQuotaQueries

# Every statement of the server is a short one on a few index entries. JIT compilation (on by default in
# Postgres, for plans whose estimated cost passes jit_above_cost) costs 100-300 ms per execution and saves
# nothing here; and a statement over partitioned tables (0017) is costed as the sum over every partition
# and every subquery's partitions, so list_rooms' unread counts passed the threshold and took 40 ms
# instead of 1 (measured on 16 partitions). Set at connection start, so it is no SET the pool must reset.
SESSION_SETTINGS = {"jit": "off"}


async def _init_connection(con: asyncpg.Connection) -> None:
    await con.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


async def _keep_session(con: asyncpg.Connection) -> None:
    """On release to the pool: nothing to reset. asyncpg's default (RESET ALL, UNLISTEN *, CLOSE ALL,
    advisory unlock) is a round trip per use; the server never changes session state (no SET, LISTEN,
    session-level advisory lock or cursor outside a transaction), and asyncpg itself still rolls back
    a transaction left open."""


class Store(AccountQueries, RoomQueries, MessageQueries, InviteQueries, ProfileQueries, MediaQueries,
            PushQueries, AdminQueries, SessionQueries, MediaCollectorQueries, UploadQuotaQueries, KeyQueries):
    def __init__(self, pool: asyncpg.Pool, replica: asyncpg.Pool | None = None) -> None:
        self.pool = pool
        self.replica = replica
        self.reads = ReplicaReads(pool, replica)

    @classmethod
    async def open(cls, dsn: str, *, min_size: int = 2, max_size: int = 10, command_timeout: float = 10.0,
                   migrate: bool = True, replica_dsn: str | None = None,
                   partitions: int = DEFAULT_PARTITIONS) -> Store:
        """Connect (from trio) and apply pending migrations (`partitions`: CHAT_DB_PARTITIONS, for 0017). The
        replica's pool connects on first use, so a replica that is down when the server starts only sends its
        reads to the primary."""
        def pool_on(url: str, min_size: int) -> Awaitable[asyncpg.Pool]:
            return asyncpg.create_pool(url, min_size=min_size, max_size=max_size, command_timeout=command_timeout,
                                       init=_init_connection, reset=_keep_session, server_settings=SESSION_SETTINGS)

        async def connect() -> tuple[asyncpg.Pool, asyncpg.Pool | None]:
            pool = await pool_on(dsn, min_size)
            if migrate:
                async with pool.acquire() as con:
                    await apply_migrations(con, partitions=partitions)
            return pool, (await pool_on(replica_dsn, 0) if replica_dsn else None)
        return cls(*await bridged(connect)())

    @property
    def replica_counts(self) -> ReplicaCounts:
        """Where the reads a replica may serve went (all to the primary when none is configured)."""
        return self.reads.counts

    async def close(self) -> None:
        if self.replica is not None:
            await aio(self.replica.close)()
        await aio(self.pool.close)()

    @bridged
    async def ping(self) -> bool:
        return await self.pool.fetchval("SELECT true")  # type: ignore[no-any-return]

    async def ping_ok(self) -> bool:
        """Whether Postgres answers within 2 seconds (for health checks; never raises)."""
        with trio.move_on_after(2):
            try:
                return await self.ping()
            except StoreUnavailable:
                return False
        return False
