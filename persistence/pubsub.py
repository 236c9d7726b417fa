"""Redis pub/sub for the bus between chatd processes (actors/bus.py): publish, and listen.

The bus is `BUS_SHARDS` channels, `{prefix}bus:{k}`, and a room or a user always goes to the same one
(`shard`), so what one process publishes about one room (or user) arrives in the order it was published.
Every process listens on all of them. On one Redis they are classic channels (PUBLISH/SUBSCRIBE). On a
Redis Cluster they are shard channels (SPUBLISH/SSUBSCRIBE, Redis 7): the `{k}` hash tag puts each on
one slot, so a message goes to the one master that serves it (and its replicas) instead of being copied
to every node of the cluster as a classic PUBLISH is, and the shards spread over the masters.

Pub/sub delivers at most once: a message published while a subscriber is disconnected (or its master is
failing over) is gone. That costs latency, never a message (actors/gaps.py finds what Postgres has and a
process did not hear of).
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Callable, Mapping
from typing import Any

import redis.asyncio as aredis
import trio
from redis.exceptions import RedisError
from redis.utils import str_if_bytes

from chatd.persistence.bridge import aio, concurrently
from chatd.persistence.cache import Cache
from chatd.persistence.errors import REDIS_ERRORS

log = logging.getLogger("chatd.bus")
BusError = REDIS_ERRORS
BUS_SHARDS = 16
LISTEN_TIMEOUT = 1.0  # seconds one wait for a message may last (then it waits again): a swallowed cancel's delay


class ShardMoved(RedisError):
    """A cluster master stopped serving one of our shard channels (its slot moved): subscribe again."""


class PubSub:
    def __init__(self, cache: Cache, name: str) -> None:
        self.cache = cache
        self.client = cache.client
        self.channels = [f"{cache.prefix}{name}:{{{k}}}" for k in range(BUS_SHARDS)]

    @staticmethod
    def shard(key: int) -> int:
        """The channel a room or user id goes to."""
        return key % BUS_SHARDS

    async def publish(self, payloads: Mapping[int, bytes]) -> None:
        """Publish each payload on its shard's channel, in one round trip per Redis node. Raises one of
        BusError when Redis is down (then none, some or all of them went out)."""
        sharded = self.cache.cluster

        async def send() -> None:
            async with self.client.pipeline(transaction=False) as pipe:
                for shard, payload in payloads.items():
                    if sharded:
                        pipe.spublish(self.channels[shard], payload)
                    else:
                        pipe.publish(self.channels[shard], payload)
                await pipe.execute()
        if payloads:
            await aio(send)()

    async def listen(self, on_message: Callable[[bytes], None], on_subscribed: Callable[[], None]) -> None:
        """Call `on_message` (synchronously in this trio thread, it must not block) with each payload, until
        cancelled or Redis fails; `on_subscribed` once every channel is subscribed. The subscriptions run on
        the asyncio loop thread (persistence/bridge.py), which hands each payload over with one wake-up of
        trio."""
        token = trio.lowlevel.current_trio_token()

        def deliver(data: bytes) -> None:
            token.run_sync_soon(_safely, on_message, data)

        def subscribed() -> None:
            token.run_sync_soon(_safely, on_subscribed)

        if self.cache.cluster:
            await aio(self._listen_shards)(deliver, subscribed)
        else:
            await aio(self._listen_classic)(deliver, subscribed)

    async def _listen_classic(self, deliver: Callable[[bytes], None], subscribed: Callable[[], None]) -> None:
        pubsub = self.client.pubsub(ignore_subscribe_messages=True)
        try:
            await pubsub.subscribe(*self.channels)
            subscribed()
            while True:
                message = await _next(pubsub)
                if message is not None and message.get("type") == "message":
                    deliver(message["data"])
        finally:
            await pubsub.aclose()

    async def _listen_shards(self, deliver: Callable[[bytes], None], subscribed: Callable[[], None]) -> None:
        """One connection to each master that serves some of the channels (as the cluster says now), all
        read at once. Any failure (a master gone, a slot moved) ends them all: the bus subscribes again,
        asking the cluster afresh who serves what."""
        cluster: aredis.RedisCluster = self.client
        await cluster.nodes_manager.initialize()  # after a failover: the replica that took over
        by_node: dict[tuple[str, int], list[str]] = defaultdict(list)
        for channel in self.channels:
            node = cluster.get_node_from_key(channel)
            if node is None:
                raise ShardMoved(f"no master of the cluster serves {channel} now")
            by_node[str(node.host), int(node.port)].append(channel)
        pending = len(self.channels)

        def confirmed() -> None:
            nonlocal pending
            pending -= 1
            if pending == 0:
                subscribed()

        async def one(host: str, port: int, channels: list[str]) -> None:
            client = self.cache.node_client(host, port)
            pubsub = client.pubsub()
            try:
                for channel in channels:  # one SSUBSCRIBE may name the channels of one slot only
                    await pubsub.ssubscribe(channel)
                while True:
                    message = await _next(pubsub)
                    kind = message["type"] if message is not None else None  # redis-py gives it as str
                    if kind == "smessage":
                        deliver(message["data"])  # type: ignore[index]
                    elif kind == "ssubscribe":
                        confirmed()
                    elif kind == "sunsubscribe":
                        raise ShardMoved(f"{host}:{port} no longer serves {str_if_bytes(message['channel'])}")  # type: ignore[index]
            finally:
                await pubsub.aclose()
                await client.aclose()
        # the first failure is raised as itself, as the classic listener raises it
        await concurrently(one(host, port, channels) for (host, port), channels in by_node.items())


async def _next(pubsub: aredis.client.PubSub) -> dict[str, Any] | None:
    """The next message, or None after LISTEN_TIMEOUT. A cancel that redis-py swallowed while reading (it
    does, when the connection fails during the read) is raised here, so a listener always stops when told."""
    message = await pubsub.get_message(timeout=LISTEN_TIMEOUT)
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError
    return message


def _safely(fn: Callable[..., None], *args: object) -> None:
    """Run a callback in trio's run_sync_soon, where an exception would end the whole run: log it instead."""
    try:
        fn(*args)
    except Exception:
        log.exception("bus callback %s failed", getattr(fn, "__name__", fn))
