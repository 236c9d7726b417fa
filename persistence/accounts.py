"""Queries for users and refresh tokens."""

from __future__ import annotations

import asyncpg

from chatd.persistence.bridge import bridged
from chatd.persistence.errors import Conflict
from chatd.persistence.records import Account, DeviceGrant, RevokedDevices
from chatd.persistence.sessions import revoke


async def _lock_device_of(con: asyncpg.Connection, token_hash: bytes) -> None:
    """Lock the device of a refresh token before its tokens: every path that changes both (refresh, logout,
    persistence/sessions.py's revocations, an admin's disable) takes the device row first, so two of them
    cannot deadlock (a stolen token refreshing while its owner changes the password)."""
    await con.execute("SELECT 1 FROM devices WHERE id = (SELECT device_id FROM refresh_tokens WHERE token_hash = $1)"
                      " FOR UPDATE", token_hash)


# A login names an account by email or by username: one fixed statement each.
_BY_EMAIL = "SELECT id, username, password_hash, disabled FROM users WHERE lower(email) = lower($1)"
_BY_USERNAME = "SELECT id, username, password_hash, disabled FROM users WHERE lower(username) = lower($1)"


class AccountQueries:
    pool: asyncpg.Pool

    @bridged
    async def create_user(self, username: str, email: str, password_hash: str) -> int:
        try:
            return await self.pool.fetchval(  # type: ignore[no-any-return]
                "INSERT INTO users (username, email, password_hash) VALUES ($1, $2, $3) RETURNING id",
                username, email, password_hash)
        except asyncpg.UniqueViolationError as exc:
            raise Conflict("email" if "email" in (exc.constraint_name or "") else "username") from exc

    @bridged
    async def account_by_login(self, login: str) -> Account | None:
        row = await self.pool.fetchrow(_BY_EMAIL if "@" in login else _BY_USERNAME, login)
        return Account(row["id"], row["username"], row["password_hash"], row["disabled"]) if row else None

    @bridged
    async def active_username(self, user_id: int) -> str | None:
        """The username of an existing, not disabled user (token holders are re-checked at hello)."""
        return await self.pool.fetchval(  # type: ignore[no-any-return]
            "SELECT username FROM users WHERE id = $1 AND NOT disabled", user_id)

    @bridged
    async def resolve_users(self, refs: list[int | str]) -> dict[int | str, tuple[int, str]]:
        """Map user ids and usernames to (id, username); unknown refs are absent from the result."""
        ids = [r for r in refs if isinstance(r, int)]
        names = [r.lower() for r in refs if isinstance(r, str)]
        rows = await self.pool.fetch(
            "SELECT id, username FROM users WHERE NOT disabled AND (id = ANY($1::bigint[])"
            " OR lower(username) = ANY($2::text[]))", ids, names)
        by_id = {r["id"]: (r["id"], r["username"]) for r in rows}
        by_name = {r["username"].lower(): (r["id"], r["username"]) for r in rows}
        out: dict[int | str, tuple[int, str]] = {}
        for ref in refs:
            hit = by_id.get(ref) if isinstance(ref, int) else by_name.get(ref.lower())
            if hit:
                out[ref] = hit
        return out

    @bridged
    async def usernames(self, ids: list[int]) -> dict[int, str]:
        rows = await self.pool.fetch("SELECT id, username FROM users WHERE id = ANY($1::bigint[])", ids)
        return {r["id"]: r["username"] for r in rows}

    @bridged
    async def add_refresh_token(self, user_id: int, device_id: str, device_name: str | None,
                                token_hash: bytes, ttl_seconds: int, max_devices: int) -> RevokedDevices:
        """A new device and its first refresh token; if the user then has more than `max_devices` live devices,
        the least recently seen ones are signed out (returned: the caller closes their sockets). Logins of one
        user take turns here, so concurrent ones cannot each miss the other's device and pass the cap."""
        async with self.pool.acquire() as con, con.transaction():
            await con.execute("SELECT pg_advisory_xact_lock(hashtextextended('devices:' || $1::bigint, 0))", user_id)
            await con.execute(
                "WITH device AS (INSERT INTO devices (id, user_id, name) VALUES ($3, $2, $4)"
                "  ON CONFLICT (id) DO NOTHING)"
                " INSERT INTO refresh_tokens (token_hash, user_id, device_id, device_name, expires_at)"
                " VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5))",
                token_hash, user_id, device_id, device_name, float(ttl_seconds))
            return await revoke(con, user_id, None, device_id, max_devices)

    @bridged
    async def rotate_refresh_token(self, old_hash: bytes, new_hash: bytes, ttl_seconds: int,
                                   retry_seconds: float = 0.0) -> DeviceGrant | RevokedDevices | None:
        """Spend a refresh token and issue its successor (`new_hash`) for the same device, atomically.

        The successor is a function of the spent token (auth/tokens.py), so presenting the spent token again
        within `retry_seconds` while its successor is still unused (the reply was lost, or two browser tabs
        refreshed at once) grants that same successor again. Any other reuse of a spent token (it was copied)
        revokes the whole device. Two concurrent rotations serialize on the token's row lock.
        Returns the grant, the device revoked for reuse (its sockets must close), or None (unknown token).
        """
        async with self.pool.acquire() as con, con.transaction():
            await _lock_device_of(con, old_hash)
            row = await con.fetchrow(
                "UPDATE refresh_tokens t SET revoked_at = now(), replaced_by = $2 FROM users u"
                " WHERE t.token_hash = $1 AND t.revoked_at IS NULL AND t.expires_at > now()"
                " AND u.id = t.user_id AND NOT u.disabled"
                " RETURNING t.user_id, t.device_id, t.device_name, u.username", old_hash, new_hash)
            if row is not None:
                await con.execute(
                    "INSERT INTO refresh_tokens (token_hash, user_id, device_id, device_name, expires_at)"
                    " VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5))",
                    new_hash, row["user_id"], row["device_id"], row["device_name"], float(ttl_seconds))
                await con.execute("UPDATE devices SET last_seen_at = now() WHERE id = $1", row["device_id"])
                return DeviceGrant(row["user_id"], row["username"], str(row["device_id"]))
            if retry_seconds > 0:
                row = await con.fetchrow(
                    "SELECT t.user_id, t.device_id, u.username FROM refresh_tokens t"
                    " JOIN users u ON u.id = t.user_id JOIN refresh_tokens s ON s.token_hash = t.replaced_by"
                    " WHERE t.token_hash = $1 AND t.replaced_by = $2"
                    " AND t.revoked_at > now() - make_interval(secs => $3) AND NOT u.disabled"
                    " AND s.revoked_at IS NULL AND s.expires_at > now()", old_hash, new_hash, float(retry_seconds))
                if row is not None:
                    return DeviceGrant(row["user_id"], row["username"], str(row["device_id"]))
            spent = await con.fetchrow("SELECT user_id, device_id FROM refresh_tokens WHERE token_hash = $1"
                                       " AND revoked_at IS NOT NULL", old_hash)
            if spent is None:
                return None  # unknown (or expired unspent) token
            return await revoke(con, spent["user_id"], str(spent["device_id"]), None)

    @bridged
    async def revoke_device(self, token_hash: bytes) -> RevokedDevices | None:
        """Revoke the device that `token_hash` belongs to, and every refresh token of it (logout); None if the
        device was signed out already (or the token is unknown)."""
        async with self.pool.acquire() as con, con.transaction():
            await _lock_device_of(con, token_hash)
            row = await con.fetchrow("SELECT user_id, device_id FROM refresh_tokens WHERE token_hash = $1", token_hash)
            revoked = await revoke(con, row["user_id"], str(row["device_id"]), None) if row else None
            return revoked if revoked and revoked.devices else None

    @bridged
    async def read_receipts(self, user_id: int) -> bool:
        return bool(await self.pool.fetchval("SELECT read_receipts FROM users WHERE id = $1", user_id))

    @bridged
    async def set_read_receipts(self, user_id: int, enabled: bool) -> None:
        await self.pool.execute("UPDATE users SET read_receipts = $2 WHERE id = $1", user_id, enabled)
