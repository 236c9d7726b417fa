"""What one user may upload: how many uploads at once (CHAT_UPLOADS_AT_ONCE) and how many bytes per UTC
day (CHAT_UPLOAD_BYTES_PER_DAY), enforced while the body streams in, on every process together.

- Uploads at once: a slot in Redis per upload in progress (persistence/cache.py `take_slot`), renewed as
  the body arrives and dropped at the end; a process that dies leaves its slots to run out after
  SLOT_TTL. Like the other limits in Redis it fails open when Redis is down.
- Bytes per day: reserved in Postgres (persistence/upload_quota.py) before they are stored, the
  declared Content-Length at once, else a step at a time as chunks arrive; the upload that would pass
  the quota is stopped there and nothing of it is kept. What an upload did not store (refused, cut
  off, failed) is given back; what it stored counts, thumbnails and deduplication aside.
"""

from __future__ import annotations

import datetime
import secrets
from types import TracebackType

import trio

from chatd.gateway.services import Services
from chatd.protocol.errors import ErrorCode, Refusal

SLOT_TTL = 120.0  # an upload's slot runs out this long after its last renewal
RENEW_EVERY = 30.0
STEP = 1024 * 1024  # bytes reserved at a time when the size is not declared


class UploadAllowance:
    """One upload's slot and reserved bytes. Use as `async with`; `admit(total)` before storing `total` bytes,
    `keep(stored)` once the upload is recorded."""

    def __init__(self, services: Services, user_id: int) -> None:
        self.store = services.store
        self.cache = services.cache
        self.user_id = user_id
        self.per_day = services.config.upload_bytes_per_day
        self.at_once = services.config.uploads_at_once
        self.holder = secrets.token_hex(8)
        self.reserved = 0
        self.day: datetime.date | None = None
        self.renew_at = 0.0
        self.kept = 0

    @property
    def slot_key(self) -> str:
        return f"uploading:{self.user_id}"

    async def __aenter__(self) -> UploadAllowance:
        if not await self.cache.take_slot(self.slot_key, self.holder, self.at_once, SLOT_TTL):
            raise Refusal(ErrorCode.TOO_MANY_UPLOADS,
                          f"you have {self.at_once} uploads in progress, the most allowed at once: send this one"
                          " when one of them has finished", retry_after=1)
        self.renew_at = trio.current_time() + RENEW_EVERY
        return self

    async def __aexit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        with trio.CancelScope(shield=True):
            await self.cache.drop_slot(self.slot_key, self.holder)
            if self.day is not None and self.reserved > self.kept:
                await self.store.release_upload_bytes(self.user_id, self.day, self.reserved - self.kept)

    async def admit(self, total: int) -> None:
        """The upload is about to hold `total` bytes: reserve them, or refuse (nothing will be kept)."""
        if trio.current_time() >= self.renew_at:
            self.renew_at = trio.current_time() + RENEW_EVERY
            await self.cache.take_slot(self.slot_key, self.holder, self.at_once, SLOT_TTL)
        if self.per_day == 0 or total <= self.reserved:
            return
        if total > self.per_day:
            raise Refusal(ErrorCode.TOO_LARGE, f"the file is over your daily upload quota of {self.per_day} bytes")
        amount = max(total, min(self.reserved + STEP, self.per_day)) - self.reserved
        got = await self.store.reserve_upload_bytes(self.user_id, amount, self.per_day, self.day)
        if not got.granted and amount > total - self.reserved:  # the step does not fit: maybe what is needed does
            amount = total - self.reserved
            got = await self.store.reserve_upload_bytes(self.user_id, amount, self.per_day, got.day)
        self.day = got.day
        if not got.granted:
            left = max(0, self.per_day - got.used + self.reserved)  # this upload gives back its part
            hours, minutes = divmod(int(got.resets_in) // 60, 60)
            raise Refusal(ErrorCode.QUOTA_EXCEEDED,
                          f"this upload would pass your daily upload quota of {self.per_day} bytes ({left} left"
                          f" today); it resets at 00:00 UTC, in {hours} h {minutes} min",
                          retry_after=max(1, int(got.resets_in)))
        self.reserved += amount

    def keep(self, stored: int) -> None:
        """The upload is recorded: `stored` bytes of the reservation count, the rest is given back."""
        self.kept = stored
