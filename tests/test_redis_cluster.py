"""chatd on a real Redis Cluster (issue 20): three masters with a replica each, started by these tests.

The bus runs on shard channels (SPUBLISH/SSUBSCRIBE) spread over the masters, presence and the login
throttle keep each script in one slot, and a master killed mid-run costs latency, never a message: the
gap watch fills from Postgres what the bus lost while its replica took over.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
import redis
import trio

from chatd.clients.ws import ChatClient
from chatd.persistence.cache import Cache
from chatd.persistence.pubsub import BUS_SHARDS
from chatd.protocol import frames as f
from chatd.protocol import people as p
from tests.conftest import PASSWORD, Backing, Pair, start_pair
from tests.faults.load import PER_SENDER, confirmed, drain, group_under_load, verify, wait_until
from tests.faults.services import free_port, two_processes
from tests.redis_cluster import RedisCluster, cluster_binaries, redis_cluster

GAP_CHECK = 0.2

found = cluster_binaries()
pytestmark = pytest.mark.skipif(isinstance(found, str), reason=str(found))


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisCluster]:
    with redis_cluster(tmp_path_factory.mktemp("redis-cluster")) as running:
        yield running


@pytest.fixture
def on_cluster(backing: Backing, cluster: RedisCluster) -> Backing:
    return replace(backing, redis_url=cluster.url)


def bus_channel(backing: Backing, key: int) -> str:
    return f"{backing.redis_prefix}bus:{{{key % BUS_SHARDS}}}"


def subscribers(cluster: RedisCluster, backing: Backing) -> tuple[dict[str, int], int]:
    """Per bus channel, its shard subscribers (asked of the master serving it); and the classic ones."""
    shard: dict[str, int] = {}
    classic = 0
    for k in range(BUS_SHARDS):
        channel = bus_channel(backing, k)
        with cluster.client(cluster.master_for(channel)) as c:
            ((_, n),) = c.pubsub_shardnumsub(channel)
            shard[channel] = int(n)
        for port in cluster.masters():
            with cluster.client(port) as c:
                classic += sum(int(n) for _, n in c.pubsub_numsub(channel))
    return shard, classic


async def test_two_processes_chat_over_shard_channels(nursery: trio.Nursery, on_cluster: Backing,
                                                      cluster: RedisCluster, tmp_path: Path) -> None:
    pair: Pair = await start_pair(nursery, on_cluster, tmp_path, gap_check_seconds=GAP_CHECK, presence_ttl=2.0,
                                  redis_cluster="yes")
    assert pair.a.services is not None and pair.a.services.cache.cluster, "CHAT_REDIS_URL named a cluster node"
    assert pair.a.bus is not None and pair.b.bus is not None
    with trio.fail_after(10):
        await pair.a.bus.subscribed.wait()
        await pair.b.bus.subscribed.wait()
    shard, classic = await trio.to_thread.run_sync(subscribers, cluster, on_cluster)
    assert set(shard.values()) == {2} and classic == 0, (shard, classic)
    masters = {cluster.master_for(channel) for channel in shard}
    assert len(masters) == 3, "the bus's channels are spread over all three masters"

    ann, ann_c = await pair.on_a.new("ann")  # signup: the rate limit; hello: presence, both on the cluster
    bob, bob_c = await pair.on_b.new("bob")
    room = (await ann_c.call(f.OpenDirect, user=bob.user_id)).room.room
    assert [m.kind for m in await bob_c.collect(room, 1)] == ["system"]
    sent = [await ann_c.send_text(room, f"a{i}") for i in range(5)]
    assert [(m.seq, m.body) for m in await bob_c.collect(room, 5)] == [(s.seq, f"a{i}") for i, s in enumerate(sent)]
    reply = await bob_c.send_text(room, "from b")
    assert [(m.seq, m.body) for m in await ann_c.collect(room, 2)][1:] == [(reply.seq, "from b")]

    await bob_c.send_frame(f.Typing(room=room, active=True))
    assert await ann_c.next_of(f.TypingChanged) == f.TypingChanged(room=room, user=bob.user_id, active=True)
    seen = await ann_c.call(p.GetPresence, users=[bob.user_id])
    assert [(u.user, u.online) for u in seen.users] == [(bob.user_id, True)], "bob's presence, vouched for by b"

    login = await ChatClient.open_in(nursery, pair.b.url)  # the login throttle's script runs on the cluster
    auth = await login.request(f.Login, username=ann.username, password=PASSWORD)
    assert isinstance(auth, f.AuthOk) and auth.user_id == ann.user_id
    wrong = await login.request(f.Login, username=ann.username, password="not it")
    assert isinstance(wrong, f.Error) and wrong.code == "unauthorized"


@pytest.fixture
def own_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisCluster]:
    """A cluster of its own, for a test that kills one of its masters."""
    with redis_cluster(tmp_path_factory.mktemp("redis-cluster-killed")) as running:
        yield running


async def test_a_master_killed_mid_run_loses_nothing(nursery: trio.Nursery, backing: Backing,
                                                     own_cluster: RedisCluster, tmp_path: Path) -> None:
    """Senders on two chatd processes in one room; the master serving the room's bus channel is killed
    (SIGKILL) while they send, and its replica takes over: every message confirmed is stored once,
    everyone gets all of them once, in seq order."""
    cluster = own_cluster
    on_cluster = replace(backing, redis_url=cluster.url)
    async with two_processes(on_cluster, tmp_path, gap_check_seconds=str(GAP_CHECK)) as (a, b):
        room, users = await group_under_load(nursery, b, "failover", lambda i: lambda: (a if i % 2 else b).url)
        channel = bus_channel(on_cluster, room)
        async with trio.open_nursery() as n:
            for user in users:
                n.start_soon(user.run)
            await wait_until(lambda: confirmed(users) >= 60, 30, "the load is under way")
            old = await trio.to_thread.run_sync(cluster.master_for, channel)
            await trio.to_thread.run_sync(cluster.kill, old)
            in_flight = confirmed(users)
            new = await trio.to_thread.run_sync(cluster.taken_over, channel, old)
            last = await drain(users, room, timeout=60)
            for user in users:
                user.stop.set()
        assert old != new and in_flight < len(users) * PER_SENDER, "the master died while the load ran"
        await verify(users, room, last, on_cluster.database_url)
        assert last == 1 + len(users) * PER_SENDER
        def listeners() -> int:
            with redis.Redis(host="127.0.0.1", port=new) as c:
                ((_, n),) = c.pubsub_shardnumsub(channel)
                return int(n)
        with trio.fail_after(10):  # both processes subscribed again, on the master that took over
            while await trio.to_thread.run_sync(listeners) != 2:  # noqa: ASYNC110 - polling another server
                await trio.sleep(0.2)


async def test_a_cluster_that_does_not_answer_at_start(on_cluster: Backing) -> None:
    """Asked (`auto`), a server that does not answer is taken as one server, as the log says; told (`yes`),
    chatd makes a cluster client anyway, which degrades (a rate limit fails open) until the cluster answers."""
    down = f"redis://127.0.0.1:{free_port()}/0"
    told = await Cache.open(down, "x:", "yes")
    asked = await Cache.open(down, "x:", "auto")
    try:
        assert told.cluster and not asked.cluster
        assert await told.hit("probe", limit=1, window_seconds=10) is None
        assert await told.presence([1, 2], ttl=1.0) is None, "presence is unknown, not a crash"
    finally:
        await told.close()
        await asked.close()
    up = await Cache.open(on_cluster.redis_url, "x:", "auto")  # asked, a cluster node says it is one
    try:
        assert up.cluster and await up.hit("probe", limit=1, window_seconds=10) is None
    finally:
        await up.close()
