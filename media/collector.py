"""The media collector: deletes uploads nothing references any more, and blobs no upload uses.

    media-gc  every CHAT_MEDIA_GC_SECONDS: `collect_once` (one pass across all processes at a time)

An upload is kept while a message that is not deleted, a profile's avatar or a room's icon references
it, and for CHAT_MEDIA_GRACE_SECONDS after it was made (or last named as an avatar or icon): the time a
client has between uploading and sending. So the media of deleted messages goes, and so do uploads that
were never sent. Thumbnails go with their original. Every SWEEP_EVERY-th pass (and the first) also looks
for blobs older than the grace period that no row uses: an upload whose rows failed to be written after
its bytes were stored leaves one. The queries and how they stay safe against a send,
an avatar change or an upload of the same bytes racing them are in persistence/media_gc.py.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass

import trio

from chatd.media.storage import BlobStorage
from chatd.persistence.errors import StoreUnavailable
from chatd.persistence.store import Store

log = logging.getLogger("chatd.media")

BATCH = 500  # uploads deleted per transaction
SWEEP_EVERY = 24  # passes between sweeps of the blob store for blobs without rows (the first pass sweeps)
FIRST_PASS_MAX = 30.0  # the first pass comes at most this long after start (a restart loop cannot spin)


@dataclass(frozen=True, slots=True)
class Pass:
    items: int  # media rows deleted (originals and thumbnails)
    blobs: int  # blobs deleted from the blob store


class MediaCollector:
    def __init__(self, store: Store, storage: BlobStorage, grace: float, every: float) -> None:
        self.store = store
        self.storage = storage
        self.grace = grace
        self.every = every
        self.passes = 0

    async def collect_once(self, grace: float | None = None) -> Pass:
        """One pass: delete what is collectable now (uploads older than `grace`, by default the configured
        one), then the blobs nothing uses. Another process's pass running meanwhile: its blobs only."""
        items = 0
        while True:
            done = await self.store.collect_media(self.grace if grace is None else grace, BATCH)
            if done is None:  # another process is collecting
                break
            items += done.items
            if done.items < BATCH:
                break
        if self.passes % SWEEP_EVERY == 0:  # rare: only a failed upload leaves a blob without its rows
            orphans = await self.storage.blobs_older_than(self.grace if grace is None else grace)
            for start in range(0, len(orphans), 1000):
                await self.store.doom_unowned(orphans[start:start + 1000])
        self.passes += 1
        blobs = 0
        while shas := await self.store.doomed_blobs():
            for sha in shas:
                await self.storage.delete(sha)
            await self.store.forget_doomed(shas)
            blobs += len(shas)
        if items or blobs:
            log.info("media collector: %d media items and %d blobs deleted", items, blobs)
        return Pass(items, blobs)

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        await trio.sleep(random.uniform(0.5, 1.0) * min(self.every, FIRST_PASS_MAX))
        while True:
            try:
                await self.collect_once()
            except (StoreUnavailable, OSError) as exc:
                log.warning("media collector: %s; trying again in %g s", exc, self.every)
            await trio.sleep(self.every)
