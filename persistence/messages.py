"""Queries for messages: the group-commit append, catch-up ranges and history pages."""

from __future__ import annotations

from typing import Any

import asyncpg

from persistence.bridge import bridged
from persistence.errors import StaleRoom
from persistence.invites import refuse_join
from persistence.media import StoredMedia, media_rows
from persistence.records import (
    Appended,
    AppendItem,
    InviteJoin,
    MemberChange,
    MessageChange,
    NewText,
    Refusal,
    RoomUpdate,
    to_message,
)
from protocol.frames import MediaRef, Message
from protocol.history import lowest_visible, redacted
from protocol.mentions import mentioned

MESSAGE_COLUMNS = "room_id, seq, sender_id, client_id, kind, body, event, created_at, edited_at, deleted, media"


class MessageQueries:
    pool: asyncpg.Pool

    @bridged
    async def append(self, room_id: int, items: list[AppendItem], expected_last_seq: int | None = None
                     ) -> list[Appended]:
        """Store a batch in one transaction and return one result per item, in order.

        The room row is locked first, so seq assignment and the idempotency check are race-free even
        with writers in other processes. A text whose (sender, client_id) is already stored - earlier
        or in this very batch - is not stored again; its result is the original with duplicate=True.
        An edit or delete that its target does not allow is refused (no seq is used).

        `expected_last_seq` is where the caller's view of the room ends. If another process appended a
        system message (a membership or settings change) after it, the caller's checks may be stale:
        StaleRoom is raised and nothing is stored. Messages from people in between change nothing.
        """
        async with self.pool.acquire() as con, con.transaction():
            last_seq = await con.fetchval("SELECT last_seq FROM rooms WHERE id = $1 FOR UPDATE", room_id)
            if last_seq is None:
                raise LookupError(f"room {room_id} does not exist")
            if expected_last_seq is not None and last_seq > expected_last_seq and await con.fetchval(
                    "SELECT EXISTS (SELECT 1 FROM messages WHERE room_id = $1 AND seq > $2 AND kind = 'system')",
                    room_id, expected_last_seq):
                raise StaleRoom(f"room {room_id} changed after seq {expected_last_seq}")
            known = await _known_texts(con, room_id, [i for i in items if isinstance(i, NewText)])
            targets = await _targets(con, room_id, [i for i in items if isinstance(i, MessageChange)])
            invites = await _invites(con, [i.code for i in items if isinstance(i, InviteJoin)])
            media = await media_rows(con, [i.media.id for i in items if isinstance(i, NewText) and i.media])
            plan: list[int | tuple[int, str] | Refusal] = []
            fresh: list[tuple[int, AppendItem]] = []
            claimed: set[tuple[int, str]] = set()
            for item in items:
                if isinstance(item, NewText):
                    key = (item.sender, item.client_id.lower())
                    if key in known or key in claimed:
                        plan.append(key)
                        continue
                    refusal = _refuse_media(item, media)
                    if refusal is not None:
                        plan.append(refusal)
                        continue
                    claimed.add(key)
                elif isinstance(item, MessageChange):
                    refusal = _refuse_change(item, targets.get(item.target))
                    if refusal is not None:
                        plan.append(refusal)
                        continue
                    if item.body is None:
                        targets[item.target] = {**targets[item.target], "deleted": True}
                elif isinstance(item, InviteJoin):
                    refusal = refuse_join(room_id, invites.get(item.code))
                    if refusal is not None:
                        plan.append(refusal)
                        continue
                    invites[item.code]["use_count"] += 1  # a second join in this batch sees this one
                last_seq += 1
                plan.append(last_seq)
                fresh.append((last_seq, item))
            stored = {}
            if fresh:
                rows = await con.fetch(
                    f"INSERT INTO messages (room_id, seq, sender_id, client_id, kind, body, event, media)"
                    f" SELECT $1, * FROM unnest($2::bigint[], $3::bigint[], $4::uuid[], $5::text[],"
                    f" $6::text[], $7::jsonb[], $8::jsonb[]) RETURNING {MESSAGE_COLUMNS}",
                    room_id, *zip(*(_row(seq, item, media) for seq, item in fresh), strict=True))
                stored = {r["seq"]: to_message(r) for r in rows}
                for seq, item in fresh:
                    await _apply(con, room_id, seq, item)
                await _store_mentions(con, room_id, [(seq, i) for seq, i in fresh if isinstance(i, NewText)])
                await con.executemany("INSERT INTO media_refs (media_id, room_id, seq) VALUES ($1, $2, $3)",
                                      [(i.media.id, room_id, seq) for seq, i in fresh
                                       if isinstance(i, NewText) and i.media is not None])
                await con.execute("UPDATE rooms SET last_seq = $2 WHERE id = $1", room_id, last_seq)
            for seq, item in fresh:
                if isinstance(item, NewText):
                    known[(item.sender, item.client_id.lower())] = stored[seq]
        return [Appended(stored[p]) if isinstance(p, int) else
                Appended(None, refusal=p) if isinstance(p, Refusal) else Appended(known[p], duplicate=True)
                for p in plan]

    @bridged
    async def messages_after(self, user_id: int, ranges: list[tuple[int, int, int]], limit: int) -> list[Message]:
        """Up to `limit` messages with after < seq <= upto, for (room, after, upto) ranges; by room, seq.

        As `user_id` may see them: within their membership as Postgres has it (a user actor's view may be
        behind a change made by another process), edits of messages from before they joined redacted."""
        if not ranges:
            return []
        rooms, afters, uptos = (list(col) for col in zip(*ranges, strict=True))
        rows = await self.pool.fetch(
            f"SELECT m.*, ro.history_visibility, rm.joined_seq"
            f" FROM unnest($1::bigint[], $2::bigint[], $3::bigint[]) AS r(room_id, after, upto)"
            f" JOIN rooms ro ON ro.id = r.room_id"
            f" JOIN room_members rm ON rm.room_id = r.room_id AND rm.user_id = $5"
            f" CROSS JOIN LATERAL (SELECT {MESSAGE_COLUMNS} FROM messages m WHERE m.room_id = r.room_id"
            f" AND m.seq > GREATEST(r.after, rm.joined_seq - 1)"
            f" AND m.seq <= LEAST(r.upto, COALESCE(rm.left_seq, r.upto))"
            f" ORDER BY m.seq LIMIT $4) m"
            f" ORDER BY m.room_id, m.seq LIMIT $4", rooms, afters, uptos, limit, user_id)
        return [redacted(to_message(r), lowest_visible(r["history_visibility"], r["joined_seq"]))
                for r in rows]

    @bridged
    async def messages_between(self, room_id: int, after: int, before: int, limit: int) -> list[Message]:
        """The room's messages with after < seq < before, ascending, at most `limit` (the first ones)."""
        async with self.pool.acquire() as con:
            rows = await con.fetch(f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE room_id = $1 AND seq > $2"
                                   " AND seq < $3 ORDER BY seq LIMIT $4", room_id, after, before, limit)
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
            lowest = lowest_visible(row["history_visibility"], row["joined_seq"])
            highest = row["left_seq"] if row["left_seq"] is not None else row["last_seq"]
            if before_seq is not None:
                highest = min(highest, before_seq - 1)
            rows = await con.fetch(
                f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE room_id = $1 AND seq BETWEEN $2 AND $3"
                " ORDER BY seq DESC LIMIT $4", room_id, lowest, highest, limit)
        page = [redacted(to_message(r), lowest) for r in reversed(rows)]
        return page, bool(page) and page[0].seq > lowest


async def _known_texts(con: asyncpg.Connection, room_id: int, texts: list[NewText]) -> dict[tuple[int, str], Message]:
    """Messages already stored under the (sender, client_id) of these texts: retries of earlier sends."""
    if not texts:
        return {}
    rows = await con.fetch(
        f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE room_id = $1 AND (sender_id, client_id)"
        " IN (SELECT * FROM unnest($2::bigint[], $3::uuid[]))",
        room_id, [t.sender for t in texts], [t.client_id for t in texts])
    return {(r["sender_id"], str(r["client_id"])): to_message(r) for r in rows}


async def _targets(con: asyncpg.Connection, room_id: int, changes: list[MessageChange]) -> dict[int, dict[str, Any]]:
    """The messages these edits and deletes point at, locked until the commit."""
    if not changes:
        return {}
    rows = await con.fetch("SELECT seq, sender_id, kind, deleted FROM messages WHERE room_id = $1"
                           " AND seq = ANY($2::bigint[]) FOR UPDATE", room_id, [c.target for c in changes])
    return {r["seq"]: dict(r) for r in rows}


async def _invites(con: asyncpg.Connection, codes: list[str]) -> dict[str, dict[str, Any]]:
    """The invite links these joins use, locked until the commit (so a last use goes to one joiner)."""
    if not codes:
        return {}
    rows = await con.fetch("SELECT code, room_id, expires_at, max_uses, use_count, revoked_at, now() AS now"
                           " FROM invite_links WHERE code = ANY($1::text[]) FOR UPDATE", codes)
    return {r["code"]: dict(r) for r in rows}


def _refuse_change(change: MessageChange, target: dict[str, Any] | None) -> Refusal | None:
    what = "edit" if change.body is not None else "delete"
    if target is None:
        return Refusal("not_found", f"message {change.target} does not exist in this room")
    if target["kind"] == "system":
        return Refusal("bad_request", f"message {change.target} is a system message: it cannot be {what}ed")
    if target["deleted"]:
        return Refusal("conflict", f"message {change.target} was deleted")
    if target["sender_id"] != change.by and (change.body is not None or not change.any_sender):
        return Refusal("forbidden", f"you can only {what} your own messages"
                       + ("" if change.body is not None else " (admins and the owner may delete any in a group)"))
    return None


EVENT_TYPES = {"added": "member_added", "removed": "member_removed", "left": "member_left",
               "banned": "member_banned", "unbanned": "member_unbanned", "role_changed": "role_changed",
               "owner_changed": "owner_changed"}


def _refuse_media(item: NewText, media: dict[str, StoredMedia]) -> Refusal | None:
    """A message may carry only an upload of its sender's (not a thumbnail) whose type fits its kind."""
    if item.media is None:
        return None
    found = media.get(item.media.id)
    if found is None or found.uploader != item.sender:
        return Refusal("not_found", f"media {item.media.id}: you uploaded no such item")
    mime = found.info.mime
    if item.kind != "file" and not mime.startswith(f"{item.kind}/"):
        return Refusal("bad_request", f"media {item.media.id} is {mime}, not {item.kind}: send it as kind 'file'")
    return None


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
        return seq, item.sender, item.client_id, item.kind, item.body, None, meta
    event: dict[str, Any]
    if isinstance(item, MemberChange):
        event = {"type": EVENT_TYPES[item.action], "user": item.user, "by": item.by}
        if item.action == "role_changed":
            event["role"] = item.role
    elif isinstance(item, RoomUpdate):
        event = {"type": "room_updated", "by": item.by, **item.changes}
    elif isinstance(item, InviteJoin):
        event = {"type": "member_joined", "user": item.user, "via": "invite"}
    elif item.body is not None:
        event = {"type": "message_edited", "target": item.target, "by": item.by, "body": item.body}
    else:
        event = {"type": "message_deleted", "target": item.target, "by": item.by}
    return seq, None, None, "system", None, event, None


async def _store_mentions(con: asyncpg.Connection, room_id: int, texts: list[tuple[int, NewText]]) -> None:
    """Record which current members each new message @mentions (the sender mentioning themself does not count)."""
    rows = [(seq, text.sender, name) for seq, text in texts for name in mentioned(text.body)]
    if rows:
        await con.execute(
            "INSERT INTO mentions (room_id, user_id, seq) SELECT $1, u.id, v.seq"
            " FROM unnest($2::bigint[], $3::bigint[], $4::text[]) AS v(seq, sender, name)"
            " JOIN users u ON lower(u.username) = v.name AND u.id <> v.sender"
            " JOIN room_members rm ON rm.room_id = $1 AND rm.user_id = u.id AND rm.left_seq IS NULL"
            " ON CONFLICT DO NOTHING", room_id, *zip(*rows, strict=True))


async def _apply(con: asyncpg.Connection, room_id: int, seq: int, item: AppendItem) -> None:
    """What a stored system message changes besides itself."""
    if isinstance(item, MemberChange):
        await _apply_member_change(con, room_id, seq, item)
    elif isinstance(item, RoomUpdate):
        columns = [c for c in ("name", "description", "icon", "history_visibility") if c in item.changes]
        sets = ", ".join(f"{c} = ${i + 2}" for i, c in enumerate(columns))
        await con.execute(f"UPDATE rooms SET {sets} WHERE id = $1", room_id,
                          *(item.changes[c] or None for c in columns))
    elif isinstance(item, InviteJoin):
        await _apply_member_change(con, room_id, seq, MemberChange("added", item.user, item.user))
        await con.execute("UPDATE invite_links SET use_count = use_count + 1 WHERE code = $1", item.code)
        await con.execute("INSERT INTO invite_joins (code, room_id, user_id, seq) VALUES ($1, $2, $3, $4)",
                          item.code, room_id, item.user, seq)
    elif isinstance(item, MessageChange):
        await con.execute("UPDATE messages SET body = $3, deleted = $4, edited_at = now(),"
                          " media = CASE WHEN $4 THEN NULL ELSE media END"
                          " WHERE room_id = $1 AND seq = $2", room_id, item.target, item.body, item.body is None)


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
