"""Queries for invite links: create, list, revoke, look up, and the audit of who joined through which.

Joining itself is part of the room's group commit (persistence/messages.py), so the use count and the
membership change together, under the link's row lock.

A link is keyed (room_id, code) in its room; `invite_codes` maps a code to its room for whoever knows only
the code (migration 0018, docs/storage.md section 5): the room is found there first, then the link in the room.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from chatd.persistence.bridge import bridged
from chatd.persistence.records import InvitePreviewRow
from chatd.protocol.errors import Refusal
from chatd.protocol.frames import InviteInfo, InviteJoinRecord
from chatd.protocol.rooms import Role

CODE_BYTES = 18  # 144 bits, 24 URL-safe characters


def _ms(t: datetime | None) -> int | None:
    return int(t.timestamp() * 1000) if t is not None else None


def _info(r: Any) -> InviteInfo:
    return InviteInfo(code=r["code"], room=r["room_id"], created_by=r["created_by"],
                      created_ts=_ms(r["created_at"]) or 0, expires_ts=_ms(r["expires_at"]),
                      max_uses=r["max_uses"], use_count=r["use_count"],
                      revoked=r["revoked_at"] is not None)


def refuse_join(room_id: int, link: dict[str, Any] | None) -> Refusal | None:
    """Why a join through `link` (an invite_links row with `now`) into `room_id` must fail, if it must."""
    if link is None or link["room_id"] != room_id:
        return Refusal("not_found", "unknown invite code")
    if link["revoked_at"] is not None:
        return Refusal("invite_revoked", "this invite link was revoked")
    if link["expires_at"] is not None and link["expires_at"] <= link["now"]:
        return Refusal("invite_expired", "this invite link has expired")
    if link["max_uses"] is not None and link["use_count"] >= link["max_uses"]:
        return Refusal("invite_used_up", "this invite link has no uses left")
    return None


async def room_of_code(db: asyncpg.Pool | asyncpg.Connection, code: str) -> int | None:
    """The room of an invite code, or None: the first step of every lookup by code alone."""
    return await db.fetchval("SELECT room_id FROM invite_codes WHERE code = $1", code)  # type: ignore[no-any-return]


async def link_by_code(db: asyncpg.Pool | asyncpg.Connection, code: str) -> dict[str, Any] | None:
    """The invite_links row of `code` with `now`, found in its room; None if there is no such link."""
    room = await room_of_code(db, code)
    row = None if room is None else await db.fetchrow(
        "SELECT *, now() AS now FROM invite_links WHERE room_id = $1 AND code = $2", room, code)
    return dict(row) if row is not None else None


class InviteQueries:
    pool: asyncpg.Pool

    @bridged
    async def invite_preview(self, code: str, user_id: int) -> InvitePreviewRow:
        """What the link leads to, for someone deciding whether to join; a Refusal saying why joining would fail."""
        row = await self.pool.fetchrow(
            "SELECT l.room_id, l.expires_at, l.max_uses, l.use_count, l.revoked_at, now() AS now,"
            " r.name, r.description, r.icon,"
            " (SELECT count(*) FROM room_members m WHERE m.room_id = l.room_id AND m.left_seq IS NULL) AS members,"
            " EXISTS (SELECT 1 FROM room_members m WHERE m.room_id = l.room_id AND m.user_id = $3"
            "         AND m.left_seq IS NULL) AS member"
            " FROM invite_links l JOIN rooms r ON r.id = l.room_id WHERE l.room_id = $1 AND l.code = $2",
            await room_of_code(self.pool, code), code, user_id)
        refusal = refuse_join(row["room_id"] if row else 0, dict(row) if row else None)
        if refusal is not None:
            raise refusal
        assert row is not None
        return InvitePreviewRow(row["room_id"], row["name"], row["description"], row["icon"], row["members"],
                                row["member"])

    @bridged
    async def role_of(self, room_id: int, user_id: int) -> Role | None:
        """The user's role in the room if they are a current member."""
        return await self.pool.fetchval(  # type: ignore[no-any-return]
            "SELECT role FROM room_members WHERE room_id = $1 AND user_id = $2 AND left_seq IS NULL", room_id, user_id)

    @bridged
    async def create_invite(self, room_id: int, by: int, expires_in: int | None, max_uses: int | None) -> InviteInfo:
        expires = datetime.now(UTC) + timedelta(seconds=expires_in) if expires_in else None
        code = secrets.token_urlsafe(CODE_BYTES)
        async with self.pool.acquire() as con, con.transaction():
            await con.execute("INSERT INTO invite_codes (code, room_id) VALUES ($1, $2)", code, room_id)
            row = await con.fetchrow(
                "INSERT INTO invite_links (code, room_id, created_by, expires_at, max_uses)"
                " VALUES ($1, $2, $3, $4, $5) RETURNING *", code, room_id, by, expires, max_uses)
        return _info(row)

    @bridged
    async def list_invites(self, room_id: int) -> list[InviteInfo]:
        rows = await self.pool.fetch(
            "SELECT * FROM invite_links WHERE room_id = $1 ORDER BY created_at DESC LIMIT 1000", room_id)
        return [_info(r) for r in rows]

    @bridged
    async def revoke_invite(self, room_id: int, code: str) -> bool:
        """Revoke; False if the room has no such link. Revoking twice is fine."""
        done = await self.pool.execute("UPDATE invite_links SET revoked_at = COALESCE(revoked_at, now())"
                                       " WHERE room_id = $1 AND code = $2", room_id, code)
        return done != "UPDATE 0"

    @bridged
    async def invite_room(self, code: str) -> int | None:
        return await room_of_code(self.pool, code)

    @bridged
    async def invite_joiners(self, room_id: int, code: str) -> list[int]:
        """Current members who joined the room through this link."""
        rows = await self.pool.fetch(
            "SELECT DISTINCT j.user_id FROM invite_joins j JOIN room_members rm"
            " ON rm.room_id = j.room_id AND rm.user_id = j.user_id AND rm.left_seq IS NULL"
            " WHERE j.room_id = $1 AND j.code = $2", room_id, code)
        return [r["user_id"] for r in rows]

    @bridged
    async def invite_audit(self, room_id: int) -> list[InviteJoinRecord]:
        rows = await self.pool.fetch(
            "SELECT j.code, j.user_id, u.username, j.seq, j.joined_at FROM invite_joins j JOIN users u"
            " ON u.id = j.user_id WHERE j.room_id = $1 ORDER BY j.joined_at DESC LIMIT 1000", room_id)
        return [InviteJoinRecord(code=r["code"], user=r["user_id"], username=r["username"], seq=r["seq"],
                                 ts=_ms(r["joined_at"]) or 0) for r in rows]
