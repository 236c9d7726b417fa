"""History served from the cache, asking the server only for the seqs the cache lacks."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from chatd.clients.sdk.cache import Cache
from chatd.protocol import frames as f

Fetch = Callable[[int, int | None, int], Awaitable[f.HistoryPage]]  # (room, before_seq, limit) -> page


class History:
    def __init__(self, cache: Cache, fetch: Fetch) -> None:
        self.cache = cache
        self.fetch = fetch

    async def cached(self, room: int, before_seq: int | None = None, limit: int = 50) -> list[f.Message]:
        """What the cache holds just below `before_seq` (the newest when None), without the network."""
        if before_seq is None:
            before_seq = await self.cache.top_seq(room) + 1
        return await self.cache.run_before(room, before_seq, limit)

    async def page(self, room: int, before_seq: int | None = None, limit: int = 50) -> list[f.Message]:
        """Up to `limit` messages just below `before_seq` (the newest when None), ascending.

        The contiguous part the cache has is used as is; only the rest below it is requested, and it is
        cached, so scrolling over the same range again costs no request. A page that says `has_more:
        false` marks the room's floor, so the very beginning of a conversation is not asked for again.
        """
        if before_seq is None:
            top = await self.cache.top_seq(room)
            if top == 0:
                return await self._fetch(room, None, limit)
            before_seq = top + 1
        have = await self.cache.run_before(room, before_seq, limit)
        lowest = have[0].seq if have else before_seq
        floor = await self.cache.floor(room)
        if len(have) >= limit or lowest <= max(floor, 1):
            return have
        return await self._fetch(room, lowest, limit - len(have)) + have

    async def _fetch(self, room: int, before_seq: int | None, limit: int) -> list[f.Message]:
        page = await self.fetch(room, before_seq, limit)
        await self.cache.store(page.messages)
        if not page.has_more:
            floor = page.messages[0].seq if page.messages else (before_seq or 1)
            await self.cache.set_floor(room, floor)
        return page.messages
