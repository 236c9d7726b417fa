"""Redis pub/sub for the bus between chatd processes (actors/bus.py): publish, and listen on one channel.

Pub/sub delivers at most once: a message published while a subscriber is disconnected is gone. That
costs latency, never a message (actors/gaps.py finds what Postgres has and a process did not hear of).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import trio
from redis.exceptions import RedisError

from chatd.persistence.bridge import aio
from chatd.persistence.cache import Cache

log = logging.getLogger("chatd.bus")
BusError = (RedisError, OSError)


class PubSub:
    def __init__(self, cache: Cache, channel: str) -> None:
        self.client = cache.client
        self.channel = f"{cache.prefix}{channel}"

    async def publish(self, payload: bytes) -> int:
        """Publish; the number of subscribers that got it. Raises one of BusError when Redis is down."""
        return int(await aio(self.client.publish)(self.channel, payload))

    async def listen(self, on_message: Callable[[bytes], None], on_subscribed: Callable[[], None]) -> None:
        """Call `on_message` (synchronously in this trio thread, it must not block) with each payload, until
        cancelled or Redis fails. The subscription itself runs on the asyncio loop thread
        (persistence/bridge.py), which hands each payload over with one wake-up of trio."""
        token = trio.lowlevel.current_trio_token()

        async def run() -> None:
            pubsub = self.client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self.channel)
                token.run_sync_soon(_safely, on_subscribed)
                while True:
                    message = await pubsub.get_message(timeout=30.0)
                    if message is not None and message.get("type") == "message":
                        token.run_sync_soon(_safely, on_message, message["data"])
            finally:
                await pubsub.aclose()
        await aio(run)()


def _safely(fn: Callable[..., None], *args: object) -> None:
    """Run a callback in trio's run_sync_soon, where an exception would end the whole run: log it instead."""
    try:
        fn(*args)
    except Exception:
        log.exception("bus callback %s failed", getattr(fn, "__name__", fn))
