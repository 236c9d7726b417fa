"""Read replicas as users see them: history and backlog come from a streaming standby when it has replayed what
the reader needs, else from the primary; a lagging or stopped standby never hides an acknowledged message.

A real primary and hot standby (tests/replicas.py) and a real node with CHAT_DATABASE_REPLICA_URL set, driven
over the real protocol. The Store's `replica_counts` (and /metrics) say which server answered.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import trio

from chatd.clients.ws import ChatClient
from chatd.node import Node
from chatd.persistence.replica import ReplicaCounts
from chatd.protocol import frames as f
from tests.conftest import Backing, People, Person, make_config, start_node
from tests.faults.services import free_port
from tests.replicas import DATABASE, ReplicatedPostgres, missing, replicated_postgres


@pytest.fixture(scope="module")
def replicated() -> Iterator[ReplicatedPostgres]:
    if (why := missing()) is not None:
        pytest.skip(why)
    with replicated_postgres() as pair:
        yield pair


@dataclass
class Chat:
    """A node on the replicated pair, and two people in a direct room on it."""

    node: Node
    people: People
    ann_c: ChatClient
    rid: int
    bob: Person
    bob_c: ChatClient


async def _chat(nursery: trio.Nursery, backing: Backing, data_dir: Path, pair: ReplicatedPostgres) -> Chat:
    config = make_config(backing, data_dir, database_url=pair.primary_url, database_replica_url=pair.standby_url)
    node = (await start_node(nursery, config)).node
    people = People(nursery, node)
    return Chat(node, people, *await _room_of_two(people))


def _counts(node: Node) -> ReplicaCounts:
    assert node.services is not None
    counts = node.services.store.replica_counts
    return ReplicaCounts(counts.replica, counts.behind, counts.failed, counts.skipped)


async def _room_of_two(people: People) -> tuple[ChatClient, int, Person, ChatClient]:
    ann, ann_c = await people.new("ann")
    bob, bob_c = await people.new("bob")
    rid = (await ann_c.call(f.OpenDirect, user=bob.user_id)).room.room
    for client in (ann_c, bob_c):  # the 'created' event reaches both: their user actors' reads are done
        assert [m.seq for m in await client.collect(rid, 1)] == [1]
    return ann_c, rid, bob, bob_c


async def _talk(ann_c: ChatClient, bob_c: ChatClient, rid: int, n: int) -> list[str]:
    said: list[str] = []
    for i in range(n):
        for who, client in (("ann", ann_c), ("bob", bob_c)):
            said.append(f"{who} {i} {uuid.uuid4().hex[:6]}")
            await client.send_text(rid, said[-1])
    return said


async def test_a_paused_replica_never_hides_an_acknowledged_message(
        nursery: trio.Nursery, backing: Backing, tmp_path: Path, replicated: ReplicatedPostgres) -> None:
    chat = await _chat(nursery, backing, tmp_path, replicated)
    node, people, ann_c, rid, bob, bob_c = chat.node, chat.people, chat.ann_c, chat.rid, chat.bob, chat.bob_c
    await trio.to_thread.run_sync(replicated.caught_up)
    await trio.to_thread.run_sync(replicated.pause_replay)
    try:
        before = _counts(node)
        said = await _talk(ann_c, bob_c, rid, 5)  # each acknowledged (`sent`) before the next
        for client in (ann_c, bob_c):  # the writer and the other reader, at once
            page = await client.call(f.History, room=rid)
            assert [m.body for m in page.messages[1:]] == said
        await bob_c.disconnect()
        again = await people.connect(bob, cursors={rid: 1})  # a backlog from just after the room's creation
        got = await again.collect(rid, len(said))
        assert [m.seq for m in got] == list(range(2, 2 + len(said)))
        assert [m.body for m in got] == said
        after = _counts(node)
        assert after.replica == before.replica, "the paused replica served a read it had not replayed"
        assert after.behind >= before.behind + 3  # two history pages and the backlog went to the primary
    finally:
        await trio.to_thread.run_sync(replicated.resume_replay)


async def test_a_caught_up_replica_serves_history_and_backlog(
        nursery: trio.Nursery, backing: Backing, tmp_path: Path, replicated: ReplicatedPostgres) -> None:
    chat = await _chat(nursery, backing, tmp_path, replicated)
    node, people, ann_c, rid, bob, bob_c = chat.node, chat.people, chat.ann_c, chat.rid, chat.bob, chat.bob_c
    said = await _talk(ann_c, bob_c, rid, 3)
    await bob_c.disconnect()
    await trio.to_thread.run_sync(replicated.caught_up)
    before = _counts(node)
    page = await ann_c.call(f.History, room=rid)
    assert [m.body for m in page.messages[1:]] == said
    assert _counts(node).replica == before.replica + 1
    again = await people.connect(bob, cursors={rid: 1})
    assert [m.body for m in await again.collect(rid, len(said))] == said
    after = _counts(node)
    assert after.replica >= before.replica + 2 and after.failed == before.failed == 0
    async with httpx.AsyncClient(base_url=node.http_url) as http:  # what an operator sees
        text = (await http.get("/metrics")).text
    assert f'chatd_replica_reads{{served="replica"}} {float(after.replica)}' in text.splitlines()


async def test_a_stopped_replica_leaves_reads_to_the_primary(
        nursery: trio.Nursery, backing: Backing, tmp_path: Path, replicated: ReplicatedPostgres) -> None:
    chat = await _chat(nursery, backing, tmp_path, replicated)
    node, people, ann_c, rid, bob, bob_c = chat.node, chat.people, chat.ann_c, chat.rid, chat.bob, chat.bob_c
    await trio.to_thread.run_sync(replicated.caught_up)
    assert (await ann_c.call(f.History, room=rid)).messages
    before = _counts(node)
    assert before.replica >= 1 and before.failed == 0  # the pool holds connections to the standby now
    await trio.to_thread.run_sync(replicated.standby.stop)
    try:
        said = await _talk(ann_c, bob_c, rid, 3)
        for _ in range(2):  # the first meets the dead connection, the second comes within the retry interval
            page = await ann_c.call(f.History, room=rid)
            assert [m.body for m in page.messages[1:]] == said
        await bob_c.disconnect()
        again = await people.connect(bob, cursors={rid: 1})
        assert [m.body for m in await again.collect(rid, len(said))] == said
        after = _counts(node)
        assert after.replica == before.replica and after.failed >= 1  # logged, and the user saw nothing of it
        assert after.failed + after.skipped >= 3  # two history pages and the backlog
    finally:
        await trio.to_thread.run_sync(replicated.standby.start)
        await trio.to_thread.run_sync(replicated.caught_up)


async def test_a_replica_that_never_answered_delays_nothing(
        nursery: trio.Nursery, backing: Backing, tmp_path: Path, replicated: ReplicatedPostgres) -> None:
    nowhere = f"postgresql://postgres@127.0.0.1:{free_port()}/{DATABASE}"  # a port nothing listens on
    config = make_config(backing, tmp_path, database_url=replicated.primary_url, database_replica_url=nowhere)
    node = (await start_node(nursery, config)).node  # its pool connects on first use: the node starts
    people = People(nursery, node)
    ann_c, rid, _, bob_c = await _room_of_two(people)
    said = await _talk(ann_c, bob_c, rid, 2)
    assert [m.body for m in (await ann_c.call(f.History, room=rid)).messages[1:]] == said
    counts = _counts(node)
    assert counts.replica == 0 and counts.failed >= 1
