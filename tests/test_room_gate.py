"""Room-addressed requests from strangers (issue 16, item 9): refused before they can start a room's actor.

A `send`, `edit` or `typing` for a room starts that room's actor, which loads the room from Postgres. A
client that is not a member used to be able to pull any number of rooms into the node's memory that way
(each stays loaded until it has been idle for `CHAT_ROOM_IDLE_SECONDS`). Now a stranger gets the same
refusal as before and no actor starts; members still reach a room at once after joining it, however they
joined and on whichever process.
"""

from __future__ import annotations

import random
import uuid
from pathlib import Path

import pytest
import trio

from chatd.clients.ws import ChatClient
from chatd.node import Node
from chatd.protocol import frames as f
from chatd.runtime.config import Config
from tests.conftest import Backing, People, make_config, start_node
from tests.test_bad_input import crashes

ROOMS = 20  # existing groups the stranger is not in
RANDOM_IDS = 200  # room ids that do not exist


@pytest.fixture
def config(backing: Backing, tmp_path: Path) -> Config:
    return make_config(backing, tmp_path, rate_per_second=10_000.0, rate_burst=10_000)


def rooms_started(node: Node) -> int:
    """How many room actors the node has started so far (the rooms supervisor's log of starts)."""
    assert node.services is not None
    return sum(1 for e in node.services.rooms.supervisor.events if e.kind == "started")


async def typing_errors(client: ChatClient, count: int) -> list[f.Error]:
    """`typing` has no id: its refusals come as pushes, in order."""
    return [await client.next_of(f.Error) for _ in range(count)]


async def test_strangers_do_not_start_room_actors(people: People, node: Node) -> None:
    assert node.services is not None
    rooms = node.services.rooms
    _, ann_c = await people.new("ann")
    bob, _ = await people.new("bob")
    eve, eve_c = await people.new("eve")
    groups = [(await ann_c.call(f.CreateGroup, name=f"g{i}", members=[bob.user_id])).room.room
              for i in range(ROOMS)]
    missing = random.sample(range(10**9, 10**12), RANDOM_IDS)
    live, started = rooms.count(), rooms_started(node)
    assert not any(rooms.is_online(g) for g in groups)  # created in Postgres: no actor yet

    for targets, code, words in ((groups, "forbidden", "you are not a member of room {room}"),
                                 (missing, "not_found", "room {room} does not exist")):
        for room in targets:
            sent = await eve_c.request(f.Send, room=room, client_id=str(uuid.uuid4()), body="let me in")
            edit = await eve_c.request(f.Edit, room=room, seq=1, body="mine now")
            assert isinstance(sent, f.Error) and isinstance(edit, f.Error)
            assert (sent.code, edit.code) == (code, code), room
            assert sent.id is not None and edit.id is not None
            assert sent.message == words.replace("{room}", str(room))
        for i in range(0, len(targets), 50):
            await eve_c.send_frames([f.Typing(room=room) for room in targets[i:i + 50]])
        errors = await typing_errors(eve_c, len(targets))
        assert {(e.code, e.id) for e in errors} == {(code, None)}
        assert sorted(e.message for e in errors) == sorted(f"typing: {words.replace('{room}', str(room))}"
                                                           for room in targets)

    assert rooms.count() == live, "a stranger's requests left room actors loaded"
    assert rooms_started(node) == started, "a stranger's requests started room actors"

    # the members are not affected: the first send starts the room's actor as before
    sent = await ann_c.send_text(groups[0], "still ours")
    assert sent.seq == 2 and rooms.is_online(groups[0]) and rooms.count() == live + 1
    # and a stranger's request for a room that is loaded is refused by its actor, as before
    refused = await eve_c.request(f.Send, room=groups[0], client_id=str(uuid.uuid4()), body="again")
    assert isinstance(refused, f.Error) and refused.code == "forbidden"
    page = await ann_c.call(f.History, room=groups[0])
    assert [m.body for m in page.messages if m.kind == "text"] == ["still ours"]
    assert eve.user_id not in {m.sender for m in page.messages}
    assert crashes(node) == []


async def test_members_reach_a_room_at_once_however_they_joined(people: People, node: Node) -> None:
    assert node.services is not None
    rooms = node.services.rooms
    _, ann_c = await people.new("ann")
    bob, bob_c = await people.new("bob")
    cat, cat_c = await people.new("cat")
    dan, dan_c = await people.new("dan")

    # created with me in it: the actor is not running, Postgres says I am a member
    room = (await ann_c.call(f.CreateGroup, name="g", members=[bob.user_id])).room.room
    assert not rooms.is_online(room)
    assert (await bob_c.send_text(room, "first")).seq == 2

    # added by an admin, the actor stopped in between: my first request after the `ok` gets through
    await ann_c.call(f.AddMembers, room=room, users=[cat.user_id])
    assert rooms.retire(room)
    assert (await cat_c.send_text(room, "cat here")).seq == 4

    # joined through an invite link
    code = (await ann_c.call(f.CreateInvite, room=room)).invite.code
    await dan_c.call(f.Join, code=code)
    assert rooms.retire(room)
    assert (await dan_c.send_text(room, "dan here")).seq == 6

    # left: refused again, before the actor starts
    await bob_c.call(f.Leave, room=room)
    assert rooms.retire(room)
    started = rooms_started(node)
    refused = await bob_c.request(f.Send, room=room, client_id=str(uuid.uuid4()), body="back?")
    assert isinstance(refused, f.Error) and refused.code == "forbidden" and rooms_started(node) == started
    await bob_c.send_frame(f.Typing(room=room))
    (typing,) = await typing_errors(bob_c, 1)
    assert typing.code == "forbidden" and not rooms.is_online(room)
    assert crashes(node) == []


async def test_a_member_added_on_another_process_sends_at_once(nursery: trio.Nursery, backing: Backing,
                                                              tmp_path: Path) -> None:
    a, b = [(await start_node(nursery, make_config(backing, tmp_path, node_name=name))).node for name in "ab"]
    _, ann_c = await People(nursery, a).new("ann")
    bob, bob_c = await People(nursery, b).new("bob")
    room = (await ann_c.call(f.CreateGroup, name="g")).room.room
    await ann_c.send_text(room, "hello")
    await ann_c.call(f.AddMembers, room=room, users=[bob.user_id])  # ok once stored: bob may send now
    assert b.services is not None
    b.services.rooms.retire(room)  # (the bus started it there for the news of "hello"): b must load the room
    sent = await bob_c.send_text(room, "here")
    page = await ann_c.call(f.History, room=room)
    assert [(m.seq, m.body) for m in page.messages if m.kind == "text"] == [(2, "hello"), (sent.seq, "here")]
