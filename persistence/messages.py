"""Queries for messages: the group-commit append, catch-up ranges and history pages."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import asyncpg
import msgspec

from chatd.persistence.bridge import bridged
from chatd.persistence.errors import StaleRoom
from chatd.persistence.media import StoredMedia, media_rows
from chatd.persistence.records import (
    Appended,
    AppendItem,
    InviteJoin,
    MemberChange,
    MemberEvent,
    MessageChange,
    NewText,
    ReactionChange,
    RoomUpdate,
    to_message,
)
from chatd.persistence.replica import ReplicaReads
from chatd.persistence.seqplan import Lookups, plan_room, text_key
from chatd.persistence.versions import VERSIONED, VISIBILITY_LOG, as_of_join, as_of_select, visibility_log
from chatd.protocol.errors import ErrorCode, Refusal
from chatd.protocol.frames import MediaRef, Message
from chatd.protocol.history import MESSAGE_EVENTS, may_tell, readable, redacted
from chatd.protocol.mentions import mentioned

MESSAGE_COLUMNS = ("room_id, seq, sender_id, client_id, kind, body, event, created_at, edited_at, deleted, media,"
                   " reply_to, reactions, encrypted")


def _as_seen(row: asyncpg.Record) -> Message:
    """A backlog row as its reader may see it: only an event that tells of another message can need
    redacting, so only for one is the reader's window worked out (most rows are plain messages)."""
    message = to_message(row)
    if not may_tell(message):
        return message
    return redacted(message, readable(visibility_log(row), row["joined_seq"], row["left_seq"] or row["seq"]))


class MessageQueries:
    pool: asyncpg.Pool
    reads: ReplicaReads

    @bridged
    async def append_rooms(self, batch: list[RoomAppend]) -> list[RoomOutcome]:
        """Store what several rooms have ready in one transaction: one result per room, in order.

        For a room, the result is one `Appended` per item, in order; or StaleRoom when another process
        appended a system message (a membership or settings change) after `expected_last_seq`, where the
        room actor's view ends (its checks may be stale; nothing of it is stored, the other rooms go on);
        or a Refusal (not_found) when the room does not exist. The rooms' rows are locked in id order, so seq
        assignment and the idempotency check are race-free with writers in other processes and two
        batches never deadlock. A text whose (sender, client_id) is already stored - earlier or in this
        very batch - is not stored again: its result is the original with duplicate=True. An edit, delete,
        invite join or media message the stored state does not allow is refused and uses no seq.

        One statement per kind of work for the whole batch (lock, retry lookup, insert, last_seq), so a
        thousand direct rooms with one message each cost one transaction of a handful of round trips.
        """
        async with self.pool.acquire() as con, con.transaction():
            return await _append_rooms(con, batch)

    @bridged
    async def messages_after(self, user_id: int, ranges: list[tuple[int, int, int]], limit: int) -> list[Message]:
        """Up to `limit` messages with after < seq <= upto, for (room, after, upto) ranges; by room, seq.

        As `user_id` may see them: within their membership as Postgres has it (a user actor's view may be
        behind a change made by another process), a former member's as they stood at the removal, and
        edits of messages they may not read redacted (protocol/history.py). On the read replica when it has
        every room up to its `upto` (the caller's head), else on the primary (persistence/replica.py)."""
        if not ranges:
            return []
        rooms, afters, uptos = (list(col) for col in zip(*ranges, strict=True))
        need: dict[int, int] = {}
        for room, upto in zip(rooms, uptos, strict=True):
            need[room] = max(need.get(room, upto), upto)
        rows = await self.reads.read(need, lambda con: con.fetch(
            f"SELECT {as_of_select()}, rm.joined_seq, rm.left_seq, vl.vis_from, vl.vis"
            f" FROM unnest($1::bigint[], $2::bigint[], $3::bigint[]) AS r(room_id, after, upto)"
            f" JOIN room_members rm ON rm.room_id = r.room_id AND rm.user_id = $5"
            f" CROSS JOIN LATERAL ({VISIBILITY_LOG} WHERE v.room_id = r.room_id) vl"
            f" CROSS JOIN LATERAL (SELECT {MESSAGE_COLUMNS} FROM messages m WHERE m.room_id = r.room_id"
            f" AND m.seq > GREATEST(r.after, rm.joined_seq - 1)"
            f" AND m.seq <= LEAST(r.upto, COALESCE(rm.left_seq, r.upto))"
            f" ORDER BY m.seq LIMIT $4) m{as_of_join('rm.left_seq')}"
            f" ORDER BY m.room_id, m.seq LIMIT $4", rooms, afters, uptos, limit, user_id))
        return [_as_seen(r) for r in rows]

    @bridged
    async def messages_between(self, room_id: int, after: int, before: int, limit: int) -> list[Message]:
        """The room's messages with after < seq < before, ascending, at most `limit` (the first ones).

        Always on the primary: the room actor asks right after its own commit at `before`, which a replica
        has next to never replayed yet."""
        async with self.pool.acquire() as con:
            rows = await con.fetch(f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE room_id = $1 AND seq > $2"
                                   " AND seq < $3 ORDER BY seq LIMIT $4", room_id, after, before, limit)
        return [to_message(r) for r in rows]

    @bridged
    async def history(self, user_id: int, room_id: int, before_seq: int | None, limit: int
                      ) -> tuple[list[Message], bool]:
        """A page of what `user_id` may see, ascending; a Refusal when the room does not exist or they were never in it.

        The window (protocol/history.py `readable`) is a few seq ranges: each is read newest first from the
        primary key, at most `limit` rows apiece. A former member's page is as it stood at their removal.
        With a read replica, the primary is asked for the room's head (one primary-key lookup): the page comes
        from the replica if it has replayed that far, else from the primary (persistence/replica.py)."""
        need = None
        if self.reads.replica is not None:
            head = await self.pool.fetchval("SELECT last_seq FROM rooms WHERE id = $1", room_id)
            need = {room_id: head} if head is not None else None  # no such room: the primary says so

        async def page(con: asyncpg.Connection) -> tuple[list[Message], bool]:
            return await _history_page(con, user_id, room_id, before_seq, limit)
        return await self.reads.read(need, page)


async def _history_page(con: asyncpg.Connection, user_id: int, room_id: int, before_seq: int | None, limit: int
                        ) -> tuple[list[Message], bool]:
    row = await con.fetchrow(
        f"SELECT r.last_seq, rm.joined_seq, rm.left_seq, vl.vis_from, vl.vis"
        f" FROM rooms r LEFT JOIN room_members rm ON rm.room_id = r.id AND rm.user_id = $2"
        f" CROSS JOIN LATERAL ({VISIBILITY_LOG} WHERE v.room_id = r.id) vl"
        f" WHERE r.id = $1", room_id, user_id)
    if row is None:
        raise Refusal(ErrorCode.NOT_FOUND, f"room {room_id} does not exist")
    if row["joined_seq"] is None:
        raise Refusal(ErrorCode.FORBIDDEN, f"you are not a member of room {room_id}")
    left = row["left_seq"]
    window = readable(visibility_log(row), row["joined_seq"], left if left is not None else row["last_seq"])
    shown = window.below(before_seq) if before_seq is not None else window
    if not shown.ranges:
        return [], False
    rows = await con.fetch(
        f"SELECT {as_of_select() if left is not None else 'm.*'}"
        f" FROM unnest($2::bigint[], $3::bigint[]) AS w(lo, hi)"
        f" CROSS JOIN LATERAL (SELECT {MESSAGE_COLUMNS} FROM messages m WHERE m.room_id = $1"
        f" AND m.seq BETWEEN w.lo AND w.hi ORDER BY m.seq DESC LIMIT $4) m"
        f"{as_of_join('$5::bigint') if left is not None else ''}"
        f" ORDER BY m.seq DESC LIMIT $4", room_id, [lo for lo, _ in shown.ranges],
        [hi for _, hi in shown.ranges], limit, *([left] if left is not None else []))
    page = [redacted(to_message(r), window) for r in reversed(rows)]
    return page, bool(page) and page[0].seq > (window.lowest or 0)


@dataclass(frozen=True, slots=True)
class RoomAppend:
    """One room's share of a node-wide commit: its items in order, and where the room actor's view ends."""

    room_id: int
    items: list[AppendItem]
    expected_last_seq: int | None = None


RoomOutcome = list[Appended] | StaleRoom | Refusal


async def _append_rooms(con: asyncpg.Connection, batch: list[RoomAppend]) -> list[RoomOutcome]:
    ids = [a.room_id for a in batch]
    if len(set(ids)) != len(ids):
        raise ValueError("a commit batch names a room twice")
    heads = {r["id"]: r["last_seq"] for r in await con.fetch(
        "SELECT id, last_seq FROM rooms WHERE id = ANY($1::bigint[]) ORDER BY id FOR UPDATE", ids)}
    outcomes: dict[int, RoomOutcome] = {}
    for a in batch:
        if a.room_id not in heads:
            outcomes[a.room_id] = Refusal(ErrorCode.NOT_FOUND, f"room {a.room_id} does not exist")
    behind = [(a.room_id, a.expected_last_seq) for a in batch if a.room_id in heads
              and a.expected_last_seq is not None and heads[a.room_id] > a.expected_last_seq]
    if behind:
        for r in await con.fetch(
                "SELECT r.room_id FROM unnest($1::bigint[], $2::bigint[]) AS r(room_id, after) WHERE EXISTS"
                " (SELECT 1 FROM messages m WHERE m.room_id = r.room_id AND m.seq > r.after AND m.kind = 'system'"
                " AND m.event->>'type' <> ALL($3::text[]))", *zip(*behind, strict=True), list(MESSAGE_EVENTS)):
            outcomes[r["room_id"]] = StaleRoom(f"room {r['room_id']} changed after seq {dict(behind)[r['room_id']]}")
    live = sorted((a for a in batch if a.room_id not in outcomes), key=lambda a: a.room_id)  # row lock order
    lookups = await _lookups(con, live)
    plans = {a.room_id: plan_room(a.room_id, heads[a.room_id], a.items, lookups[a.room_id]) for a in live}
    fresh = [(a.room_id, seq, item) for a in live for seq, item in plans[a.room_id].fresh]
    stored: dict[tuple[int, int], Message] = {}
    if fresh:
        media = {k: v for look in lookups.values() for k, v in look.media.items()}
        rows = await con.fetch(
            f"INSERT INTO messages (room_id, seq, sender_id, client_id, kind, body, event, media, reply_to, encrypted)"
            f" SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::uuid[], $5::text[],"
            f" $6::text[], $7::jsonb[], $8::jsonb[], $9::bigint[], $10::jsonb[]) RETURNING {MESSAGE_COLUMNS}",
            *zip(*((room, *_row(seq, item, media)) for room, seq, item in fresh), strict=True))
        stored = {(r["room_id"], r["seq"]): to_message(r) for r in rows}
        for room, seq, item in fresh:
            if not isinstance(item, NewText):
                await _apply(con, room, seq, item, plans[room].reactions.get(seq))
        texts = [(room, seq, item) for room, seq, item in fresh if isinstance(item, NewText)]
        await _store_mentions(con, texts)
        refs = [(item.media.id, room, seq) for room, seq, item in texts if item.media is not None]
        if refs:
            await con.executemany("INSERT INTO media_refs (media_id, room_id, seq) VALUES ($1, $2, $3)", refs)
        moved = [(a.room_id, plans[a.room_id].last_seq) for a in live if plans[a.room_id].fresh]
        await con.execute("UPDATE rooms SET last_seq = v.last_seq FROM unnest($1::bigint[], $2::bigint[])"
                          " AS v(id, last_seq) WHERE rooms.id = v.id", *zip(*moved, strict=True))
    for a in live:
        known = lookups[a.room_id].known
        for seq, item in plans[a.room_id].fresh:
            if isinstance(item, NewText):
                known[text_key(item)] = stored[(a.room_id, seq)]
        outcomes[a.room_id] = [
            Appended(stored[(a.room_id, o)]) if isinstance(o, int) else
            Appended(None, refusal=o) if isinstance(o, Refusal) else
            Appended(None) if o is None else Appended(known[o], duplicate=True)
            for o in plans[a.room_id].outcomes]
    return [outcomes[a.room_id] for a in batch]


async def _lookups(con: asyncpg.Connection, batch: list[RoomAppend]) -> dict[int, Lookups]:
    """What the checks of seqplan need, for every room of the batch: one query per kind, only when needed."""
    found = {a.room_id: Lookups() for a in batch}
    texts = [(a.room_id, i) for a in batch for i in a.items if isinstance(i, NewText)]
    if texts:
        rows = await con.fetch(
            f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE (room_id, sender_id, client_id)"
            " IN (SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::uuid[]))",
            [r for r, _ in texts], [t.sender for _, t in texts], [t.client_id for _, t in texts])
        for r in rows:
            found[r["room_id"]].known[(r["sender_id"], str(r["client_id"]))] = to_message(r)
    changes = [(a.room_id, i.target) for a in batch for i in a.items if isinstance(i, MessageChange | ReactionChange)]
    changes += [(room, t.reply_to) for room, t in texts if t.reply_to is not None]
    if changes:  # locked until the commit
        for r in await con.fetch(
                "SELECT room_id, seq, sender_id, kind, deleted, reactions FROM messages WHERE (room_id, seq)"
                " IN (SELECT * FROM unnest($1::bigint[], $2::bigint[])) ORDER BY room_id, seq FOR UPDATE",
                *zip(*changes, strict=True)):
            found[r["room_id"]].targets[r["seq"]] = dict(r)
    codes = [(a.room_id, i.code) for a in batch for i in a.items if isinstance(i, InviteJoin)]
    if codes:  # locked until the commit, so a last use goes to one joiner
        invites = {r["code"]: dict(r) for r in await con.fetch(
            "SELECT code, room_id, expires_at, max_uses, use_count, revoked_at, now() AS now FROM invite_links"
            " WHERE (room_id, code) IN (SELECT * FROM unnest($1::bigint[], $2::text[]))"
            " ORDER BY room_id, code FOR UPDATE", *zip(*codes, strict=True))}
        for look in found.values():
            look.invites = invites  # one dict: a code is used by one room, and its use count is shared
    media_ids = [i.media.id for _, i in texts if i.media is not None]
    if media_ids:
        media = await media_rows(con, media_ids)
        for look in found.values():
            look.media = media
    return found


EVENT_TYPES: dict[MemberEvent, str] = {
    "added": "member_added", "removed": "member_removed", "left": "member_left", "banned": "member_banned",
    "unbanned": "member_unbanned", "role_changed": "role_changed", "owner_changed": "owner_changed"}



def _media_json(ref: MediaRef, media: dict[str, StoredMedia]) -> dict[str, Any]:
    """The message's copy of its media item: the stored metadata, plus duration / video size from the sender."""
    info = media[ref.id].info
    measured = info.width is not None
    meta = {"id": info.id, "mime": info.mime, "size": info.size, "width": info.width if measured else ref.width,
            "height": info.height if measured else ref.height, "duration_ms": ref.duration_ms,
            "file_name": info.filename, "thumbnail_id": info.thumbnail_id}
    return {k: v for k, v in meta.items() if v is not None}


def _row(seq: int, item: AppendItem, media: dict[str, StoredMedia]) -> tuple[object, ...]:
    if isinstance(item, NewText):
        meta = _media_json(item.media, media) if item.media is not None else None
        crypt = msgspec.structs.asdict(item.encrypted) if item.encrypted is not None else None
        return seq, item.sender, item.client_id, item.kind, item.body, None, meta, item.reply_to, crypt
    event: dict[str, Any]
    if isinstance(item, MemberChange):
        event = {"type": EVENT_TYPES[item.action], "user": item.user, "by": item.by}
        if item.action == "role_changed":
            event["role"] = item.role
        if item.revoke_invites:
            event["invites_revoked"] = True
    elif isinstance(item, RoomUpdate):
        event = {"type": "room_updated", "by": item.by, **item.changes}
    elif isinstance(item, InviteJoin):
        event = {"type": "member_joined", "user": item.user, "via": "invite"}
    elif isinstance(item, ReactionChange):
        event = {"type": "reaction_added" if item.add else "reaction_removed", "target": item.target, "by": item.by,
                 "emoji": item.emoji}
    elif item.body is not None:
        event = {"type": "message_edited", "target": item.target, "by": item.by, "body": item.body}
    else:
        event = {"type": "message_deleted", "target": item.target, "by": item.by}
    return seq, None, None, "system", None, event, None, None, None


async def _store_mentions(con: asyncpg.Connection, texts: list[tuple[int, int, NewText]]) -> None:
    """Record which current members each new message @mentions (the sender mentioning themself does not count);
    `texts` are (room, seq, text) of every room of the batch."""
    rows = [(room, seq, text.sender, name) for room, seq, text in texts for name in mentioned(text.body)]
    if rows:
        await con.execute(
            "INSERT INTO mentions (room_id, user_id, seq) SELECT v.room, u.id, v.seq"
            " FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::text[]) AS v(room, seq, sender, name)"
            " JOIN users u ON lower(u.username) = v.name AND u.id <> v.sender"
            " JOIN room_members rm ON rm.room_id = v.room AND rm.user_id = u.id AND rm.left_seq IS NULL"
            " ON CONFLICT DO NOTHING", *zip(*rows, strict=True))


async def _apply(con: asyncpg.Connection, room_id: int, seq: int, item: AppendItem, reactions: Any = None) -> None:
    """What a stored system message changes besides itself (`reactions`: a reaction's target's aggregate after it)."""
    if isinstance(item, MemberChange):
        await _apply_member_change(con, room_id, seq, item)
    elif isinstance(item, RoomUpdate):
        columns = [c for c in ("name", "description", "icon", "history_visibility", "encrypted") if c in item.changes]
        sets = ", ".join(f"{c} = ${i + 2}" for i, c in enumerate(columns))
        given: dict[str, object] = dict(item.changes)
        values = [given[c] or None for c in columns]
        if "history_visibility" in item.changes:  # logged by seq: history applies it as it was (0013)
            await con.execute(f"WITH v AS (INSERT INTO room_visibility (room_id, from_seq, visibility)"
                              f" VALUES ($1, ${len(columns) + 2}, ${len(columns) + 1}))"
                              f" UPDATE rooms SET {sets} WHERE id = $1", room_id, *values, seq)
        else:
            await con.execute(f"UPDATE rooms SET {sets} WHERE id = $1", room_id, *values)
    elif isinstance(item, InviteJoin):
        await _apply_member_change(con, room_id, seq, MemberChange("added", item.user, item.user))
        await con.execute("UPDATE invite_links SET use_count = use_count + 1 WHERE room_id = $1 AND code = $2",
                          room_id, item.code)
        await con.execute("INSERT INTO invite_joins (code, room_id, user_id, seq) VALUES ($1, $2, $3, $4)",
                          item.code, room_id, item.user, seq)
    elif isinstance(item, MessageChange):
        await con.execute(f"WITH old AS ({_KEEP_VERSION})"
                          " UPDATE messages SET body = $4, deleted = $5, edited_at = now(),"
                          " media = CASE WHEN $5 THEN NULL ELSE media END,"
                          " encrypted = CASE WHEN $5 THEN NULL ELSE encrypted END"
                          " WHERE room_id = $1 AND seq = $2", room_id, item.target, seq, item.body, item.body is None)
    elif isinstance(item, ReactionChange):
        await con.execute(f"WITH old AS ({_KEEP_VERSION}) UPDATE messages SET reactions = $4::jsonb"
                          " WHERE room_id = $1 AND seq = $2", room_id, item.target, seq, reactions)


# The version of message ($1, $2) that the change stored as seq $3 replaces (0013, persistence/versions.py)
_KEEP_VERSION = (f"INSERT INTO message_edits (room_id, seq, edit_seq, {', '.join(VERSIONED)})"
                 f" SELECT room_id, seq, $3, {', '.join(VERSIONED)} FROM messages WHERE room_id = $1 AND seq = $2")


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
    elif change.action in ("removed", "left", "banned"):
        if change.ends_membership:
            await con.execute("UPDATE room_members SET left_seq = $3"
                              " WHERE room_id = $1 AND user_id = $2 AND left_seq IS NULL", room_id, change.user, seq)
        if change.revoke_invites:  # a join through one of them waits for the room's row lock: it sees this
            await con.execute("UPDATE invite_links SET revoked_at = now() WHERE room_id = $1 AND revoked_at IS NULL",
                              room_id)
        if change.action == "banned":
            await con.execute("INSERT INTO room_bans (room_id, user_id, banned_by) VALUES ($1, $2, $3)"
                              " ON CONFLICT DO NOTHING", room_id, change.user, change.by)
    elif change.action == "unbanned":
        await con.execute("DELETE FROM room_bans WHERE room_id = $1 AND user_id = $2", room_id, change.user)
    elif change.action in ("owner_changed", "role_changed"):
        role = "owner" if change.action == "owner_changed" else change.role
        await con.execute("UPDATE room_members SET role = $3 WHERE room_id = $1 AND user_id = $2",
                          room_id, change.user, role)
    else:
        raise ValueError(f"unknown membership action {change.action!r}")
