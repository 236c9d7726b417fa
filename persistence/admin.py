"""Queries of the admin console (issue 8): the admin role, disabling accounts, looking users up by id or name."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from chatd.persistence.bridge import bridged


@dataclass(frozen=True, slots=True)
class UserRow:
    id: int
    username: str
    disabled: bool
    is_admin: bool


class AdminQueries:
    pool: asyncpg.Pool

    @bridged
    async def is_admin(self, user_id: int) -> bool:
        """True for an existing, not disabled user with the admin role."""
        return bool(await self.pool.fetchval(
            "SELECT is_admin FROM users WHERE id = $1 AND NOT disabled", user_id))

    @bridged
    async def find_user(self, ref: int | str) -> UserRow | None:
        """A user by id or (case-insensitive) username, disabled ones included."""
        sql = "SELECT id, username, disabled, is_admin FROM users WHERE "
        row = await (self.pool.fetchrow(sql + "id = $1", ref) if isinstance(ref, int)
                     else self.pool.fetchrow(sql + "lower(username) = lower($1)", ref))
        return UserRow(row["id"], row["username"], row["disabled"], row["is_admin"]) if row else None

    @bridged
    async def set_disabled(self, user_id: int, disabled: bool) -> int:
        """Disable (or enable) an account; disabling also revokes every refresh token it holds.

        Returns how many refresh tokens were revoked. Access tokens stop working at once because hello and
        the HTTP bearer check look the account and device up (persistence/sessions.py session).
        """
        async with self.pool.acquire() as con, con.transaction():
            await con.execute("UPDATE users SET disabled = $2 WHERE id = $1 AND deleted_at IS NULL", user_id, disabled)
            if not disabled:
                return 0
            await con.execute("UPDATE devices SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL",
                              user_id)
            status = await con.execute(
                "UPDATE refresh_tokens SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL", user_id)
            return int(status.rsplit(" ", 1)[-1])


async def set_admin(con: asyncpg.Connection, username: str, admin: bool) -> bool:
    """Grant or revoke the admin role (asyncio side, for `chatctl grant-admin`); False if there is no such user."""
    status = await con.execute("UPDATE users SET is_admin = $2 WHERE lower(username) = lower($1)", username, admin)
    return not status.endswith(" 0")
