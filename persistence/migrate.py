"""Versioned SQL migrations: persistence/migrations/NNNN_name.sql, applied in order at start.

Each file runs in its own transaction together with its row in ``schema_migrations``; a transaction-level
advisory lock serialises concurrent starters, so two processes starting at once apply each file once.

Deployment settings a migration reads are passed as transaction-local settings: `chatd.partitions`, how
many hash partitions by room the per-room tables get when 0017 runs (CHAT_DB_PARTITIONS; 0, the default:
none; later, `chatctl partition-rooms N` converts a database in use).
"""

from __future__ import annotations

import re
from importlib import resources

import asyncpg

MIGRATION_LOCK_KEY = 0x43686174  # "Chat"
FILE_RE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
DEFAULT_PARTITIONS = 0  # CHAT_DB_PARTITIONS' default (and 0017's when nothing is passed): unpartitioned
MAX_PARTITIONS = 1024


def check_partitions(partitions: int) -> int:
    """`partitions` if it is a partition count 0017 accepts (0: unpartitioned); ValueError saying the range."""
    if isinstance(partitions, bool) or not isinstance(partitions, int) or not 0 <= partitions <= MAX_PARTITIONS:
        raise ValueError(f"partitions must be a whole number 0..{MAX_PARTITIONS} (0: unpartitioned),"
                         f" got {partitions!r}")
    return partitions


def migration_files() -> list[tuple[int, str, str]]:
    out = []
    for entry in resources.files("chatd.persistence.migrations").iterdir():
        m = FILE_RE.match(entry.name)
        if m:
            out.append((int(m.group(1)), m.group(2), entry.read_text()))
    versions = [v for v, _, _ in out]
    if len(set(versions)) != len(versions):
        raise RuntimeError(f"duplicate migration versions in {sorted(versions)}")
    return sorted(out)


async def apply_migrations(con: asyncpg.Connection, *, partitions: int = DEFAULT_PARTITIONS,
                           upto: int | None = None) -> list[int]:
    """Apply missing migrations (those up to version `upto`, if given); returns the versions applied now
    (asyncio side). `partitions`: CHAT_DB_PARTITIONS, read by 0017 if it is among them."""
    check_partitions(partitions)
    applied_now = []
    for version, name, sql in migration_files():
        if upto is not None and version > upto:
            break
        async with con.transaction():
            await con.execute("SELECT pg_advisory_xact_lock($1)", MIGRATION_LOCK_KEY)
            await con.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " version int PRIMARY KEY, name text NOT NULL,"
                " applied_at timestamptz NOT NULL DEFAULT now())")
            done = await con.fetchval("SELECT 1 FROM schema_migrations WHERE version = $1", version)
            if done:
                continue
            await con.execute("SELECT set_config('chatd.partitions', $1, true)", str(partitions))
            await con.execute(sql)
            await con.execute("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", version, name)
            applied_now.append(version)
    return applied_now
