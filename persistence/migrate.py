"""Versioned SQL migrations: persistence/migrations/NNNN_name.sql, applied in order at start.

Each file runs in its own transaction together with its row in ``schema_migrations``; a transaction-level
advisory lock serialises concurrent starters, so two processes starting at once apply each file once.
"""

from __future__ import annotations

import re
from importlib import resources

import asyncpg

MIGRATION_LOCK_KEY = 0x43686174  # "Chat"
FILE_RE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


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


async def apply_migrations(con: asyncpg.Connection) -> list[int]:
    """Apply missing migrations; returns the versions applied now (asyncio side)."""
    applied_now = []
    for version, name, sql in migration_files():
        async with con.transaction():
            await con.execute("SELECT pg_advisory_xact_lock($1)", MIGRATION_LOCK_KEY)
            await con.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " version int PRIMARY KEY, name text NOT NULL,"
                " applied_at timestamptz NOT NULL DEFAULT now())")
            done = await con.fetchval("SELECT 1 FROM schema_migrations WHERE version = $1", version)
            if done:
                continue
            await con.execute(sql)
            await con.execute("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", version, name)
            applied_now.append(version)
    return applied_now
