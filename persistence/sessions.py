"""Queries for sessions (devices): is one still live, list them, revoke them; password change; account deletion.

A device is one signed-in client (one signup or login, migration 0011). Revoking one also revokes every refresh
token of it, in the same transaction, and returns the device ids so the caller can close their sockets.
"""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from chatd.persistence.bridge import bridged
from chatd.persistence.invites import link_by_code, refuse_join
from chatd.persistence.records import RevokedDevices
from chatd.protocol.devices import DeviceInfo
from chatd.protocol.errors import Refusal

SEEN_EVERY_SECONDS = 60  # a device's last_seen_at is written at most this often


@dataclass(frozen=True, slots=True)
class SessionRow:
    username: str
    account_active: bool  # neither disabled nor deleted
    device_live: bool


def _ms(row: asyncpg.Record, key: str) -> int:
    return int(row[key].timestamp() * 1000)


_REVOKE = (
    "WITH d AS (UPDATE devices SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL"
    " AND ($2::uuid IS NULL OR id = $2) AND ($3::uuid IS NULL OR id <> $3)"
    # keep_newest: the kept device ($3, a login's new one) always, and the newest others up to the cap, whatever
    # its timestamps say (a login that waited for the lock began, and stamped its device, before ones that did not)
    " AND ($4::int IS NULL OR id NOT IN (SELECT id FROM devices WHERE user_id = $1 AND revoked_at IS NULL"
    "  AND ($3::uuid IS NULL OR id <> $3)"
    "  ORDER BY last_seen_at DESC, created_at DESC, id LIMIT $4 - CASE WHEN $3::uuid IS NULL THEN 0 ELSE 1 END))"
    " RETURNING id),"
    " t AS (UPDATE refresh_tokens SET revoked_at = now() WHERE revoked_at IS NULL AND device_id IN (SELECT id FROM d))"
    " , k AS (DELETE FROM device_keys WHERE device_id IN (SELECT id FROM d))"  # its one-time keys go with them
    " , m AS (DELETE FROM to_device WHERE device_id IN (SELECT id FROM d))"
    " SELECT id FROM d")


async def revoke(con: asyncpg.Connection, user_id: int, only: str | None, keep: str | None,
                  keep_newest: int | None = None) -> RevokedDevices:
    """Revoke the user's live devices (`only` one, all but `keep`, all but the `keep_newest` most recently seen),
    their refresh tokens, their published keys and their unread to-device messages; the caller closes their
    sockets (gateway/sessions.py close_revoked)."""
    rows = await con.fetch(_REVOKE, user_id, only, keep, keep_newest)
    return RevokedDevices(user_id, tuple(str(r["id"]) for r in rows))


class SessionQueries:
    pool: asyncpg.Pool

    @bridged
    async def session(self, user_id: int, device_id: str) -> SessionRow | None:
        """The account and device behind an access token (None: no such user); notes the device as seen."""
        row = await self.pool.fetchrow(
            "WITH seen AS (UPDATE devices SET last_seen_at = now() WHERE id = $2 AND user_id = $1"
            "  AND revoked_at IS NULL AND last_seen_at < now() - make_interval(secs => $3))"
            " SELECT u.username, NOT u.disabled AND u.deleted_at IS NULL AS active,"
            "  EXISTS (SELECT 1 FROM devices d WHERE d.id = $2 AND d.user_id = u.id AND d.revoked_at IS NULL) AS live"
            " FROM users u WHERE u.id = $1", user_id, device_id, float(SEEN_EVERY_SECONDS))
        return SessionRow(row["username"], row["active"], row["live"]) if row else None

    @bridged
    async def list_devices(self, user_id: int, current: str) -> list[DeviceInfo]:
        rows = await self.pool.fetch(
            "SELECT id, name, created_at, last_seen_at FROM devices WHERE user_id = $1 AND revoked_at IS NULL"
            " ORDER BY last_seen_at DESC, id LIMIT 1000", user_id)
        return [DeviceInfo(device=str(r["id"]), name=r["name"], created_ts=_ms(r, "created_at"),
                           last_seen_ts=_ms(r, "last_seen_at"), current=str(r["id"]) == current) for r in rows]

    @bridged
    async def revoke_devices(self, user_id: int, *, only: str | None = None, keep: str | None = None
                             ) -> RevokedDevices:
        """Revoke the user's live devices: just `only` when given, all but `keep` when given."""
        async with self.pool.acquire() as con, con.transaction():
            return await revoke(con, user_id, only, keep)

    @bridged
    async def password_hash(self, user_id: int) -> str | None:
        return await self.pool.fetchval(  # type: ignore[no-any-return]
            "SELECT password_hash FROM users WHERE id = $1 AND NOT disabled AND deleted_at IS NULL", user_id)

    @bridged
    async def change_password(self, user_id: int, password_hash: str, keep: str) -> RevokedDevices:
        """Store the new password hash and revoke every other device of the user, in one transaction."""
        async with self.pool.acquire() as con, con.transaction():
            await con.execute("UPDATE users SET password_hash = $2 WHERE id = $1", user_id, password_hash)
            return await revoke(con, user_id, None, keep)

    @bridged
    async def signup_invite(self, code: str) -> Refusal | None:
        """Why `code` cannot admit a signup (CHAT_REGISTRATION=invite), or None: a live invite link's code."""
        link = await link_by_code(self.pool, code)
        return refuse_join(link["room_id"] if link else 0, link)

    @bridged
    async def current_groups(self, user_id: int) -> list[int]:
        rows = await self.pool.fetch(
            "SELECT m.room_id FROM room_members m JOIN rooms r ON r.id = m.room_id"
            " WHERE m.user_id = $1 AND m.left_seq IS NULL AND r.kind = 'group' ORDER BY m.room_id", user_id)
        return [r["room_id"] for r in rows]

    @bridged
    async def delete_account(self, user_id: int) -> RevokedDevices:
        """Delete the account (docs/protocol.md 3.8): the row stays, as the sender of its messages, under the name
        `deleted-<id>` (a name signup cannot take), with no email, password, profile or push subscription; it is
        disabled and every device is revoked. Messages and media stay."""
        async with self.pool.acquire() as con, con.transaction():
            await con.execute(
                "UPDATE users SET username = 'deleted-' || id, email = 'deleted-' || id || '@invalid',"
                " password_hash = '', disabled = true, is_admin = false, deleted_at = now() WHERE id = $1", user_id)
            await con.execute("DELETE FROM profiles WHERE user_id = $1", user_id)
            await con.execute("DELETE FROM push_subscriptions WHERE user_id = $1", user_id)
            return await revoke(con, user_id, None, None)


async def create_account(con: asyncpg.Connection, username: str, email: str, password_hash: str) -> int | None:
    """A new account (asyncio side, for `chatctl create-user`: whatever the registration mode); None if the username
    or email is taken."""
    try:
        return await con.fetchval(  # type: ignore[no-any-return]
            "INSERT INTO users (username, email, password_hash) VALUES ($1, $2, $3) RETURNING id",
            username, email, password_hash)
    except asyncpg.UniqueViolationError:
        return None
