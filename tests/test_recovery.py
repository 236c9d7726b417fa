"""Crashes and restarts: an acknowledged message is never lost, duplicated or reordered.

Room actors are crashed mid-traffic through the supervisor's fault injection; the whole server is
stopped and started again on the same Postgres; Postgres and Redis are cut off behind a TCP proxy
(tests/faultproxy.py) while clients keep talking.
"""

from __future__ import annotations

import uuid
from dataclasses import replace

import trio

from chatd.node import Node
from chatd.protocol import frames as f
from chatd.runtime.config import Config
from tests.conftest import People, start_node
from tests.faultproxy import fault_proxy
from tests.test_invites import sql


async def send_until_stored(client: object, rid: int, body: str, attempts: int = 100) -> f.Sent:
    """What a well-behaved client does: on `retry`, send again with the same client_id."""
    client_id = str(uuid.uuid4())
    for _ in range(attempts):
        reply = await client.request(f.Send, room=rid, client_id=client_id, body=body)  # type: ignore[attr-defined]
        if isinstance(reply, f.Sent):
            return reply
        assert isinstance(reply, f.Error) and reply.code == "retry", reply
        assert reply.retry_after is not None and reply.retry_after > 0
        await trio.sleep(0.02)  # a real client waits retry_after (1 s); the test keeps it short
    raise AssertionError(f"{body!r} was never stored")


async def test_room_actor_crash_mid_traffic_loses_nothing(nursery: trio.Nursery, config: Config) -> None:
    running = await start_node(nursery, config)
    node = running.node
    people = People(nursery, node)
    senders = [await people.new(f"s{i}") for i in range(3)]
    listener, listener_c = await people.new("listener")
    owner_c = senders[0][1]
    rid = (await owner_c.call(f.CreateGroup, name="crashy",
                              members=[p.user_id for p, _ in senders[1:]] + [listener.user_id])).room.room
    acked: list[f.Sent] = []
    heard: list[f.Message] = []

    async def send(index: int) -> None:
        for k in range(60):
            acked.append(await send_until_stored(senders[index][1], rid, f"{index}:{k}"))

    async def crash_repeatedly() -> None:
        assert node.services is not None
        for _ in range(8):
            await trio.sleep(0.05)
            node.services.rooms.inject_crash(rid)

    async def listen() -> None:
        heard.extend(await listener_c.collect(rid, 181, timeout=60))

    async with trio.open_nursery() as n:
        n.start_soon(listen)
        n.start_soon(crash_repeatedly)
        for i in range(3):
            n.start_soon(send, i)

    assert node.services is not None
    restarts = [e for e in node.services.rooms.supervisor.events if e.kind == "restarted"]
    assert restarts, "the room actor was never crashed: the test did not test anything"
    assert all("injected crash" in (e.reason or "") for e in node.services.rooms.supervisor.events
               if e.kind == "exited" and e.reason != "normal")
    assert sorted(s.seq for s in acked) == list(range(2, 182))  # gap-free, each stored once
    assert [m.seq for m in heard] == list(range(1, 182))  # exactly once, in order
    body_of = {s.seq: s for s in acked}
    assert all(body_of[m.seq].client_id == m.client_id for m in heard[1:])
    # the room is still alive and seq goes on
    assert (await owner_c.send_text(rid, "after the storm")).seq == 182


async def test_server_restart_keeps_messages_and_cursors(nursery: trio.Nursery, config: Config) -> None:
    first = await start_node(nursery, config)
    people = People(nursery, first.node)
    ann, ann_c = await people.new("ann")
    bob, bob_c = await people.new("bob")
    rid = (await ann_c.call(f.OpenDirect, user=bob.user_id)).room.room
    await bob_c.collect(rid, 1)
    seqs = [(await ann_c.send_text(rid, f"m{i}")).seq for i in range(5)]  # seq 2..6
    got = await bob_c.collect(rid, 5, ack=False)
    assert [m.seq for m in got] == seqs
    await bob_c.ack(rid, 4)
    await bob_c.send_frame(f.Read(room=rid, seq=3))
    with trio.fail_after(5):  # both cursors reached the server once ann hears about them (a frame still on
        while True:           # the wire when the server stops is lost with the connection)
            status = await ann_c.next_of(f.Status)
            if status.delivered_seq >= 4 and (status.read_seq or 0) >= 3:
                break
    await first.stop()  # whatever of them is not stored yet is flushed on the way down
    assert ann_c.closed.is_set() and bob_c.closed.is_set()

    second = await start_node(nursery, config)
    people = People(nursery, second.node)
    ann_c = await people.connect(ann)
    bob_c = await people.connect(bob)
    backlog = await bob_c.collect(rid, 2)
    assert [m.seq for m in backlog] == [5, 6]  # after delivered_seq 4, nothing acked comes again
    with trio.fail_after(5):  # bob's acks of the backlog are stored (debounced) and reported
        while (await ann_c.next_of(f.Status)).delivered_seq < 6:
            pass
    summary = {r.room: r for r in (await bob_c.call(f.ListRooms)).rooms}[rid]
    assert (summary.delivered_seq, summary.read_seq, summary.last_seq) == (6, 3, 6)
    page = await ann_c.call(f.History, room=rid)
    assert [m.body for m in page.messages] == [None, "m0", "m1", "m2", "m3", "m4"]
    assert (await ann_c.send_text(rid, "still here")).seq == 7


async def test_cursors_a_user_actor_still_holds_are_stored_when_the_node_stops(nursery: trio.Nursery,
                                                                              config: Config) -> None:
    """The user actors stop before the cursor writer: the moves they are still coalescing reach it and are
    stored, so what a device acknowledged is not sent again after a restart."""
    first = await start_node(nursery, replace(config, cursor_flush_seconds=3600))  # held until the actor stops
    people = People(nursery, first.node)
    ann, ann_c = await people.new("ann")
    bob, bob_c = await people.new("bob")
    rid = (await ann_c.call(f.OpenDirect, user=bob.user_id)).room.room
    await bob_c.collect(rid, 1)
    seqs = [(await ann_c.send_text(rid, f"m{i}")).seq for i in range(3)]  # seq 2..4
    assert [m.seq for m in await bob_c.collect(rid, 3, ack=False)] == seqs
    await bob_c.ack(rid, 3)
    with trio.fail_after(5):  # the user actor took the ack: it tells the room at once, and stores it later
        while (await ann_c.next_of(f.Status)).delivered_seq < 3:
            pass
    await first.stop()

    second = await start_node(nursery, config)
    bob_c = await People(nursery, second.node).connect(bob)
    assert [m.seq for m in await bob_c.collect(rid, 1)] == [4]  # delivered_seq 3 was stored on the way down


async def test_database_outage_gets_retry_then_recovers_without_loss(nursery: trio.Nursery,
                                                                    config: Config) -> None:
    assert config.database_url
    async with fault_proxy(config.database_url, 5432) as pg:
        running = await start_node(nursery, replace(config, database_url=pg.proxied_url))
        people = People(nursery, running.node)
        ann, ann_c = await people.new("ann")
        bob, bob_c = await people.new("bob")
        rid = (await ann_c.call(f.OpenDirect, user=bob.user_id)).room.room
        await bob_c.collect(rid, 1)
        await ann_c.send_text(rid, "before")

        pg.cut()
        client_id = str(uuid.uuid4())
        reply = await ann_c.request(f.Send, room=rid, client_id=client_id, body="during")
        assert isinstance(reply, f.Error) and reply.code == "retry"  # never a false `sent`
        assert reply.retry_after is not None and reply.retry_after > 0
        history = await ann_c.request(f.History, room=rid)
        assert isinstance(history, f.Error) and history.code == "retry"

        pg.restore()
        with trio.fail_after(20):
            while not isinstance(reply := await ann_c.request(f.Send, room=rid, client_id=client_id,
                                                              body="during"), f.Sent):
                assert isinstance(reply, f.Error) and reply.code == "retry"
                await trio.sleep(0.1)
        got = await bob_c.collect(rid, 2)  # bob's connection lived through the outage
        assert [m.body for m in got] == ["before", "during"]
        page = await ann_c.call(f.History, room=rid)
        assert [m.body for m in page.messages] == [None, "before", "during"]  # stored exactly once
        await running.stop()


async def test_redis_outage_degrades_but_chat_goes_on(nursery: trio.Nursery, config: Config) -> None:
    assert config.redis_url
    async with fault_proxy(config.redis_url, 6379) as redis:
        running = await start_node(nursery, replace(config, redis_url=redis.proxied_url))
        people = People(nursery, running.node)
        ann, bob = await people.signup("ann"), await people.signup("bob")
        redis.cut()  # signup and login refuse now (test_login_limits.py); connecting with a token does not
        ann_c, bob_c = await people.connect(ann), await people.connect(bob)
        rid = (await ann_c.call(f.OpenDirect, user=bob.user_id)).room.room
        await ann_c.send_text(rid, "redis is down")
        got = await bob_c.collect(rid, 2)
        assert got[-1].body == "redis is down"
        redis.restore()
        await ann_c.send_text(rid, "and back")
        assert (await bob_c.collect(rid, 1))[0].body == "and back"
        await running.stop()


async def test_a_request_the_database_refuses_does_not_take_the_room_down(people: People, node: Node) -> None:
    """A poison message (here: one a real Postgres trigger rejects) gets an error; its batch-mates are stored,
    and the room actor neither crashes nor restarts into it again."""
    poison = f"poison-{uuid.uuid4().hex}"
    await sql(node, f"""
        CREATE FUNCTION refuse_poison() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN IF NEW.body = '{poison}' THEN RAISE EXCEPTION 'refused by a trigger'; END IF; RETURN NEW; END $$;
        CREATE TRIGGER refuse_poison BEFORE INSERT ON messages FOR EACH ROW EXECUTE FUNCTION refuse_poison();""")
    try:
        (_, ann_c), (bob, bob_c) = await people.new("ann"), await people.new("bob")
        rid = (await ann_c.call(f.OpenDirect, user=bob.user_id)).room.room
        replies: dict[str, f.Frame] = {}

        async def send(body: str) -> None:
            replies[body] = await ann_c.request(f.Send, room=rid, client_id=str(uuid.uuid4()), body=body)
        async with trio.open_nursery() as n:  # sent together, so they share a group commit
            for body in ["before", poison, "after"]:
                n.start_soon(send, body)
        bad = replies[poison]
        assert isinstance(bad, f.Error) and bad.code == "internal", bad
        assert all(isinstance(replies[b], f.Sent) for b in ("before", "after")), replies
        got = await bob_c.collect(rid, 3)  # the room's creation, then the two good ones, in seq order
        assert sorted(m.body or "" for m in got[1:]) == ["after", "before"] and [m.seq for m in got] == [1, 2, 3]
        assert not [e for e in node.services.rooms.supervisor.events if e.kind == "restarted"]  # type: ignore[union-attr]
        assert isinstance(await ann_c.send_text(rid, "still fine"), f.Sent)
    finally:
        await sql(node, "DROP TRIGGER refuse_poison ON messages; DROP FUNCTION refuse_poison();")
