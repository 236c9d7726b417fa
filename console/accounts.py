"""`chatctl create-user USERNAME EMAIL`: an account made straight in the database named by CHAT_DATABASE_URL, under
the same rules as signup (no server needed; pending migrations are applied first). The one way to make accounts
when CHAT_REGISTRATION=closed."""

from __future__ import annotations

import asyncio
import re

import asyncpg

from chatd.auth.passwords import PasswordHasher, check_email, check_password_rules
from chatd.persistence.migrate import DEFAULT_PARTITIONS, apply_migrations
from chatd.persistence.sessions import create_account
from chatd.protocol.frames import USERNAME_RE


def create_user(database_url: str, username: str, email: str, password: str,
                partitions: int = DEFAULT_PARTITIONS) -> int:
    """The new account's id; ValueError naming what is wrong (a rule, or a name or email already taken).
    `partitions`: CHAT_DB_PARTITIONS, for the migrations applied first."""
    if not re.fullmatch(USERNAME_RE, username):
        raise ValueError("username must be 3..32 letters, digits, '_' or '.'")
    problem = check_email(email) or check_password_rules(username, password)
    if problem:
        raise ValueError(problem)
    password_hash = PasswordHasher().hash_blocking(password)

    async def run() -> int | None:
        con = await asyncpg.connect(database_url)
        try:
            await apply_migrations(con, partitions=partitions)
            return await create_account(con, username, email.lower(), password_hash)
        finally:
            await con.close()
    user_id = asyncio.run(run())
    if user_id is None:
        raise ValueError("that username or email is already taken")
    return user_id
