"""Queries of end-to-end encryption (docs/protocol.md §12): device keys, one-time key claims, to-device
messages, key backup. Everything stored here is public keys or ciphertext (migration 0016).

Who may see whose keys, and send to whose devices: yourself, and anyone you share a room with, now or in
the past (`_SHARES`). A claim hands each one-time key out once, also under concurrency: the key is taken
under `FOR UPDATE SKIP LOCKED` and deleted in the same statement.
"""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from chatd.persistence.bridge import bridged
from chatd.protocol.e2ee import (
    MAX_HELD_KEYS,
    BackupKey,
    ClaimedKey,
    DeviceKeyInfo,
    DeviceKeys,
    DeviceRef,
    OneTimeKey,
    StoredBackupKey,
    ToDeviceIn,
    ToDeviceOut,
)
from chatd.protocol.errors import ErrorCode, Refusal

# `$1` shares a room (now or in the past) with the user in column `{col}`, or is that user: who may see keys
_SHARES = ("({col} = $1 OR EXISTS (SELECT 1 FROM room_members a JOIN room_members b ON b.room_id = a.room_id"
           " WHERE a.user_id = $1 AND b.user_id = {col}))")
# ... a room both are current members of: who may claim one-time keys and send to-device messages (a removed
# or banned member drains no keys and fills no inbox)
_SHARES_NOW = ("({col} = $1 OR EXISTS (SELECT 1 FROM room_members a JOIN room_members b ON b.room_id = a.room_id"
               " AND b.left_seq IS NULL WHERE a.user_id = $1 AND a.left_seq IS NULL AND b.user_id = {col}))")
MAX_INBOX = 10_000  # unacked to-device messages a device may hold; beyond, what is sent to it is skipped


@dataclass(frozen=True, slots=True)
class KeyCount:
    one_time_keys: int
    fallback: bool
    first_publish: bool  # these device keys were stored just now (others hear `devices_changed`)


@dataclass(frozen=True, slots=True)
class Backup:
    version: int
    auth: str


class KeyQueries:
    pool: asyncpg.Pool

    @bridged
    async def device_signing_key(self, device: str) -> str | None:
        return await self.pool.fetchval(  # type: ignore[no-any-return]
            "SELECT signing_key FROM device_keys WHERE device_id = $1", device)

    @bridged
    async def upload_keys(self, user: int, device: str, keys: DeviceKeys | None, one_time: list[OneTimeKey],
                          fallback: OneTimeKey | None) -> KeyCount:
        """Store what the device published (signatures were checked by the caller) and count what it holds."""
        first = False
        async with self.pool.acquire() as con, con.transaction():
            if keys is not None:
                stored = await con.fetchrow(
                    "INSERT INTO device_keys (device_id, user_id, identity_key, signing_key, signature)"
                    " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (device_id) DO NOTHING RETURNING 1",
                    device, user, keys.identity_key, keys.signing_key, keys.signature)
                first = stored is not None
                if not first:
                    same = await con.fetchval(
                        "SELECT identity_key = $2 AND signing_key = $3 FROM device_keys WHERE device_id = $1",
                        device, keys.identity_key, keys.signing_key)
                    if not same:
                        raise Refusal(ErrorCode.CONFLICT, "this device already published other identity keys: "
                                                          "sign in again as a new device")
            elif (one_time or fallback) and not await con.fetchval(
                    "SELECT 1 FROM device_keys WHERE device_id = $1", device):
                raise Refusal(ErrorCode.BAD_REQUEST, "publish device_keys before one-time or fallback keys")
            if one_time:
                await con.execute(
                    "INSERT INTO one_time_keys (device_id, key_id, key, signature)"
                    " SELECT $1, * FROM unnest($2::text[], $3::text[], $4::text[])"
                    " ON CONFLICT (device_id, is_fallback, key_id) DO NOTHING", device,
                    [k.key_id for k in one_time], [k.key for k in one_time], [k.signature for k in one_time])
            if fallback is not None:  # replaces the one there (two uploads at once: the later wins, no error)
                await con.execute(
                    "INSERT INTO one_time_keys (device_id, key_id, is_fallback, key, signature)"
                    " VALUES ($1, $2, true, $3, $4) ON CONFLICT (device_id) WHERE is_fallback DO UPDATE"
                    " SET key_id = EXCLUDED.key_id, key = EXCLUDED.key, signature = EXCLUDED.signature",
                    device, fallback.key_id, fallback.key, fallback.signature)
            row = await con.fetchrow(
                "SELECT count(*) FILTER (WHERE NOT is_fallback) AS otks, bool_or(is_fallback) AS fallback"
                " FROM one_time_keys WHERE device_id = $1", device)
            if row["otks"] > MAX_HELD_KEYS:
                raise Refusal(ErrorCode.BAD_REQUEST, f"a device holds at most {MAX_HELD_KEYS} unclaimed one-time "
                                                     f"keys; it would hold {row['otks']}")
        return KeyCount(row["otks"], bool(row["fallback"]), first)

    @bridged
    async def query_keys(self, me: int, users: list[int]) -> list[DeviceKeyInfo]:
        rows = await self.pool.fetch(
            "SELECT k.user_id, k.device_id, k.identity_key, k.signing_key, k.signature, d.name"
            " FROM device_keys k JOIN devices d ON d.id = k.device_id AND d.revoked_at IS NULL"
            f" WHERE k.user_id = ANY($2::bigint[]) AND {_SHARES.format(col='k.user_id')}"
            " ORDER BY k.user_id, k.created_at, k.device_id", me, users)
        return [DeviceKeyInfo(user=r["user_id"], device=str(r["device_id"]), identity_key=r["identity_key"],
                              signing_key=r["signing_key"], signature=r["signature"], name=r["name"]) for r in rows]

    @bridged
    async def claim_keys(self, me: int, wanted: list[DeviceRef]) -> list[ClaimedKey]:
        """One one-time key per device, each given out once; the fallback key where none is left."""
        refs = list(dict.fromkeys((w.user, w.device.lower()) for w in wanted))
        async with self.pool.acquire() as con, con.transaction():
            visible = await con.fetch(
                "SELECT w.user_id, w.device_id FROM unnest($2::bigint[], $3::uuid[]) AS w(user_id, device_id)"
                " JOIN device_keys k ON k.device_id = w.device_id AND k.user_id = w.user_id"
                " JOIN devices d ON d.id = w.device_id AND d.revoked_at IS NULL"
                f" WHERE {_SHARES_NOW.format(col='w.user_id')}", me, [u for u, _ in refs], [d for _, d in refs])
            owner = {r["device_id"]: r["user_id"] for r in visible}
            if not owner:
                return []
            taken = await con.fetch(
                "DELETE FROM one_time_keys o USING ("
                "  SELECT x.device_id, x.key_id FROM unnest($1::uuid[]) AS v(device_id) CROSS JOIN LATERAL ("
                "   SELECT device_id, key_id FROM one_time_keys WHERE device_id = v.device_id AND NOT is_fallback"
                "   ORDER BY key_id LIMIT 1 FOR UPDATE SKIP LOCKED) x) p"
                " WHERE o.device_id = p.device_id AND NOT o.is_fallback AND o.key_id = p.key_id"
                " RETURNING o.device_id, o.key_id, o.key, o.signature, false AS fallback", list(owner))
            missing = list(owner.keys() - {r["device_id"] for r in taken})
            fallbacks = await con.fetch(
                "SELECT device_id, key_id, key, signature, true AS fallback FROM one_time_keys"
                " WHERE device_id = ANY($1::uuid[]) AND is_fallback", missing) if missing else []
        return [ClaimedKey(user=owner[r["device_id"]], device=str(r["device_id"]), key_id=r["key_id"], key=r["key"],
                           signature=r["signature"], fallback=r["fallback"]) for r in [*taken, *fallbacks]]

    @bridged
    async def key_count(self, device: str) -> tuple[int, bool]:
        row = await self.pool.fetchrow(
            "SELECT count(*) FILTER (WHERE NOT is_fallback) AS otks, bool_or(is_fallback) AS fallback"
            " FROM one_time_keys WHERE device_id = $1", device)
        return row["otks"], bool(row["fallback"])

    @bridged
    async def peers(self, user: int) -> list[int]:
        """The user and everyone who is a current member of a room the user is a current member of."""
        rows = await self.pool.fetch(
            "SELECT $1::bigint AS user_id UNION SELECT b.user_id FROM room_members a"
            " JOIN room_members b ON b.room_id = a.room_id AND b.left_seq IS NULL"
            " WHERE a.user_id = $1 AND a.left_seq IS NULL", user)
        return [r["user_id"] for r in rows]

    # ------------------------------------------------------------------ to-device messages

    @bridged
    async def send_to_device(self, me: int, my_device: str, txn: str, messages: list[ToDeviceOut]
                             ) -> dict[int, set[str]]:
        """Store the messages for the devices that may receive them; the recipients stored now, by user (a retry
        of the same `txn` stores nothing again and names nobody).

        The recipient devices' rows are locked (in id order: no deadlock) before the insert takes its ids, so
        per device the ids follow the commit order: a device reading `id > what it was sent` never skips a
        row another sender committed later with a lower id, and an ack never deletes a row not yet sent."""
        devices = sorted({m.device.lower() for m in messages})
        async with self.pool.acquire() as con, con.transaction():
            await con.execute("SELECT 1 FROM devices WHERE id = ANY($1::uuid[]) ORDER BY id FOR UPDATE", devices)
            rows = await con.fetch(
                "INSERT INTO to_device (device_id, user_id, sender_id, sender_device, txn, part, body)"
                " SELECT w.device_id, w.user_id, $1, $2, $3, w.part, w.body"
                " FROM unnest($4::bigint[], $5::uuid[], $6::text[])"
                " WITH ORDINALITY AS w(user_id, device_id, body, part)"
                " JOIN devices d ON d.id = w.device_id AND d.user_id = w.user_id AND d.revoked_at IS NULL"
                f" WHERE {_SHARES_NOW.format(col='w.user_id')}"
                " AND (SELECT count(*) FROM (SELECT 1 FROM to_device t WHERE t.device_id = w.device_id"
                f"  LIMIT {MAX_INBOX}) held) < {MAX_INBOX}"  # a device that never reads is skipped, not waited on
                " ORDER BY w.part ON CONFLICT (device_id, sender_device, txn, part) DO NOTHING"
                " RETURNING user_id, device_id",
                me, my_device, txn, [m.user for m in messages], [m.device.lower() for m in messages],
                [m.body for m in messages])
        stored: dict[int, set[str]] = {}
        for r in rows:
            stored.setdefault(r["user_id"], set()).add(str(r["device_id"]))
        return stored

    @bridged
    async def to_device_after(self, device: str, after: int, limit: int) -> list[ToDeviceIn]:
        rows = await self.pool.fetch(
            "SELECT id, sender_id, sender_device, body FROM to_device WHERE device_id = $1 AND id > $2"
            " ORDER BY id LIMIT $3", device, after, limit)
        return [ToDeviceIn(id=r["id"], sender=r["sender_id"], sender_device=str(r["sender_device"]), body=r["body"])
                for r in rows]

    @bridged
    async def ack_to_device(self, device: str, upto: int) -> None:
        await self.pool.execute("DELETE FROM to_device WHERE device_id = $1 AND id <= $2", device, upto)

    @bridged
    async def to_device_heads(self, users: list[int]) -> list[tuple[int, str, int]]:
        """(user, device, highest to-device id waiting) for these users' devices (the gap watch)."""
        rows = await self.pool.fetch(
            "SELECT user_id, device_id, max(id) AS head FROM to_device WHERE user_id = ANY($1::bigint[])"
            " GROUP BY user_id, device_id", users)
        return [(r["user_id"], str(r["device_id"]), r["head"]) for r in rows]

    # ------------------------------------------------------------------ key backup

    @bridged
    async def create_backup(self, user: int, auth: str) -> Backup:
        async with self.pool.acquire() as con, con.transaction():
            version = await con.fetchval(  # first: the row lock waits for a put_backup_keys under way (FOR SHARE)
                "INSERT INTO key_backups (user_id, version, auth) VALUES ($1, nextval('key_backup_versions'), $2)"
                " ON CONFLICT (user_id) DO UPDATE SET version = EXCLUDED.version, auth = EXCLUDED.auth,"
                " created_at = now() RETURNING version", user, auth)
            await con.execute("DELETE FROM key_backup_entries WHERE user_id = $1", user)
        return Backup(version, auth)

    @bridged
    async def get_backup(self, user: int) -> Backup | None:
        row = await self.pool.fetchrow("SELECT version, auth FROM key_backups WHERE user_id = $1", user)
        return Backup(row["version"], row["auth"]) if row else None

    @bridged
    async def put_backup_keys(self, user: int, version: int, keys: list[BackupKey]) -> None:
        async with self.pool.acquire() as con, con.transaction():
            current = await con.fetchval("SELECT version FROM key_backups WHERE user_id = $1 FOR SHARE", user)
            _check_version(version, current)
            await con.execute(
                "INSERT INTO key_backup_entries (user_id, room_id, session_id, data)"
                " SELECT $1, * FROM unnest($2::bigint[], $3::text[], $4::text[])"
                " ON CONFLICT (user_id, room_id, session_id) DO UPDATE SET data = EXCLUDED.data", user,
                [k.room for k in keys], [k.session_id for k in keys], [k.data for k in keys])

    @bridged
    async def get_backup_keys(self, user: int, version: int, after: tuple[int, str], limit: int
                              ) -> list[StoredBackupKey]:
        async with self.pool.acquire() as con, con.transaction():
            _check_version(version, await con.fetchval("SELECT version FROM key_backups WHERE user_id = $1", user))
            rows = await con.fetch(
                "SELECT room_id, session_id, data FROM key_backup_entries WHERE user_id = $1"
                " AND (room_id, session_id) > ($2, $3) ORDER BY room_id, session_id LIMIT $4",
                user, after[0], after[1], limit)
        return [StoredBackupKey(room=r["room_id"], session_id=r["session_id"], data=r["data"]) for r in rows]


def _check_version(asked: int, current: int | None) -> None:
    if current is None:
        raise Refusal(ErrorCode.NOT_FOUND, "you have no key backup")
    if asked != current:
        raise Refusal(ErrorCode.CONFLICT, f"backup {asked} is not the current backup ({current})")
