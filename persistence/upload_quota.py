"""Queries for the daily upload quota (CHAT_UPLOAD_BYTES_PER_DAY): bytes per user per UTC calendar day.

An upload reserves bytes before it stores them (a conditional upsert, so concurrent uploads on any
process never take more than the limit between them) and gives back what it did not store. The day is
Postgres's, so the processes' clocks do not matter; an upload counts against the day it started.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

import asyncpg

from chatd.persistence.bridge import bridged

_RESERVE = """
WITH d AS (SELECT COALESCE($4::date, (now() AT TIME ZONE 'UTC')::date) AS day),
up AS (
    INSERT INTO upload_usage AS u (user_id, day, bytes)
    SELECT $1::bigint, d.day, $2::bigint FROM d WHERE $2::bigint <= $3::bigint
    ON CONFLICT (user_id, day) DO UPDATE SET bytes = u.bytes + $2::bigint WHERE u.bytes + $2::bigint <= $3::bigint
    RETURNING bytes)
SELECT d.day, (SELECT bytes FROM up) AS granted,
       COALESCE((SELECT bytes FROM upload_usage WHERE user_id = $1 AND day = d.day), 0) AS used,
       extract(epoch FROM (d.day + 1)::timestamp - (now() AT TIME ZONE 'UTC'))::float8 AS resets_in
FROM d
"""


@dataclass(frozen=True, slots=True)
class QuotaDay:
    """The outcome of a reservation: whether it was granted, and the user's day as it stands."""

    granted: bool
    day: datetime.date
    used: int  # bytes counted for the day (after the reservation when granted)
    resets_in: float  # seconds until the day ends (00:00 UTC)


class UploadQuotaQueries:
    pool: asyncpg.Pool

    @bridged
    async def reserve_upload_bytes(self, user_id: int, amount: int, limit: int,
                                   day: datetime.date | None = None) -> QuotaDay:
        """Count `amount` more bytes for the user's `day` (today when None) if the day stays within `limit`."""
        r = await self.pool.fetchrow(_RESERVE, user_id, amount, limit, day)
        granted = r["granted"] is not None
        return QuotaDay(granted, r["day"], r["granted"] if granted else r["used"], max(0.0, r["resets_in"]))

    @bridged
    async def release_upload_bytes(self, user_id: int, day: datetime.date, amount: int) -> None:
        """Give back bytes reserved for an upload that did not store them."""
        await self.pool.execute(
            "UPDATE upload_usage SET bytes = GREATEST(0, bytes - $3) WHERE user_id = $1 AND day = $2",
            user_id, day, amount)
