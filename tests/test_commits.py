"""The node-wide commit (actors/commits.py, persistence/messages.py append_rooms) through the real server."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest
import trio

from chatd.actors.commits import CommitWriter
from chatd.actors.items import Crash
from chatd.node import Node
from chatd.persistence.errors import StaleRoom
from chatd.persistence.messages import RoomAppend
from chatd.persistence.records import Appended, NewText
from chatd.protocol import frames as f
from tests.conftest import People


async def _pair(people: People) -> tuple[int, int, object, object]:
    ann, ann_c = await people.new("ann")
    bob, bob_c = await people.new("bob")
    room = (await ann_c.call(f.OpenDirect, user=bob.user_id)).room.room
    return room, ann.user_id, ann_c, bob_c


async def test_many_rooms_commit_together_and_each_stays_gap_free(node: Node, people: People) -> None:
    pairs = [await _pair(people) for _ in range(20)]
    assert node.commits is not None
    before = (node.commits.transactions, node.commits.rooms_committed)
    sent: dict[int, list[int]] = {}

    async def chat(room: int, ann_c: object, bob_c: object) -> None:
        async with trio.open_nursery() as n:
            for i in range(3):
                async def one(i: int = i) -> None:
                    sent.setdefault(room, []).append((await ann_c.send_text(room, f"m{i}")).seq)  # type: ignore
                n.start_soon(one)
    async with trio.open_nursery() as n:
        for room, _, ann_c, bob_c in pairs:
            n.start_soon(chat, room, ann_c, bob_c)
    for room, _, _, bob_c in pairs:
        got = await bob_c.collect(room, 4)  # type: ignore[attr-defined]
        assert [m.seq for m in got] == [1, 2, 3, 4]  # the 'created' message, then three texts, no gap
        assert sorted(sent[room]) == [2, 3, 4]
    transactions = node.commits.transactions - before[0]
    rooms = node.commits.rooms_committed - before[1]
    assert rooms >= 20 and transactions < rooms  # rooms shared transactions


async def test_a_stale_room_is_refused_and_the_others_of_its_batch_are_stored(node: Node, people: People) -> None:
    owner, owner_c = await people.new("owner")
    friend = await people.signup("friend")
    group = (await owner_c.call(f.CreateGroup, name="g", members=[friend.user_id])).room.room
    direct, ann, _, _ = await _pair(people)
    assert node.services is not None
    store = node.services.store
    text = NewText(owner.user_id, str(uuid.uuid4()), "from a stale view")
    stale, fresh = await store.append_rooms([
        RoomAppend(group, [text], expected_last_seq=0),  # before the group's system messages
        RoomAppend(direct, [NewText(ann, str(uuid.uuid4()), "hi")], expected_last_seq=1)])
    assert isinstance(stale, StaleRoom)
    assert isinstance(fresh, list) and fresh[0].message is not None and fresh[0].message.seq == 2
    page = await owner_c.call(f.History, room=group)
    assert all(m.body != "from a stale view" for m in page.messages)  # nothing of the stale room was stored


async def test_a_request_the_database_refuses_fails_alone(node: Node, people: People) -> None:
    rooms = [await _pair(people) for _ in range(5)]
    assert node.services is not None
    writer = CommitWriter(node.services.store)  # not running yet: every job waits for one transaction
    outcomes: dict[int, list[Appended] | Exception] = {}

    async def commit(room: int, sender: int, body: str) -> None:
        try:
            outcomes[room] = await writer.commit(room, [NewText(sender, str(uuid.uuid4()), body)], None)
        except Exception as exc:
            outcomes[room] = exc
    async with trio.open_nursery() as n:
        for i, (room, sender, _, _) in enumerate(rooms):
            n.start_soon(commit, room, sender, "NUL \x00 is not storable text" if i == 3 else f"fine {i}")
        await wait_all_queued(writer, 5)
        n.start_soon(writer.run)
        await until(lambda: len(outcomes) == 5)
        n.cancel_scope.cancel()
    bad_room = rooms[3][0]
    for room, _, _, _ in rooms:
        got = outcomes[room]
        if room == bad_room:
            assert isinstance(got, Exception)
        else:
            assert isinstance(got, list) and got[0].message is not None and got[0].message.seq == 2
    assert await node.services.store.messages_between(bad_room, 1, 100, 10) == []  # no half-written rows


async def until(done: Callable[[], bool]) -> None:
    with trio.fail_after(10):
        while not done():  # noqa: ASYNC110 - the writer has no event to wait on
            await trio.sleep(0.005)


async def wait_all_queued(writer: CommitWriter, jobs: int) -> None:
    await until(lambda: writer.mailbox.depth() >= jobs)


async def test_two_jobs_of_one_room_are_stored_one_after_the_other(node: Node, people: People) -> None:
    room, ann, _, _ = await _pair(people)
    assert node.services is not None
    writer = CommitWriter(node.services.store)
    seqs: list[int] = []

    async def commit(body: str) -> None:
        (done,) = await writer.commit(room, [NewText(ann, str(uuid.uuid4()), body)], None)
        assert done.message is not None
        seqs.append(done.message.seq)
    async with trio.open_nursery() as n:
        n.start_soon(commit, "first")
        await wait_all_queued(writer, 1)
        n.start_soon(commit, "second")  # e.g. a restarted room's job meeting its predecessor's
        await wait_all_queued(writer, 2)
        n.start_soon(writer.run)
        await until(lambda: len(seqs) == 2)
        n.cancel_scope.cancel()
    assert seqs == [2, 3]
    stored = await node.services.store.messages_between(room, 1, 100, 10)
    assert [m.body for m in stored] == ["first", "second"]


async def test_a_room_that_stops_waiting_before_its_job_is_taken_stores_nothing(node: Node, people: People) -> None:
    room, ann, _, _ = await _pair(people)
    assert node.services is not None
    writer = CommitWriter(node.services.store)
    async with trio.open_nursery() as n:
        waiting = trio.CancelScope()

        async def commit() -> None:
            with waiting:
                await writer.commit(room, [NewText(ann, str(uuid.uuid4()), "never")], None)
        n.start_soon(commit)
        await wait_all_queued(writer, 1)
        waiting.cancel()  # the room actor was restarted
        await trio.sleep(0.01)
        n.start_soon(writer.run)
        (after,) = await writer.commit(room, [NewText(ann, str(uuid.uuid4()), "later")], None)
        n.cancel_scope.cancel()
    assert after.message is not None and after.message.seq == 2
    assert [m.body for m in await node.services.store.messages_between(room, 1, 100, 10)] == ["later"]


async def test_a_crashed_commit_writer_is_restarted_and_nothing_is_lost(node: Node, people: People) -> None:
    room, _, ann_c, bob_c = await _pair(people)
    assert node.commits is not None
    first = await ann_c.send_text(room, "before")  # type: ignore[attr-defined]
    assert node.commits.mailbox.offer(Crash("test"))
    cid = str(uuid.uuid4())
    with trio.fail_after(10):
        while True:  # a send racing the crash may be told to retry; the same client id is stored once
            try:
                after = await ann_c.send_text(room, "after", client_id=cid)  # type: ignore[attr-defined]
                break
            except Exception as exc:
                if "retry" not in str(exc):
                    raise
                await trio.sleep(0.05)
    assert after.seq == first.seq + 1
    got = await bob_c.collect(room, 3)  # type: ignore[attr-defined]
    assert [m.body for m in got] == [None, "before", "after"]


pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
