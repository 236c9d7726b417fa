"""The client's local store: one SQLite file per account, run on a dedicated worker thread.

What it keeps: messages keyed by (room, seq) (each stored as the msgpack of its wire form, so new
fields such as `media` survive), per-room delivery cursors (what `hello` sends), per-room history
floors (the lowest seq the server will ever show us), the room list, profiles, receipts and the
account's tokens.

Cursor rule: a room's cursor is the highest seq this client holds with nothing missing below it since
the last cursor. Pushed messages move it to their seq (the server delivers each room in order, from the
previous cursor on); any stored message that continues it (our own `sent`, a history page) moves it on.

Eviction policy: at most ``max_per_room`` messages per room and ``max_total`` over all rooms. When a
room passes its limit its oldest seqs go first; when the file passes the total, the oldest messages by
server time go first, across rooms. Eviction only ever removes the bottom of a conversation, so what
stays is the most recent contiguous part; cursors and floors are kept, and scrolling back past the kept
part simply asks the server again.

A row that cannot be read back (a damaged file, a build of the client with another schema) is skipped and
logged, never raised: it counts as not cached, so the server is asked again and the row replaced. A bad
cache can slow a start, never stop one.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
from collections.abc import AsyncIterator, Iterable
from pathlib import Path
from typing import Any

import msgpack
import msgspec

from chatd.clients.sdk.sqlite_worker import SqliteWorker, open_worker
from chatd.protocol import frames as f
from chatd.protocol import reactions
from chatd.protocol.codec import from_builtins, to_builtins
from chatd.protocol.people import ProfileInfo
from chatd.protocol.schema import SchemaError

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value BLOB);
CREATE TABLE IF NOT EXISTS messages (room INTEGER, seq INTEGER, ts INTEGER, data BLOB,
                                     PRIMARY KEY (room, seq)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS messages_by_ts ON messages (ts);
CREATE TABLE IF NOT EXISTS cursors (room INTEGER PRIMARY KEY, seq INTEGER NOT NULL DEFAULT 0,
                                    floor INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS rooms (room INTEGER PRIMARY KEY, data BLOB);
CREATE TABLE IF NOT EXISTS profiles (user INTEGER PRIMARY KEY, data BLOB);
CREATE TABLE IF NOT EXISTS receipts (room INTEGER, user INTEGER, delivered INTEGER, read INTEGER,
                                     PRIMARY KEY (room, user)) WITHOUT ROWID;
"""


log = logging.getLogger("chatd.clients.sdk.cache")


def pack(obj: Any) -> bytes:
    return msgspec.msgpack.encode(obj)


def unpack(cls: type, data: bytes) -> Any:
    return msgspec.msgpack.decode(data, type=cls)


def readable(cls: type, data: object) -> Any:
    """`data` as a `cls`, or None (logged) when the stored bytes do not decode to one."""
    try:
        return unpack(cls, data)  # type: ignore[arg-type]
    except (ValueError, TypeError) as exc:  # msgspec's DecodeError and ValidationError are ValueErrors
        log.warning("cache: skipping an unreadable %s row: %s", cls.__name__, exc)
        return None


def _edited(target: f.Message, event: f.Message) -> f.Message | None:
    """`target` after the message_edited / message_deleted / reaction_added / reaction_removed event
    `event`, or None if it is none of them (or carries nothing to apply)."""
    details = event.event or {}
    kind = details.get("type")
    data = to_builtins(target)
    if kind == "message_edited" and "body" in details:
        data.update(body=details["body"], edited_ts=event.ts)
    elif kind == "message_deleted":
        data.update(body=None, deleted=True, edited_ts=event.ts, reactions=None)
    elif kind in ("reaction_added", "reaction_removed") and isinstance(details.get("emoji"), str) \
            and isinstance(details.get("by"), int) and not target.deleted:
        data.update(reactions=reactions.apply(data.get("reactions"), details["by"], details["emoji"],
                                              kind == "reaction_added"))
    else:
        return None
    try:
        return from_builtins(f.Message, data)
    except SchemaError:  # replayed onto a newer copy, an old reaction can pass a limit for a moment: skip it
        return None


class Cache:
    def __init__(self, worker: SqliteWorker, max_per_room: int, max_total: int) -> None:
        self.worker = worker
        self.max_per_room = max_per_room
        self.max_total = max_total

    # ------------------------------------------------------------------ account

    async def get_meta(self, key: str) -> Any:
        def job(db: sqlite3.Connection) -> Any:
            row = db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
            try:
                return msgpack.unpackb(row[0]) if row else None
            except (ValueError, TypeError) as exc:
                log.warning("cache: skipping the unreadable %r entry: %s", key, exc)
                return None
        return await self.worker.run(job)

    async def set_meta(self, values: dict[str, Any]) -> None:
        def job(db: sqlite3.Connection) -> None:
            with db:
                db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)",
                               [(k, msgpack.packb(v)) for k, v in values.items()])
        await self.worker.run(job)

    # ------------------------------------------------------------------ messages

    async def store(self, messages: Iterable[f.Message], *, pushed: bool = False) -> None:
        """Keep `messages` (replacing older copies), move cursors (`pushed`: these came in the server's delivery
        stream) and evict past the limits. Events about a message (edits, deletes, reactions) are applied to
        their targets only from the stream, which brings every later event too: a history page's messages
        are already as they are now, and its older events would take a newer copy back."""
        batch = list(messages)

        def job(db: sqlite3.Connection) -> None:
            with db:
                for m in batch:
                    db.execute("INSERT OR REPLACE INTO messages VALUES (?, ?, ?, ?)", (m.room, m.seq, m.ts, pack(m)))
                    target = (m.event or {}).get("target")
                    if pushed and isinstance(target, int):
                        self._apply_event(db, m, target)
                for room in {m.room for m in batch}:
                    top = max(m.seq for m in batch if m.room == room) if pushed else 0
                    self._advance(db, room, top)
                    self._evict_room(db, room)
                self._evict_total(db)
        await self.worker.run(job)

    @staticmethod
    def _apply_event(db: sqlite3.Connection, event: f.Message, target: int) -> None:
        row = db.execute("SELECT data FROM messages WHERE room = ? AND seq = ?", (event.room, target)).fetchone()
        target_message = readable(f.Message, row[0]) if row else None
        if target_message is None:
            return
        changed = _edited(target_message, event)
        if changed is not None:
            db.execute("UPDATE messages SET data = ? WHERE room = ? AND seq = ?", (pack(changed), event.room, target))

    @staticmethod
    def _advance(db: sqlite3.Connection, room: int, pushed_top: int) -> None:
        db.execute("INSERT OR IGNORE INTO cursors (room) VALUES (?)", (room,))
        (cursor,) = db.execute("SELECT seq FROM cursors WHERE room = ?", (room,)).fetchone()
        cursor = max(cursor, pushed_top)
        following = db.execute("SELECT seq FROM messages WHERE room = ? AND seq > ? ORDER BY seq", (room, cursor))
        for (seq,) in following:
            if seq != cursor + 1:
                break
            cursor = seq
        db.execute("UPDATE cursors SET seq = ? WHERE room = ?", (cursor, room))

    def _evict_room(self, db: sqlite3.Connection, room: int) -> None:
        db.execute("DELETE FROM messages WHERE room = ? AND seq <= (SELECT seq FROM messages WHERE room = ? "
                   "ORDER BY seq DESC LIMIT 1 OFFSET ?)", (room, room, self.max_per_room))

    def _evict_total(self, db: sqlite3.Connection) -> None:
        (total,) = db.execute("SELECT count(*) FROM messages").fetchone()
        if total > self.max_total:
            db.execute("DELETE FROM messages WHERE (room, seq) IN "
                       "(SELECT room, seq FROM messages ORDER BY ts, seq LIMIT ?)", (total - self.max_total,))

    async def run_before(self, room: int, before_seq: int, limit: int) -> list[f.Message]:
        """The cached messages just below `before_seq`, up to `limit`, stopping at the first missing seq
        (ascending)."""
        def job(db: sqlite3.Connection) -> list[f.Message]:
            rows = db.execute("SELECT seq, data FROM messages WHERE room = ? AND seq < ? ORDER BY seq DESC LIMIT ?",
                              (room, before_seq, limit))
            out: list[f.Message] = []
            expected = before_seq - 1
            for seq, data in rows:
                message = readable(f.Message, data) if seq == expected else None
                if message is None:  # a gap: the server fills it
                    break
                out.append(message)
                expected -= 1
            return out[::-1]
        return await self.worker.run(job)

    async def message(self, room: int, seq: int) -> f.Message | None:
        def job(db: sqlite3.Connection) -> f.Message | None:
            row = db.execute("SELECT data FROM messages WHERE room = ? AND seq = ?", (room, seq)).fetchone()
            return readable(f.Message, row[0]) if row else None
        return await self.worker.run(job)

    async def top_seq(self, room: int) -> int:
        """The highest seq held for `room` (stored or covered by its cursor); 0 when nothing is known."""
        def job(db: sqlite3.Connection) -> int:
            row = db.execute("SELECT max(seq) FROM messages WHERE room = ?", (room,)).fetchone()
            cursor = db.execute("SELECT seq FROM cursors WHERE room = ?", (room,)).fetchone()
            return max(row[0] or 0, cursor[0] if cursor else 0)
        return await self.worker.run(job)

    async def count(self, room: int | None = None) -> int:
        def job(db: sqlite3.Connection) -> int:
            if room is None:
                return int(db.execute("SELECT count(*) FROM messages").fetchone()[0])
            return int(db.execute("SELECT count(*) FROM messages WHERE room = ?", (room,)).fetchone()[0])
        return await self.worker.run(job)

    # ------------------------------------------------------------------ cursors and floors

    async def cursors(self) -> dict[int, int]:
        def job(db: sqlite3.Connection) -> dict[int, int]:
            return dict(db.execute("SELECT room, seq FROM cursors WHERE seq > 0"))
        return await self.worker.run(job)

    async def floor(self, room: int) -> int:
        """The lowest seq the server shows us in `room` once a history page said there is no more; else 0."""
        def job(db: sqlite3.Connection) -> int:
            row = db.execute("SELECT floor FROM cursors WHERE room = ?", (room,)).fetchone()
            return int(row[0]) if row else 0
        return await self.worker.run(job)

    async def set_floor(self, room: int, seq: int) -> None:
        def job(db: sqlite3.Connection) -> None:
            with db:
                db.execute("INSERT OR IGNORE INTO cursors (room) VALUES (?)", (room,))
                db.execute("UPDATE cursors SET floor = ? WHERE room = ?", (seq, room))
        await self.worker.run(job)

    # ------------------------------------------------------------------ rooms, profiles, receipts

    async def save_rooms(self, rooms: Iterable[f.RoomSummary], *, replace_all: bool = False) -> None:
        batch = list(rooms)

        def job(db: sqlite3.Connection) -> None:
            with db:
                if replace_all:
                    db.execute("DELETE FROM rooms")
                db.executemany("INSERT OR REPLACE INTO rooms VALUES (?, ?)", [(r.room, pack(r)) for r in batch])
        await self.worker.run(job)

    async def rooms(self) -> list[f.RoomSummary]:
        """The cached room list, newest activity first."""
        def job(db: sqlite3.Connection) -> list[f.RoomSummary]:
            rooms = [r for (data,) in db.execute("SELECT data FROM rooms") if (r := readable(f.RoomSummary, data))]
            return sorted(rooms, key=lambda r: -(r.last_message.ts if r.last_message else 0))
        return await self.worker.run(job)

    async def save_profiles(self, profiles: Iterable[ProfileInfo]) -> None:
        batch = list(profiles)

        def job(db: sqlite3.Connection) -> None:
            with db:
                db.executemany("INSERT OR REPLACE INTO profiles VALUES (?, ?)", [(p.user, pack(p)) for p in batch])
        await self.worker.run(job)

    async def profiles(self) -> dict[int, ProfileInfo]:
        def job(db: sqlite3.Connection) -> dict[int, ProfileInfo]:
            rows = db.execute("SELECT user, data FROM profiles")
            return {user: p for user, data in rows if (p := readable(ProfileInfo, data)) is not None}
        return await self.worker.run(job)

    async def save_receipt(self, room: int, user: int, delivered: int, read: int | None) -> None:
        def job(db: sqlite3.Connection) -> None:
            with db:
                db.execute("INSERT INTO receipts VALUES (?, ?, ?, ?) ON CONFLICT (room, user) DO UPDATE SET "
                           "delivered = max(delivered, excluded.delivered), read = max(read, excluded.read)",
                           (room, user, delivered, read or 0))
        await self.worker.run(job)

    async def receipts(self, room: int) -> dict[int, tuple[int, int]]:
        """user -> (delivered_seq, read_seq) as the server last reported them for `room`."""
        def job(db: sqlite3.Connection) -> dict[int, tuple[int, int]]:
            rows = db.execute("SELECT user, delivered, read FROM receipts WHERE room = ?", (room,))
            return {user: (delivered, read) for user, delivered, read in rows}
        return await self.worker.run(job)


@contextlib.asynccontextmanager
async def open_cache(path: Path, *, max_per_room: int = 5000, max_total: int = 100_000) -> AsyncIterator[Cache]:
    async with open_worker(path) as worker:
        await worker.run(lambda db: db.executescript(SCHEMA))
        yield Cache(worker, max_per_room, max_total)
