"""Queries for the media collector (media/collector.py): uploads nobody can reach any more, and their blobs.

An upload is kept while a message that is not deleted references it (`media_refs`), a profile has it as
its avatar or a room as its icon, and for `grace` seconds after it was uploaded or last named as an
avatar or icon (the message, profile or room that is about to reference it gets there first). Its
thumbnail goes with it. A blob goes when no media row has its sha256 any more (identical uploads share
one blob).

Races, and how one side wins cleanly:
- a message naming the upload is committed while the collector deletes it: the room's commit reads the
  upload `FOR KEY SHARE` (persistence/media.py media_rows) and the collector locks its candidates
  `FOR UPDATE SKIP LOCKED`, then checks the references again in a new statement: either the message is
  committed first (and the upload is kept) or the upload is gone first (and the message is refused
  `not_found`, as for any unknown id);
- an avatar or icon named meanwhile: `owns_image` stamps `picked_at` under the row lock, which restarts
  the grace period (or finds the row gone: `not_found`);
- an upload of the same bytes while the blob is deleted: deciding a blob's end (`media_doomed_blobs`)
  takes an exclusive advisory lock on its sha256 and `create_media` a shared one; an upload refuses a
  doomed sha256 (retry), and one that committed its rows checks after that the blob is still there.
"""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from chatd.persistence.bridge import bridged

COLLECTOR_LOCK_KEY = 0x4D656469  # "Medi": one collector pass at a time across processes
USAGE_KEPT_DAYS = 2  # upload_usage rows older than this are of no use

# an upload (m) that something still references
_REFERENCED = """(
    EXISTS (SELECT 1 FROM media_refs r JOIN messages msg ON msg.room_id = r.room_id AND msg.seq = r.seq
            WHERE r.media_id = m.id AND NOT msg.deleted)
    OR EXISTS (SELECT 1 FROM profiles p WHERE p.avatar = m.id)
    OR EXISTS (SELECT 1 FROM rooms ro WHERE ro.icon = m.id))"""


def sha_lock(mode: str) -> str:
    """SQL taking a transaction-level advisory lock per distinct sha256 of $1 (text[]), in one order."""
    fn = "pg_advisory_xact_lock_shared" if mode == "shared" else "pg_advisory_xact_lock"
    return f"SELECT {fn}(hashtextextended(s, 0)) FROM (SELECT DISTINCT unnest($1::text[]) AS s ORDER BY 1) x"


@dataclass(frozen=True, slots=True)
class Collected:
    items: int  # media rows deleted (originals and thumbnails)
    doomed: int  # blobs no row uses any more, now to be deleted from the blob store


class MediaCollectorQueries:
    pool: asyncpg.Pool

    @bridged
    async def collect_media(self, grace: float, limit: int = 500) -> Collected | None:
        """Delete up to `limit` unreferenced uploads older than `grace` seconds (with their thumbnails) and
        doom the blobs that no row uses any more. None when another process's pass holds the lock."""
        async with self.pool.acquire() as con, con.transaction():
            if not await con.fetchval("SELECT pg_try_advisory_xact_lock($1)", COLLECTOR_LOCK_KEY):
                return None
            await con.execute("DELETE FROM upload_usage WHERE day < (now() AT TIME ZONE 'UTC')::date - $1::int",
                              USAGE_KEPT_DAYS)
            candidates = [r["id"] for r in await con.fetch(
                "SELECT m.id FROM media m WHERE m.thumbnail_of IS NULL"
                " AND GREATEST(m.created_at, m.picked_at) < now() - make_interval(secs => $1)"
                f" AND NOT {_REFERENCED} ORDER BY m.created_at LIMIT $2 FOR UPDATE SKIP LOCKED", grace, limit)]
            if not candidates:
                return Collected(0, 0)
            # locked now: a new statement sees every reference committed before the locks were taken
            doomed = [r["id"] for r in await con.fetch(
                f"SELECT m.id FROM media m WHERE m.id = ANY($1::text[]) AND NOT {_REFERENCED}", candidates)]
            shas = [r["sha256"] for r in await con.fetch(
                "DELETE FROM media WHERE thumbnail_of = ANY($1::text[]) RETURNING sha256", doomed)]
            shas += [r["sha256"] for r in await con.fetch(
                "DELETE FROM media WHERE id = ANY($1::text[]) RETURNING sha256", doomed)]
            await con.execute(sha_lock("exclusive"), shas)
            gone = await con.fetchval(
                "WITH d AS (INSERT INTO media_doomed_blobs (sha256) SELECT DISTINCT s FROM unnest($1::text[]) s"
                " WHERE NOT EXISTS (SELECT 1 FROM media WHERE sha256 = s) ON CONFLICT DO NOTHING RETURNING 1)"
                " SELECT count(*) FROM d", shas)
            return Collected(len(shas), gone)

    @bridged
    async def doom_unowned(self, shas: list[str]) -> int:
        """Doom those of these blobs that no media row uses (bytes an upload stored before its rows failed to
        be written), under the same per-sha256 lock as `collect_media`, so an upload of the same bytes racing
        this either has its row first (kept) or is refused `retry`. Returns how many were doomed."""
        async with self.pool.acquire() as con, con.transaction():
            await con.execute(sha_lock("exclusive"), shas)
            return int(await con.fetchval(
                "WITH d AS (INSERT INTO media_doomed_blobs (sha256) SELECT DISTINCT s FROM unnest($1::text[]) s"
                " WHERE NOT EXISTS (SELECT 1 FROM media WHERE sha256 = s) ON CONFLICT DO NOTHING RETURNING 1)"
                " SELECT count(*) FROM d", shas))

    @bridged
    async def doomed_blobs(self, limit: int = 1000) -> list[str]:
        """Blobs to delete from the blob store (then `forget_doomed`)."""
        rows = await self.pool.fetch("SELECT sha256 FROM media_doomed_blobs ORDER BY since LIMIT $1", limit)
        return [r["sha256"] for r in rows]

    @bridged
    async def forget_doomed(self, shas: list[str]) -> None:
        """These blobs are gone from the blob store: their bytes may be uploaded (and stored) again."""
        await self.pool.execute("DELETE FROM media_doomed_blobs WHERE sha256 = ANY($1::text[])", shas)
