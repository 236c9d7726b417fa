"""Fault suite: under load from retrying clients, kill and restart what the chat runs on.

After each fault every client drains, and then Postgres and every client's log must agree: each message
that got `sent` is stored exactly once, seq is gap-free, every user holds every message in order, and
no one received a message twice (tests/faults/load.py has the client and the verdict).
"""

from __future__ import annotations

import random
from dataclasses import replace
from pathlib import Path

import trio

from chatd.embedded import RedisProcess
from tests.conftest import Backing, make_config, start_node
from tests.faults.load import MEMBERS, PER_SENDER, confirmed, drain, group_under_load, verify, wait_until
from tests.faults.services import ChatdProcess, own_postgres, restart_postgres


async def test_kill_9_mid_load_then_restart_loses_nothing(nursery: trio.Nursery, backing: Backing,
                                                         tmp_path: Path) -> None:
    server = ChatdProcess(backing, tmp_path)
    await server.start()
    try:
        room, users = await group_under_load(nursery, server, "kill")
        async with trio.open_nursery() as n:
            for user in users:
                n.start_soon(user.run)
            await wait_until(lambda: confirmed(users) >= 60, 30, "the load is under way")
            await server.kill9()
            in_flight = confirmed(users)
            await trio.sleep(0.5)  # clients find the server gone and back off
            await server.start()
            last = await drain(users, room, timeout=60)
            for user in users:
                user.stop.set()
        assert in_flight < MEMBERS * PER_SENDER, "the kill came after the load: it tested nothing"
        await verify(users, room, last, backing.database_url)
        assert last == 1 + MEMBERS * PER_SENDER
        assert all(u.log.connections >= 2 for u in users), "every client was cut off and reconnected"
    finally:
        await server.stop()


async def test_postgres_restart_mid_load_gives_retry_and_loses_nothing(nursery: trio.Nursery, backing: Backing,
                                                                      tmp_path: Path) -> None:
    with own_postgres(tmp_path) as pg:
        url = pg.get_uri()  # type: ignore[attr-defined]
        running = await start_node(nursery, make_config(replace(backing, database_url=url), tmp_path))
        room, users = await group_under_load(nursery, running.node, "pgrestart")
        async with trio.open_nursery() as n:
            for user in users:
                n.start_soon(user.run)
            await wait_until(lambda: confirmed(users) >= 60, 30, "the load is under way")
            await restart_postgres(pg)
            last = await drain(users, room, timeout=60)
            for user in users:
                user.stop.set()
        assert sum(u.log.retries for u in users) > 0, "no sender saw the outage: the test tested nothing"
        await verify(users, room, last, url)
        assert last == 1 + MEMBERS * PER_SENDER
        await running.stop()


async def test_redis_stopped_and_started_chat_goes_on(nursery: trio.Nursery, backing: Backing,
                                                     tmp_path: Path) -> None:
    redis = RedisProcess(tmp_path)
    redis.start()
    try:
        running = await start_node(nursery, make_config(replace(backing, redis_url=redis.url), tmp_path))
        room, users = await group_under_load(nursery, running.node, "redis")
        async with trio.open_nursery() as n:
            for user in users:
                n.start_soon(user.run)
            await wait_until(lambda: confirmed(users) >= 40, 30, "the load is under way")
            await trio.to_thread.run_sync(redis.stop)
            before = confirmed(users)
            await wait_until(lambda: confirmed(users) >= before + 40, 30, "messages flow while Redis is down")
            await trio.to_thread.run_sync(redis.start)
            last = await drain(users, room, timeout=60)
            for user in users:
                user.stop.set()
        await verify(users, room, last, backing.database_url)
        assert all(u.log.connections == 1 for u in users), "a Redis outage must not drop connections"
        await running.stop()
    finally:
        redis.stop()


async def test_injected_room_and_user_actor_crashes(nursery: trio.Nursery, backing: Backing, tmp_path: Path) -> None:
    running = await start_node(nursery, make_config(backing, tmp_path))
    services = running.node.services
    assert services is not None
    room, users = await group_under_load(nursery, running.node, "crash")
    rng = random.Random(7)
    injected = {"room": 0, "user": 0}

    def room_restarts() -> int:
        return sum(e.kind == "restarted" for e in services.rooms.supervisor.events)

    def user_crashes() -> int:
        return sum(e.kind == "exited" and "injected crash" in (e.reason or "")
                   for e in services.users.supervisor.events)

    async with trio.open_nursery() as n:
        for user in users:
            n.start_soon(user.run)
        for _ in range(8):
            await trio.sleep(rng.uniform(0.02, 0.15))
            if rng.random() < 0.5:
                before = room_restarts()
                if services.rooms.inject_crash(room):
                    injected["room"] += 1
                    await wait_until(lambda: room_restarts() > before, 10, "the room actor restarted")  # noqa: B023
            else:
                victim = rng.choice(users).person.user_id
                before = user_crashes()
                if services.users.inject_crash(victim):
                    injected["user"] += 1
                    await wait_until(lambda: user_crashes() > before, 10, "the user actor exited")  # noqa: B023
        last = await drain(users, room, timeout=60)
        for user in users:
            user.stop.set()
    assert injected["room"] and injected["user"], f"both kinds of crash must happen: {injected}"
    assert room_restarts() == injected["room"]
    assert user_crashes() == injected["user"]
    await verify(users, room, last, backing.database_url)
    await running.stop()
