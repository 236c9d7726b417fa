"""The node-wide commit (actors/commits.py, persistence/messages.py append_rooms) through the real server."""

from __future__ import annotations

import uuid

import pytest
import trio

from actors.items import Crash
from chatd.node import Node
from persistence.errors import StaleRoom
from persistence.messages import RoomAppend
from persistence.records import Appended, NewText
from protocol import frames as f
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
    good_room, ann, _, bob_c = await _pair(people)
    bad_room, carl, _, _ = await _pair(people)
    assert node.commits is not None
    outcomes: dict[str, list[Appended] | Exception] = {}

    async def commit(name: str, room: int, sender: int, body: str) -> None:
        assert node.commits is not None
        try:
            outcomes[name] = await node.commits.commit(room, [NewText(sender, str(uuid.uuid4()), body)], None)
        except Exception as exc:
            outcomes[name] = exc
    async with trio.open_nursery() as n:  # both jobs wait in the writer's mailbox together
        n.start_soon(commit, "bad", bad_room, carl, "NUL \x00 is not storable text")
        n.start_soon(commit, "good", good_room, ann, "fine")
    good, bad = outcomes["good"], outcomes["bad"]
    assert isinstance(good, list) and good[0].message is not None and good[0].message.seq == 2
    assert isinstance(bad, Exception)
    assert node.services is not None
    assert await node.services.store.messages_between(bad_room, 1, 100, 10) == []  # no half-written rows


async def test_a_crashed_commit_writer_is_restarted_and_nothing_is_lost(node: Node, people: People) -> None:
    room, _, ann_c, bob_c = await _pair(people)
    assert node.commits is not None
    first = await ann_c.send_text(room, "before")  # type: ignore[attr-defined]
    assert node.commits.mailbox.offer(Crash("test"))
    with trio.fail_after(10):
        while True:  # a send racing the crash may be told to retry; the same client id is stored once
            cid = str(uuid.uuid4())
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
