"""Several chatd processes on one Postgres and one Redis (issue 9), as their users see them.

Two nodes run in this test process (each its own actors, listener and bus subscription, as two
processes have), and for the kill -9 test two real `chatd` child processes. Whatever process a user is
connected to, chat must behave as on one: same order, nothing lost, nothing twice.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
import redis
import trio

from chatd.clients.ws import ChatClient
from chatd.protocol import frames as f
from chatd.protocol import people as p
from tests.admin_support import http, new_admin
from tests.conftest import Backing, Pair, People, make_config, start_node, start_pair
from tests.faults.load import PER_SENDER, confirmed, drain, group_under_load, verify, wait_until
from tests.faults.services import ChatdProcess, free_port, two_processes
from tests.scenarios import SENDERS, thousand_messages_into_one_room
from tests.test_people import sql

GAP_CHECK = 0.2  # seconds between the gap watch's looks at Postgres


@pytest.fixture
async def pair(nursery: trio.Nursery, backing: Backing, tmp_path: Path) -> Pair:
    return await start_pair(nursery, backing, tmp_path, gap_check_seconds=GAP_CHECK, presence_ttl=2.0)


async def test_users_on_different_processes_chat(pair: Pair) -> None:
    ann, ann_c = await pair.on_a.new("ann")
    bob, bob_c = await pair.on_b.new("bob")
    room = (await ann_c.call(f.OpenDirect, user=bob.user_id)).room.room
    assert [m.kind for m in await bob_c.collect(room, 1)] == ["system"], "the new room reached bob's process"

    sent = await ann_c.send_text(room, "hi from a")
    (got,) = await bob_c.collect(room, 1)
    assert (got.seq, got.body, got.sender) == (sent.seq, "hi from a", ann.user_id)
    reply = await bob_c.send_text(room, "hello from b")
    created, back = await ann_c.collect(room, 2)
    assert created.kind == "system" and (back.seq, back.body) == (reply.seq, "hello from b")
    assert reply.seq == sent.seq + 1

    await bob_c.send_frame(f.Read(room=room, seq=sent.seq))
    with trio.fail_after(5):
        while True:  # the read tick reaches the sender on the other process
            status = await ann_c.next_of(f.Status)
            if status.user == bob.user_id and status.read_seq == sent.seq:
                break


async def test_typing_crosses_processes(pair: Pair) -> None:
    ann, ann_c = await pair.on_a.new("ann")
    bob, bob_c = await pair.on_b.new("bob")
    room = (await ann_c.call(f.CreateGroup, name="g", members=[bob.user_id])).room.room
    await bob_c.collect(room, 1)
    await bob_c.send_frame(f.Typing(room=room, active=True))
    assert await ann_c.next_of(f.TypingChanged) == f.TypingChanged(room=room, user=bob.user_id, active=True)
    await bob_c.send_frame(f.Typing(room=room, active=False))
    assert await ann_c.next_of(f.TypingChanged) == f.TypingChanged(room=room, user=bob.user_id, active=False)
    await ann_c.send_frame(f.Typing(room=room, active=True))
    assert await bob_c.next_of(f.TypingChanged) == f.TypingChanged(room=room, user=ann.user_id, active=True)
    await ann_c.send_text(room, "done typing")  # a message ends typing, on every process
    assert await bob_c.next_of(f.TypingChanged) == f.TypingChanged(room=room, user=ann.user_id, active=False)


async def test_presence_crosses_processes(pair: Pair) -> None:
    ann, ann_c = await pair.on_a.new("ann")
    bob, bob_c = await pair.on_b.new("bob")
    room = (await ann_c.call(f.OpenDirect, user=bob.user_id)).room.room
    await bob_c.collect(room, 1)

    async def told(online: bool) -> p.PresenceChanged:
        with trio.fail_after(5):
            while True:
                frame = await ann_c.next_of(p.PresenceChanged)
                if frame.user == bob.user_id and frame.online == online:
                    return frame

    (entry,) = (await ann_c.call(p.GetPresence, users=[bob.user_id])).users
    assert entry.online is True, "presence lives in Redis: every process sees bob online"
    await bob_c.disconnect()
    assert (await told(False)).last_seen is not None
    laptop = await pair.on_a.connect(bob)  # back, on ann's process this time
    await told(True)
    await laptop.disconnect()
    await told(False)


async def test_thousand_messages_from_senders_on_both_processes(pair: Pair) -> None:
    senders = [await (pair.on_a if i % 2 else pair.on_b).new(f"s{i}") for i in range(SENDERS)]
    listener, listener_c = await pair.on_b.new("listener")
    await thousand_messages_into_one_room([(s.user_id, c) for s, c in senders], (listener.user_id, listener_c))


async def test_a_user_on_both_processes_gets_everything_on_both(pair: Pair) -> None:
    ann = await pair.on_a.signup("ann")
    phone, laptop = await pair.on_a.connect(ann), await pair.on_b.connect(ann)
    bob, bob_c = await pair.on_a.new("bob")
    cat, cat_c = await pair.on_b.new("cat")
    room = (await bob_c.call(f.CreateGroup, name="three", members=[ann.user_id, cat.user_id])).room.room
    for client in (phone, laptop, cat_c):
        await client.collect(room, 1)

    mine = await phone.send_text(room, "from ann's phone on a")
    from_bob = await bob_c.send_text(room, "from bob on a")
    from_cat = await cat_c.send_text(room, "from cat on b")
    assert [m.body for m in await laptop.collect(room, 3)] == [
        "from ann's phone on a", "from bob on a", "from cat on b"]
    assert [m.seq for m in await phone.collect(room, 2)] == [from_bob.seq, from_cat.seq], "no echo of her own"
    assert mine.seq < from_bob.seq < from_cat.seq

    await phone.send_frame(f.Read(room=room, seq=from_cat.seq))  # read on the phone...
    with trio.fail_after(5):
        while (counts := await laptop.next_of(f.Counts)).unread:  # ...clears the laptop's badge on b
            pass
    assert counts.room == room


async def test_what_the_bus_lost_is_fetched_from_postgres(pair: Pair, backing: Backing) -> None:
    ann, ann_c = await pair.on_a.new("ann")
    bob, bob_c = await pair.on_b.new("bob")
    assert pair.b.bus is not None and pair.b.bus.subscribed.is_set()

    killer = redis.Redis.from_url(backing.redis_url)
    try:
        await trio.to_thread.run_sync(lambda: killer.client_kill_filter(_type="pubsub"))
    finally:
        killer.close()
    with trio.fail_after(5):
        while pair.b.bus.subscribed.is_set():  # noqa: ASYNC110 - the bus replaces the event when it notices
            await trio.sleep(0.01)
    # while b hears nothing, ann makes a room with bob and writes in it: all of it is published to no one
    room = (await ann_c.call(f.CreateGroup, name="quiet", members=[bob.user_id])).room.room
    lost = [(await ann_c.send_text(room, f"lost {i}")).seq for i in range(5)]
    assert not pair.b.bus.subscribed.is_set(), "b listened again before the sends: the test lost nothing"

    got = await bob_c.collect(room, 6, timeout=10)  # the gap watch finds the room and its messages in Postgres
    assert [m.seq for m in got] == [1, *lost] and [m.body for m in got[1:]] == [f"lost {i}" for i in range(5)]
    with trio.fail_after(5):
        await pair.b.bus.subscribed.wait()
    after = await ann_c.send_text(room, "heard again")
    assert [(m.seq, m.body) for m in await bob_c.collect(room, 1)] == [(after.seq, "heard again")]
    await trio.sleep(3 * GAP_CHECK)
    assert not [x for x in bob_c.pending_pushes() if isinstance(x, f.Msgs)], "nothing came twice"


async def test_kill_9_of_one_process_its_clients_reconnect_to_the_other_and_lose_nothing(
        nursery: trio.Nursery, backing: Backing, tmp_path: Path) -> None:
    dead: list[ChatdProcess] = []
    async with two_processes(backing, tmp_path, gap_check_seconds=str(GAP_CHECK)) as (a, b):
        def url(i: int) -> str:
            server = a if i % 2 == 0 and a not in dead else b
            return server.url

        room, users = await group_under_load(nursery, b, "kill", lambda i: lambda: url(i))
        async with trio.open_nursery() as n:
            for user in users:
                n.start_soon(user.run)
            await wait_until(lambda: confirmed(users) >= 60, 30, "the load is under way")
            await a.kill9()
            dead.append(a)
            in_flight = confirmed(users)
            last = await drain(users, room, timeout=60)
            for user in users:
                user.stop.set()
        assert in_flight < len(users) * PER_SENDER, "the kill came after the load: it tested nothing"
        await verify(users, room, last, backing.database_url)
        assert last == 1 + len(users) * PER_SENDER
        moved = [u for i, u in enumerate(users) if i % 2 == 0]
        assert all(u.log.connections >= 2 for u in moved), "a's clients were cut off and went to b"


async def test_two_processes_share_one_port(nursery: trio.Nursery, backing: Backing, tmp_path: Path) -> None:
    port, http_port = free_port(), free_port()
    nodes = [(await start_node(nursery, make_config(backing, tmp_path, node_name=name, port=port, http_port=http_port,
                                                    reuse_port=True))).node
             for name in ("a", "b")]
    people = People(nursery, nodes[0])  # its url is the shared port: the kernel picks the process
    owner, owner_c = await people.new("owner")
    others = [await people.new(f"u{i}") for i in range(15)]
    gateways = [n.gateway for n in nodes]
    assert all(g is not None and g.connections > 0 for g in gateways), "both processes took connections"
    room = (await owner_c.call(f.CreateGroup, name="shared", members=[p.user_id for p, _ in others])).room.room
    sent = await owner_c.send_text(room, "to everyone, wherever they are")
    for _, client in others:
        assert [m.seq for m in await client.collect(room, 2)] == [1, sent.seq]
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{http_port}") as http:
        assert (await http.get("/healthz")).status_code == 200


async def test_an_admin_on_one_process_disconnects_and_disables_devices_on_both(pair: Pair, backing: Backing) -> None:
    admin = await new_admin(pair.on_a, backing)
    bob = await pair.on_a.signup("bob")
    here, there = await pair.on_a.connect(bob), await pair.on_b.connect(bob)

    async def closed_with(client: ChatClient, code: int) -> None:
        with trio.fail_after(5):
            await client.closed.wait()
        assert client.close_code == code

    async with http(pair.a.http_url, admin.access_token) as api:
        answer = await api.post(f"/api/admin/users/{bob.user_id}/disconnect")
        assert answer.status_code == 200 and answer.json()["closed_connections"] == 1, answer.text
        await closed_with(here, 4009)
        await closed_with(there, 4009)  # on the other process, told over the bus

        there = await pair.on_b.connect(bob)
        assert (await api.post(f"/api/admin/users/{bob.user_id}/disable")).status_code == 200
        await closed_with(there, 4003)



async def test_in_band_auth_refuses_a_disabled_account_and_closes(pair: Pair, backing: Backing) -> None:
    bob = await pair.on_b.signup("bob")
    late = await pair.on_b.connect(bob)
    # disabled behind the server's back (as if the news never came): the next token renewal finds out
    await sql(backing.database_url, "UPDATE users SET disabled = true WHERE id = $1", bob.user_id)
    refused = await late.request(f.Auth, token=bob.access_token)
    assert isinstance(refused, f.Error) and refused.code == "unauthorized", refused
    with trio.fail_after(5):
        await late.closed.wait()
    assert late.close_code == 4003


async def test_sigterm_drains_connections_get_1012_and_the_process_exits_0(
        nursery: trio.Nursery, backing: Backing, tmp_path: Path) -> None:
    """What `docker stop` and `systemctl stop` send: the node drains as `chatctl drain` does (clients are told
    to reconnect elsewhere, 1012, after what was queued for them) and exits cleanly, not with 1006 cut-offs."""
    node = ChatdProcess(backing, tmp_path)
    await node.start()
    try:
        client = await ChatClient.open_in(nursery, node.url)
        auth = await client.call(f.Signup, username="terry", email="terry@example.com", password="correct horse 1")
        await client.call(f.Hello, token=auth.access_token, version=f.PROTOCOL_VERSION)
        started = trio.current_time()
        assert await node.stop() == 0
        with trio.fail_after(5):
            await client.closed.wait()
        assert client.close_code == 1012
        assert trio.current_time() - started < 10
        assert "draining" in node.log_path.read_text()
    finally:
        await node.stop()
