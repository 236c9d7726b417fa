"""Queries for media items: record an upload (and its thumbnail), and who may read what.

The bytes are not here: they live in the blob store (media/storage.py) under their sha256. A message
that references an item gets a `media_refs` row in the room's commit transaction; that row is what lets
the room's members read the item.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

import asyncpg

from chatd.persistence.bridge import bridged
from chatd.persistence.errors import BlobDoomed
from chatd.persistence.media_gc import sha_lock
from chatd.persistence.versions import deleted_as_of

ID_BYTES = 18  # 144 bits, 24 URL-safe characters


def new_media_id() -> str:
    return secrets.token_urlsafe(ID_BYTES)


@dataclass(frozen=True, slots=True)
class MediaInfo:
    """What a client is told about a media item."""

    id: str
    mime: str
    size: int
    width: int | None
    height: int | None
    filename: str | None
    thumbnail_id: str | None


@dataclass(frozen=True, slots=True)
class StoredMedia:
    """A media item with what serving it needs: where its bytes are."""

    info: MediaInfo
    sha256: str
    uploader: int


@dataclass(frozen=True, slots=True)
class NewMedia:
    """A row to insert (id included: the caller picks it, so a thumbnail can name its original)."""

    id: str
    sha256: str
    mime: str
    size: int
    width: int | None = None
    height: int | None = None
    filename: str | None = None


# `m` is the media row, `t` its thumbnail's row (LEFT JOIN ... ON t.thumbnail_of = m.id)
_COLUMNS = "m.id, m.mime, m.size, m.width, m.height, m.filename, t.id AS thumbnail_id, m.sha256, m.uploader"
_FROM = "media m LEFT JOIN media t ON t.thumbnail_of = m.id"


def _stored(r: Any) -> StoredMedia:
    info = MediaInfo(id=r["id"], mime=r["mime"], size=r["size"], width=r["width"], height=r["height"],
                     filename=r["filename"], thumbnail_id=r["thumbnail_id"])
    return StoredMedia(info=info, sha256=r["sha256"], uploader=r["uploader"])


async def media_rows(con: asyncpg.Connection, media_ids: list[str]) -> dict[str, StoredMedia]:
    """The items among `media_ids` that exist and are not thumbnails, by id (in the caller's transaction)."""
    if not media_ids:
        return {}
    # FOR KEY SHARE: the media collector cannot delete them until this commit is done (persistence/media_gc.py)
    rows = await con.fetch(f"SELECT {_COLUMNS} FROM {_FROM} WHERE m.id = ANY($1::text[])"
                           " AND m.thumbnail_of IS NULL ORDER BY m.id FOR KEY SHARE OF m", list(media_ids))
    return {r["id"]: _stored(r) for r in rows}


class MediaQueries:
    pool: asyncpg.Pool

    @bridged
    async def create_media(self, uploader: int, item: NewMedia, thumbnail: NewMedia | None = None) -> StoredMedia:
        """Record an upload and its thumbnail (owned by the same uploader) in one transaction.

        Raises BlobDoomed when the media collector is deleting a blob of the same bytes (see media_gc.py).
        """
        insert = ("INSERT INTO media (id, uploader, sha256, mime, size, width, height, filename, thumbnail_of)"
                  " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)")
        shas = [row.sha256 for row in (item, thumbnail) if row is not None]
        async with self.pool.acquire() as con, con.transaction():
            await con.execute(sha_lock("shared"), shas)
            if await con.fetchval("SELECT EXISTS (SELECT 1 FROM media_doomed_blobs WHERE sha256 = ANY($1::text[]))",
                                  shas):
                raise BlobDoomed("the same bytes are being deleted from storage right now")
            for row, of in ((item, None), (thumbnail, item.id)):
                if row is not None:
                    await con.execute(insert, row.id, uploader, row.sha256, row.mime, row.size, row.width,
                                      row.height, row.filename, of)
        info = MediaInfo(id=item.id, mime=item.mime, size=item.size, width=item.width, height=item.height,
                         filename=item.filename, thumbnail_id=thumbnail.id if thumbnail else None)
        return StoredMedia(info=info, sha256=item.sha256, uploader=uploader)

    @bridged
    async def readable_media(self, media_id: str, user_id: int) -> StoredMedia | None:
        """The item if `user_id` may read it, else None (whether it exists or not).

        Readable by its uploader, and by each member of a room where a message that references it (or,
        for a thumbnail, its original) was posted, if that member may see that message: it is not
        deleted (for a former member: at their removal), it is no later than their removal, and, if it was
        sent while the room's history_visibility was `joined`, no earlier than their join (protocol/history.py).
        A profile's avatar is readable by whoever may see that profile's avatar field, and a room's icon
        by the room's current members.
        """
        row = await self.pool.fetchrow(
            f"SELECT {_COLUMNS} FROM {_FROM} WHERE m.id = $1 AND (m.uploader = $2 OR EXISTS ("
            " SELECT 1 FROM media_refs r"
            " JOIN room_members rm ON rm.room_id = r.room_id AND rm.user_id = $2"
            " WHERE r.media_id IN (m.id, m.thumbnail_of)"
            " AND r.seq <= COALESCE(rm.left_seq, r.seq)"
            " AND (r.seq >= rm.joined_seq OR history_visibility_at(r.room_id, r.seq) = 'shared')"
            " AND NOT EXISTS (SELECT 1 FROM messages msg WHERE msg.room_id = r.room_id AND msg.seq = r.seq"
            f"                 AND {deleted_as_of('rm.left_seq', 'msg')}))"
            " OR EXISTS (SELECT 1 FROM profiles p WHERE p.avatar IN (m.id, m.thumbnail_of)"
            "            AND (COALESCE(p.show_avatar, 'everyone') = 'everyone' OR p.user_id = $2"
            "                 OR (p.show_avatar = 'contacts' AND EXISTS ("
            "                     SELECT 1 FROM room_members mine JOIN room_members theirs USING (room_id)"
            "                     WHERE mine.user_id = $2 AND theirs.user_id = p.user_id"
            "                     AND mine.left_seq IS NULL AND theirs.left_seq IS NULL))))"
            " OR EXISTS (SELECT 1 FROM rooms ro JOIN room_members rm ON rm.room_id = ro.id AND rm.user_id = $2"
            "            WHERE ro.icon IN (m.id, m.thumbnail_of) AND rm.left_seq IS NULL))", media_id, user_id)
        return _stored(row) if row is not None else None

    @bridged
    async def owns_image(self, user_id: int, media_id: str) -> bool:
        """Whether `media_id` is an image (not a thumbnail) that `user_id` uploaded: what avatars and icons take.

        It is about to become one, so the media collector's grace period starts again (`picked_at`).
        """
        return bool(await self.pool.fetchval(
            "WITH picked AS (UPDATE media SET picked_at = now() WHERE id = $1 AND uploader = $2"
            " AND thumbnail_of IS NULL AND mime LIKE 'image/%' RETURNING 1) SELECT EXISTS (SELECT 1 FROM picked)",
            media_id, user_id))

    @bridged
    async def drop_media(self, media_ids: list[str]) -> None:
        """Delete media rows (and their thumbnails) that were just created for an upload that failed."""
        await self.pool.execute("DELETE FROM media WHERE id = ANY($1::text[])", media_ids)
