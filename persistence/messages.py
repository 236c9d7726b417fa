"""Queries for messages: the group-commit append, catch-up ranges and history pages."""

from __future__ import annotations

import asyncpg

from persistence.bridge import bridged
from persistence.records import Appended, AppendItem, MemberChange, NewText, to_message
from protocol.frames import Message

MESSAGE_COLUMNS = "room_id, seq, sender_id, client_id, kind, body, event, created_at"


class MessageQueries:
    pool: asyncpg.Pool

    @bridged
    async def append(self, room_id: int, items: list[AppendItem]) -> list[Appended]:
        """Store a batch in one transaction and return one result per item, in order.

        The room row is locked first, so seq assignment and the idempotency check are race-free even
        with writers in other processes. A text whose (sender, client_id) is already stored - earlier
        or in this very batch - is not stored again; its result is the original with duplicate=True.
        """
        async with self.pool.acquire() as con, con.transaction():
            last_seq = await con.fetchval("SELECT last_seq FROM rooms WHERE id = $1 FOR UPDATE", room_id)
            if last_seq is None:
                raise LookupError(f"room {room_id} does not exist")
            texts = [i for i in items if isinstance(i, NewText)]
            known: dict[tuple[int, str], Message] = {}
            if texts:
                rows = await con.fetch(
                    f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE room_id = $1 AND (sender_id, client_id)"
                    " IN (SELECT * FROM unnest($2::bigint[], $3::uuid[]))",
                    room_id, [t.sender for t in texts], [t.client_id for t in texts])
                known = {(r["sender_id"], str(r["client_id"])): to_message(r) for r in rows}
            plan: list[tuple[int, AppendItem] | tuple[None, tuple[int, str]]] = []
            fresh: list[tuple[int, AppendItem]] = []
            claimed: set[tuple[int, str]] = set()
            for item in items:
                if isinstance(item, NewText):
                    key = (item.sender, item.client_id.lower())
                    if key in known or key in claimed:
                        plan.append((None, key))
                        continue
                    claimed.add(key)
                last_seq += 1
                plan.append((last_seq, item))
                fresh.append((last_seq, item))
            stored = {}
            if fresh:
                rows = await con.fetch(
                    f"INSERT INTO messages (room_id, seq, sender_id, client_id, kind, body, event)"
                    f" SELECT $1, * FROM unnest($2::bigint[], $3::bigint[], $4::uuid[], $5::text[],"
                    f" $6::text[], $7::jsonb[]) RETURNING {MESSAGE_COLUMNS}",
                    room_id, *zip(*(_row(seq, item) for seq, item in fresh), strict=True))
                stored = {r["seq"]: to_message(r) for r in rows}
                for seq, item in fresh:
                    if isinstance(item, MemberChange):
                        await _apply_member_change(con, room_id, seq, item)
                await con.execute("UPDATE rooms SET last_seq = $2 WHERE id = $1", room_id, last_seq)
            for seq, item in fresh:
                if isinstance(item, NewText):
                    known[(item.sender, item.client_id.lower())] = stored[seq]
        return [Appended(stored[seq]) if seq is not None else Appended(known[key], duplicate=True)  # type: ignore[index]
                for seq, key in plan]

    @bridged
    async def messages_after(self, ranges: list[tuple[int, int, int]], limit: int) -> list[Message]:
        """Up to `limit` messages with after < seq <= upto, for (room, after, upto) ranges; by room, seq."""
        if not ranges:
            return []
        rooms, afters, uptos = (list(col) for col in zip(*ranges, strict=True))
        rows = await self.pool.fetch(
            f"SELECT m.* FROM unnest($1::bigint[], $2::bigint[], $3::bigint[]) AS r(room_id, after, upto)"
            f" CROSS JOIN LATERAL (SELECT {MESSAGE_COLUMNS} FROM messages m WHERE m.room_id = r.room_id"
            f" AND m.seq > r.after AND m.seq <= r.upto ORDER BY m.seq LIMIT $4) m"
            f" ORDER BY m.room_id, m.seq LIMIT $4", rooms, afters, uptos, limit)
        return [to_message(r) for r in rows]

    @bridged
    async def history(self, user_id: int, room_id: int, before_seq: int | None, limit: int
                      ) -> tuple[list[Message], bool] | str:
        """A page of what `user_id` may see, ascending; or 'not_found' / 'forbidden'."""
        async with self.pool.acquire() as con:
            row = await con.fetchrow(
                "SELECT r.history_visibility, r.last_seq, rm.joined_seq, rm.left_seq"
                " FROM rooms r LEFT JOIN room_members rm ON rm.room_id = r.id AND rm.user_id = $2"
                " WHERE r.id = $1", room_id, user_id)
            if row is None:
                return "not_found"
            if row["joined_seq"] is None:
                return "forbidden"
            lowest = 1 if row["history_visibility"] == "shared" else row["joined_seq"]
            highest = row["left_seq"] if row["left_seq"] is not None else row["last_seq"]
            if before_seq is not None:
                highest = min(highest, before_seq - 1)
            rows = await con.fetch(
                f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE room_id = $1 AND seq BETWEEN $2 AND $3"
                " ORDER BY seq DESC LIMIT $4", room_id, lowest, highest, limit)
        page = [to_message(r) for r in reversed(rows)]
        return page, bool(page) and page[0].seq > lowest


def _row(seq: int, item: AppendItem) -> tuple[object, ...]:
    if isinstance(item, NewText):
        return seq, item.sender, item.client_id, "text", item.body, None
    event = {"type": f"member_{item.action}" if item.action != "owner_changed" else "owner_changed",
             "user": item.user, "by": item.by}
    return seq, None, None, "system", None, event


async def _apply_member_change(con: asyncpg.Connection, room_id: int, seq: int, change: MemberChange) -> None:
    if change.action == "added":
        await con.execute(
            "INSERT INTO room_members (room_id, user_id, role, joined_seq, delivered_seq, read_seq)"
            " VALUES ($1, $2, $3, $4::bigint, $4::bigint - 1, $4::bigint - 1)"
            " ON CONFLICT (room_id, user_id) DO UPDATE SET"
            " role = excluded.role, joined_seq = excluded.joined_seq, left_seq = NULL,"
            " delivered_seq = GREATEST(room_members.delivered_seq, excluded.delivered_seq),"
            " read_seq = GREATEST(room_members.read_seq, excluded.read_seq)",
            room_id, change.user, change.role, seq)
    elif change.action in ("removed", "left"):
        await con.execute(
            "UPDATE room_members SET left_seq = $3 WHERE room_id = $1 AND user_id = $2 AND left_seq IS NULL",
            room_id, change.user, seq)
    elif change.action == "owner_changed":
        await con.execute("UPDATE room_members SET role = 'owner' WHERE room_id = $1 AND user_id = $2",
                          room_id, change.user)
    else:
        raise ValueError(f"unknown membership action {change.action!r}")
