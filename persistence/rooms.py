"""Queries for rooms and memberships."""

from __future__ import annotations

from typing import Final, assert_never

import asyncpg

from chatd.persistence.bridge import bridged
from chatd.persistence.records import Membership, MemberState, RoomState, to_message
from chatd.persistence.versions import VISIBILITY_LOG, deleted_as_of, visibility_log
from chatd.protocol.frames import Member, RoomInfo, RoomSummary
from chatd.protocol.history import readable, redacted
from chatd.protocol.rooms import CURSORS, Cursor, Role, RoomKind, Visibility

UNREAD_CAP = 1000  # unread counts stop at this (clients show "999+")
_NEW_ROOM_ID = "nextval(pg_get_serial_sequence('rooms', 'id'))"
_DIRECT_ROOM = "SELECT room_id FROM direct_rooms WHERE user_low = $1 AND user_high = $2"


def unread_sql(read: str) -> str:
    """Messages from others after the read cursor `read` (an SQL expression), for membership `rm` of room `r`
    (a former member's as they stood at the removal: a delete made after it does not change their count)."""
    return (f"(SELECT count(*) FROM (SELECT 1 FROM messages m WHERE m.room_id = rm.room_id"
            f" AND m.seq > GREATEST({read}, rm.joined_seq - 1) AND m.seq <= COALESCE(rm.left_seq, r.last_seq)"
            f" AND m.kind <> 'system' AND m.sender_id <> rm.user_id AND NOT {deleted_as_of('rm.left_seq')}"
            f" LIMIT {UNREAD_CAP}) x)")


def mentions_sql(read: str) -> str:
    """Of those, the ones that @mention the member."""
    return (f"(SELECT count(*) FROM (SELECT 1 FROM mentions mn JOIN messages m ON m.room_id = mn.room_id"
            f" AND m.seq = mn.seq AND NOT {deleted_as_of('rm.left_seq')}"
            f" WHERE mn.room_id = rm.room_id AND mn.user_id = rm.user_id"
            f" AND mn.seq > {read} AND mn.seq <= COALESCE(rm.left_seq, r.last_seq) LIMIT {UNREAD_CAP}) x)")


class RoomQueries:
    pool: asyncpg.Pool

    async def _create_room(self, con: asyncpg.Connection, *, room_id: int | None = None, kind: RoomKind,
                           name: str | None, direct_key: str | None, creator: int, members: dict[int, Role],
                           visibility: Visibility, encrypted: bool) -> int:
        """Insert a room (with `room_id` when given, else a new id) whose seq 1 is the 'created' system message
        and whose members join at 1."""
        room_id = await con.fetchval(
            "INSERT INTO rooms (id, kind, name, direct_key, history_visibility, last_seq, created_by, encrypted)"
            f" VALUES (COALESCE($1::bigint, {_NEW_ROOM_ID}), $2, $3, $4, $5, 1, $6, $7) RETURNING id",
            room_id, kind, name, direct_key, visibility, creator, encrypted)
        event = {"type": "created", "by": creator, "name": name, "members": sorted(members)}
        if encrypted:
            event["encrypted"] = True
        await con.execute(
            "INSERT INTO messages (room_id, seq, kind, event) VALUES ($1, 1, 'system', $2::jsonb)",
            room_id, event)
        await con.execute("INSERT INTO room_visibility (room_id, from_seq, visibility) VALUES ($1, 1, $2)",
                          room_id, visibility)
        await con.executemany(
            "INSERT INTO room_members (room_id, user_id, role, joined_seq) VALUES ($1, $2, $3, 1)",
            [(room_id, uid, role) for uid, role in members.items()])
        return room_id  # type: ignore[no-any-return]

    @bridged
    async def get_or_create_direct(self, a: int, b: int, encrypted: bool = False) -> tuple[int, bool]:
        """The one direct room of the pair (a, b): (room id, created now; `encrypted` applies to a new one).

        The pair's direct_rooms row is claimed before the room is created, in the same transaction: a
        concurrent creator of the same pair waits on that row, then finds it taken and reads the room."""
        low, high = min(a, b), max(a, b)
        async with self.pool.acquire() as con:
            existing = await con.fetchval(_DIRECT_ROOM, low, high)
            if existing:
                return existing, False
            async with con.transaction():
                room_id = await con.fetchval(
                    "INSERT INTO direct_rooms (user_low, user_high, room_id)"
                    f" VALUES ($1, $2, {_NEW_ROOM_ID}) ON CONFLICT DO NOTHING RETURNING room_id", low, high)
                if room_id is not None:
                    await self._create_room(
                        con, room_id=room_id, kind="direct", name=None, direct_key=f"{low}:{high}", creator=a,
                        members={a: "member", b: "member"}, visibility="shared", encrypted=encrypted)
                    return room_id, True
            existing = await con.fetchval(_DIRECT_ROOM, low, high)  # the other creator committed it
            if existing:
                return existing, False
            raise RuntimeError(f"direct room {low}:{high} neither found nor created")

    @bridged
    async def create_group(self, owner: int, name: str, members: list[int], visibility: Visibility,
                           encrypted: bool = False) -> int:
        roles: dict[int, Role] = {uid: "member" for uid in members}
        roles[owner] = "owner"
        async with self.pool.acquire() as con, con.transaction():
            return await self._create_room(con, kind="group", name=name, direct_key=None, creator=owner,
                                           members=roles, visibility=visibility, encrypted=encrypted)

    @bridged
    async def load_room(self, room_id: int, recent: int = 1024) -> RoomState | None:
        """The room, its members, and the senders of its `recent` latest text messages."""
        async with self.pool.acquire() as con:
            room = await con.fetchrow(
                "SELECT id, kind, name, history_visibility, last_seq, encrypted FROM rooms WHERE id = $1", room_id)
            if room is None:
                return None
            rows = await con.fetch(
                "SELECT rm.user_id, rm.role, rm.joined_seq, rm.left_seq, rm.delivered_seq,"
                " CASE WHEN u.read_receipts THEN rm.read_seq END AS read_seq"
                " FROM room_members rm JOIN users u ON u.id = rm.user_id WHERE rm.room_id = $1", room_id)
            senders = await con.fetch("SELECT seq, sender_id FROM messages WHERE room_id = $1 AND seq > $2"
                                      " AND kind <> 'system' ORDER BY seq", room_id, room["last_seq"] - recent)
            banned = await con.fetch("SELECT user_id FROM room_bans WHERE room_id = $1", room_id)
            log = await con.fetch("SELECT from_seq, visibility FROM room_visibility WHERE room_id = $1"
                                  " ORDER BY from_seq", room_id)
        return RoomState(room["id"], room["kind"], room["name"], room["history_visibility"], room["last_seq"],
                         room["encrypted"],
                         {r["user_id"]: MemberState(r["role"], r["joined_seq"], r["left_seq"]) for r in rows},
                         {r["seq"]: r["sender_id"] for r in senders}, {r["user_id"] for r in banned},
                         {r["user_id"]: (r["delivered_seq"], r["read_seq"]) for r in rows},
                         [(r["from_seq"], r["visibility"]) for r in log])

    @bridged
    async def room_info(self, room_id: int) -> RoomInfo | None:
        async with self.pool.acquire() as con:
            room = await con.fetchrow("SELECT id, kind, name, history_visibility, last_seq, description, icon,"
                                      " encrypted FROM rooms WHERE id = $1", room_id)
            if room is None:
                return None
            # first: a change between the two reads then gives a list newer than its seq (a harmless
            # `conflict` at the next encrypted send), never an old list under a new seq
            members_seq = await con.fetchval(
                "SELECT max(greatest(joined_seq, COALESCE(left_seq, 0))) FROM room_members WHERE room_id = $1", room_id)
            rows = await con.fetch(
                "SELECT u.id, u.username, rm.role FROM room_members rm JOIN users u ON u.id = rm.user_id"
                " WHERE rm.room_id = $1 AND rm.left_seq IS NULL ORDER BY rm.joined_seq, u.id", room_id)
        return RoomInfo(room=room["id"], kind=room["kind"], name=room["name"],
                        history_visibility=room["history_visibility"], last_seq=room["last_seq"],
                        description=room["description"], icon=room["icon"], encrypted=room["encrypted"],
                        members_seq=members_seq or 0,
                        members=[Member(r["id"], r["username"], r["role"]) for r in rows])

    @bridged
    async def is_current_member(self, user_id: int, room_id: int) -> bool | None:
        """Whether the user is a current member of the room; None if the room does not exist. Two primary-key
        lookups in one statement: the gateway asks this before it starts a room's actor (gateway/checks.py)."""
        return await self.pool.fetchval(  # type: ignore[no-any-return]
            "SELECT EXISTS (SELECT 1 FROM room_members WHERE room_id = r.id AND user_id = $2 AND left_seq IS NULL)"
            " FROM rooms r WHERE r.id = $1", room_id, user_id)

    @bridged
    async def was_member(self, user_id: int, room_id: int) -> bool:
        """Whether the user is or was a member of the room (those may see its settings and members)."""
        return bool(await self.pool.fetchval(
            "SELECT 1 FROM room_members WHERE room_id = $1 AND user_id = $2", room_id, user_id))

    @bridged
    async def room_heads(self, user_ids: list[int]) -> list[tuple[int, int, int]]:
        """(user, room, last_seq) for each current room of these users that has messages past their delivered_seq."""
        rows = await self.pool.fetch(
            "SELECT rm.user_id, rm.room_id, r.last_seq FROM room_members rm JOIN rooms r ON r.id = rm.room_id"
            " WHERE rm.user_id = ANY($1::bigint[]) AND rm.left_seq IS NULL AND r.last_seq > rm.delivered_seq",
            user_ids)
        return [(r["user_id"], r["room_id"], r["last_seq"]) for r in rows]

    @bridged
    async def memberships(self, user_id: int, room_id: int | None = None) -> list[Membership]:
        """Every room the user is or was in (removed members are owed messages up to left_seq)."""
        rows = await self.pool.fetch(
            "SELECT rm.room_id, rm.joined_seq, rm.left_seq, rm.delivered_seq, r.last_seq, rm.read_seq, rm.muted,"
            f" {unread_sql('rm.read_seq')} AS unread, {mentions_sql('rm.read_seq')} AS mentions"
            " FROM room_members rm JOIN rooms r ON r.id = rm.room_id"
            " WHERE rm.user_id = $1 AND ($2::bigint IS NULL OR rm.room_id = $2)", user_id, room_id)
        return [Membership(r["room_id"], r["joined_seq"], r["left_seq"], r["delivered_seq"], r["last_seq"],
                           r["read_seq"], r["unread"], r["mentions"], r["muted"]) for r in rows]

    @bridged
    async def room_counts(self, user_id: int, reads: dict[int, int]) -> dict[int, tuple[int, int]]:
        """(unread, mentions) per room, counted from the given read cursors (which may not be stored yet)."""
        rows = await self.pool.fetch(
            f"SELECT rm.room_id, {unread_sql('v.read')} AS unread, {mentions_sql('v.read')} AS mentions"
            " FROM unnest($2::bigint[], $3::bigint[]) AS v(room_id, read)"
            " JOIN room_members rm ON rm.room_id = v.room_id AND rm.user_id = $1 JOIN rooms r ON r.id = rm.room_id",
            user_id, list(reads), list(reads.values()))
        return {r["room_id"]: (r["unread"], r["mentions"]) for r in rows}

    @bridged
    async def set_muted(self, user_id: int, room_id: int, muted: bool) -> bool:
        """Mute or unmute a room for its member; False if they are not a current member."""
        done = await self.pool.execute("UPDATE room_members SET muted = $3 WHERE room_id = $1 AND user_id = $2"
                                       " AND left_seq IS NULL", room_id, user_id, muted)
        return done != "UPDATE 0"

    @bridged
    async def list_rooms(self, user_id: int) -> list[RoomSummary]:
        rows = await self.pool.fetch(
            """
            SELECT r.id AS room, r.kind, r.name, r.encrypted AS room_encrypted, rm.left_seq, rm.delivered_seq,
                   rm.read_seq, rm.muted,
                   vl.vis_from, vl.vis, rm.joined_seq,
                   COALESCE(rm.left_seq, r.last_seq) AS upto,
                   (SELECT o.user_id FROM room_members o
                     WHERE r.kind = 'direct' AND o.room_id = r.id AND o.user_id <> rm.user_id) AS peer,
                   """ + unread_sql("rm.read_seq") + """ AS unread,
                   """ + mentions_sql("rm.read_seq") + """ AS mentions,
                   lm.room_id, lm.seq, lm.sender_id, lm.client_id, lm.kind AS mkind, lm.body, lm.event,
                   lm.created_at, lm.edited_at, lm.deleted, lm.media, lm.reply_to, lm.reactions, lm.encrypted
              FROM room_members rm
              JOIN rooms r ON r.id = rm.room_id
             CROSS JOIN LATERAL (""" + VISIBILITY_LOG + """ WHERE v.room_id = r.id) vl
              LEFT JOIN messages lm ON lm.room_id = r.id AND lm.seq = COALESCE(rm.left_seq, r.last_seq)
             WHERE rm.user_id = $1
             ORDER BY lm.created_at DESC NULLS LAST, r.id DESC
            """, user_id)
        out = []
        for r in rows:
            last = None
            if r["seq"] is not None:
                last = redacted(to_message({**dict(r), "kind": r["mkind"]}),
                                readable(visibility_log(r), r["joined_seq"], r["upto"]))
            out.append(RoomSummary(
                room=r["room"], kind=r["kind"], name=r["name"], last_seq=r["upto"],
                delivered_seq=r["delivered_seq"], read_seq=r["read_seq"], unread=r["unread"],
                mentions=r["mentions"], muted=r["muted"], member=r["left_seq"] is None, peer=r["peer"],
                last_message=last, encrypted=r["room_encrypted"]))
        return out

    @bridged
    async def save_cursors(self, cursor: Cursor, moves: list[tuple[int, int, int]]) -> None:
        """Move a cursor (delivered_seq or read_seq) forward for many (user, room, seq) at once: one statement.

        Never back, never past the room's last seq or the member's removal point. Moves go in sorted by
        (room, user), which keeps the row lock order of two nodes' overlapping batches the same.
        """
        moves = sorted(moves, key=lambda m: (m[1], m[0]))
        await self.pool.execute(_SAVE_CURSOR[cursor], [m[0] for m in moves], [m[1] for m in moves],
                                [m[2] for m in moves])


def _cursor_column(cursor: Cursor) -> str:
    """The column of room_members that stores `cursor`: a closed mapping that mypy checks covers every Cursor."""
    match cursor:
        case "delivered":
            return "delivered_seq"
        case "read":
            return "read_seq"
        case _:
            assert_never(cursor)


def _save_cursor_sql(column: str) -> str:
    return (f"UPDATE room_members rm SET {column} = GREATEST(rm.{column}, LEAST(v.seq, r.last_seq,"
            " COALESCE(rm.left_seq, v.seq)))"
            " FROM unnest($1::bigint[], $2::bigint[], $3::bigint[]) AS v(user_id, room_id, seq), rooms r"
            " WHERE rm.user_id = v.user_id AND rm.room_id = v.room_id AND r.id = v.room_id")


# Each cursor's statement, fixed once at import: save_cursors picks one by its Cursor, so no string a caller
# passes can reach SQL text.
_SAVE_CURSOR: Final[dict[Cursor, str]] = {cursor: _save_cursor_sql(_cursor_column(cursor)) for cursor in CURSORS}
