"""Redis (redis-py asyncio client, bridged into trio): rate limits and presence.

Redis holds nothing that must survive: when it is down, rate limits fail open and presence is
unknown, and chat goes on (messages live in Postgres). Each failure is logged, never raised.
"""

from __future__ import annotations

import logging
import time

import redis.asyncio as aredis
from redis.exceptions import RedisError

from persistence.bridge import aio

log = logging.getLogger("chatd.cache")

REDIS_POOL_SIZE = 64


class Cache:
    def __init__(self, client: aredis.Redis, prefix: str = "chat:") -> None:
        self.client = client
        self.prefix = prefix
        self._last_warning = 0.0

    @classmethod
    def open(cls, url: str, prefix: str = "chat:") -> Cache:
        # a bounded pool that makes callers wait for a free connection (redis-py's default pool raises
        # "Too many connections" past 100 callers, which would fail rate limits open under load)
        pool = aredis.BlockingConnectionPool.from_url(url, max_connections=REDIS_POOL_SIZE, timeout=2.0,
                                                     socket_timeout=2.0, socket_connect_timeout=2.0)
        return cls(aredis.Redis(connection_pool=pool), prefix)

    async def close(self) -> None:
        await aio(self.client.aclose)(close_connection_pool=True)

    def _degraded(self, what: str, exc: Exception) -> None:
        now = time.monotonic()
        if now - self._last_warning > 10:
            self._last_warning = now
            log.warning("redis unavailable during %s (degrading): %s", what, exc)

    async def ping(self) -> bool:
        try:
            return bool(await aio(self.client.ping)())
        except (RedisError, OSError) as exc:
            self._degraded("ping", exc)
            return False

    async def hit(self, key: str, limit: int, window_seconds: int) -> float | None:
        """Count one hit on a fixed-window limit; None if allowed, else seconds until allowed again."""
        full = f"{self.prefix}rl:{key}"

        async def count() -> tuple[int, int]:
            async with self.client.pipeline(transaction=True) as pipe:
                pipe.set(full, 0, ex=window_seconds, nx=True)  # the window starts at the first hit
                pipe.incr(full)
                pipe.ttl(full)
                _, n, ttl = await pipe.execute()
                return int(n), int(ttl)
        try:
            n, ttl = await aio(count)()
        except (RedisError, OSError) as exc:
            self._degraded("rate limit", exc)
            return None
        return None if n <= limit else float(max(ttl, 1))

    async def set_online(self, user_id: int, node: str, online: bool) -> None:
        """Presence: a hash of node -> device count per user, so several nodes can share it."""
        key = f"{self.prefix}presence:{user_id}"
        try:
            if online:
                await aio(self.client.hincrby)(key, node, 1)
            elif await aio(self.client.hincrby)(key, node, -1) <= 0:
                await aio(self.client.hdel)(key, node)
        except (RedisError, OSError) as exc:
            self._degraded("presence", exc)

    async def is_online(self, user_id: int) -> bool | None:
        try:
            return bool(await aio(self.client.hlen)(f"{self.prefix}presence:{user_id}"))
        except (RedisError, OSError) as exc:
            self._degraded("presence", exc)
            return None

    async def clear_node(self, node: str, user_ids: list[int]) -> None:
        for uid in user_ids:
            try:
                await aio(self.client.hdel)(f"{self.prefix}presence:{uid}", node)
            except (RedisError, OSError) as exc:
                self._degraded("presence", exc)
                return
