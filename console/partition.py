"""`chatctl partition-rooms N`: convert the per-room tables (messages, room_members, mentions, message_edits) of
a database in use into N hash partitions by room, with the SQL function migration 0017 made
(chatd_partition_by_room), in one transaction, then ANALYZE them (autovacuum never analyzes a partitioned
parent). Pending migrations are applied first, as the other database commands do.

Partitioning is opt-in (CHAT_DB_PARTITIONS defaults to 0): it pays off for operating very large tables (vacuum
and index builds a partition at a time), not for the speed of a query (docs/storage.md sections 2 and 4).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import asyncpg

from chatd.persistence.migrate import MAX_PARTITIONS, apply_migrations

PER_ROOM_TABLES = ("messages", "room_members", "mentions", "message_edits")
ALREADY_PARTITIONED = "55000"  # object_not_in_prerequisite_state, raised by chatd_partition_by_room
LOCK_NOT_AVAILABLE = "55P03"
LOCK_TIMEOUT = "10s"


class Refused(Exception):
    """Nothing was changed; str() says why."""


@dataclass(frozen=True)
class Converted:
    partitions: int  # as the catalog has them after the commit
    seconds: float  # conversion and ANALYZE


def check_count(partitions: int) -> int:
    """`partitions` if the conversion accepts it; Refused saying the range."""
    if not 1 <= partitions <= MAX_PARTITIONS:
        raise Refused(f"the number of partitions must be 1..{MAX_PARTITIONS}, got {partitions}")
    return partitions


async def partition_count(con: asyncpg.Connection) -> int:
    """How many hash partitions by room the per-room tables have (0: they are plain tables)."""
    return int(await con.fetchval("SELECT count(*) FROM pg_inherits WHERE inhparent = 'messages'::regclass"))


def _refuse_if_partitioned(count: int) -> None:
    if count:
        raise Refused(f"the per-room tables are already partitioned ({count} partitions); nothing was changed")


async def _connect(database_url: str, migrate_partitions: int) -> asyncpg.Connection:
    con = await asyncpg.connect(database_url)
    try:
        await apply_migrations(con, partitions=migrate_partitions)
    except BaseException:
        await con.close()
        raise
    return con


def check_unpartitioned(database_url: str, migrate_partitions: int) -> None:
    """Apply pending migrations (`migrate_partitions`: CHAT_DB_PARTITIONS, for 0017 if it is among them), then
    Refused if the tables are partitioned already: the question to settle before asking the operator."""
    async def run() -> None:
        con = await _connect(database_url, migrate_partitions)
        try:
            _refuse_if_partitioned(await partition_count(con))
        finally:
            await con.close()
    asyncio.run(run())


def partition_rooms(database_url: str, partitions: int, migrate_partitions: int) -> Converted:
    """Convert the per-room tables into `partitions` hash partitions by room, in one transaction (the four
    tables are locked until it commits), then ANALYZE them. Refused, with nothing changed, if the count is out
    of range or they are partitioned already."""
    check_count(partitions)

    async def run() -> Converted:
        con = await _connect(database_url, migrate_partitions)
        try:
            started = time.monotonic()
            try:
                async with con.transaction():
                    # the function locks the four tables first; traffic holding them makes it wait this long
                    # at most, so sends and reads are not queued behind it for ever
                    await con.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
                    await con.execute("SELECT chatd_partition_by_room($1)", partitions)
            except asyncpg.PostgresError as exc:
                if exc.sqlstate == ALREADY_PARTITIONED:
                    _refuse_if_partitioned(await partition_count(con))
                if exc.sqlstate == LOCK_NOT_AVAILABLE:
                    raise Refused(f"the per-room tables stayed in use for {LOCK_TIMEOUT}; nothing was changed:"
                                  " try again when chatd is quieter (or stopped)") from exc
                raise Refused(f"the conversion failed and was rolled back, nothing was changed: {exc}") from exc
            for table in PER_ROOM_TABLES:  # after the commit: ANALYZE blocks no reads or writes
                await con.execute(f"ANALYZE {table}")
            return Converted(await partition_count(con), time.monotonic() - started)
        finally:
            await con.close()
    return asyncio.run(run())
