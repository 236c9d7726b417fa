"""`chatctl grant-admin USERNAME`: the admin role is a column of users (migration 0009), set straight in the
database named by CHAT_DATABASE_URL (no server needed; pending migrations are applied first)."""

from __future__ import annotations

import asyncio

import asyncpg

from chatd.persistence.admin import set_admin
from chatd.persistence.migrate import DEFAULT_PARTITIONS, apply_migrations


def grant_admin(database_url: str, username: str, admin: bool = True, partitions: int = DEFAULT_PARTITIONS) -> bool:
    """Grant (or revoke) the admin role; False if there is no such user. `partitions`: CHAT_DB_PARTITIONS, for
    the migrations applied first."""
    async def run() -> bool:
        con = await asyncpg.connect(database_url)
        try:
            await apply_migrations(con, partitions=partitions)
            return await set_admin(con, username, admin)
        finally:
            await con.close()
    return asyncio.run(run())
