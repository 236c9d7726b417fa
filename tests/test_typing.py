"""Typing indicators: ephemeral, only to the room's online members, only on change, and they expire."""

from __future__ import annotations

from pathlib import Path

import pytest
import trio

from chatd.clients.ws import ChatClient
from chatd.protocol import frames as f
from tests.conftest import Backing, People, make_config, start_node

TTL = 0.6


async def typing(client: ChatClient, timeout: float = 5) -> f.TypingChanged:
    return await client.next_of(f.TypingChanged, timeout=timeout)


async def nothing_more(client: ChatClient, within: float = 0.3) -> None:
    await trio.sleep(within)
    assert not [x for x in client.pending_pushes() if isinstance(x, f.TypingChanged)]


@pytest.fixture
async def people(nursery: trio.Nursery, backing: Backing, tmp_path: Path) -> People:
    running = await start_node(nursery, make_config(backing, tmp_path, typing_seconds=TTL))
    return People(nursery, running.node)


async def test_typing_starts_stops_and_expires(people: People) -> None:
    (ann, ann_c), (bob, bob_c), (cat, cat_c) = [await people.new(n) for n in ("ann", "bob", "cat")]
    room = (await ann_c.call(f.CreateGroup, name="t", members=[bob.user_id, cat.user_id])).room.room

    await ann_c.send_frame(f.Typing(room=room, active=True))
    for client in (bob_c, cat_c):
        assert await typing(client) == f.TypingChanged(room=room, user=ann.user_id, active=True)
    await ann_c.send_frame(f.Typing(room=room, active=True))  # still typing: no news
    await nothing_more(bob_c)
    await ann_c.send_frame(f.Typing(room=room, active=False))
    assert await typing(bob_c) == f.TypingChanged(room=room, user=ann.user_id, active=False)
    assert not [x for x in ann_c.pending_pushes() if isinstance(x, f.TypingChanged)], "told about herself"

    # a client that goes quiet stops typing by itself
    await bob_c.send_frame(f.Typing(room=room, active=True))
    assert (await typing(ann_c)).active
    started = trio.current_time()
    stopped = await typing(ann_c, timeout=TTL * 10)
    assert (stopped.user, stopped.active) == (bob.user_id, False)
    assert trio.current_time() - started >= TTL * 0.8

    # sending a message ends typing
    await bob_c.send_frame(f.Typing(room=room, active=True))
    assert (await typing(ann_c)).active
    await bob_c.send_text(room, "done typing")
    assert not (await typing(ann_c)).active


async def test_typing_in_a_room_you_are_not_in_is_refused(people: People) -> None:
    (_, ann_c), (_, eve_c) = await people.new("ann"), await people.new("eve")
    room = (await ann_c.call(f.CreateGroup, name="private")).room.room
    await eve_c.send_frame(f.Typing(room=room, active=True))
    error = await eve_c.next_of(f.Error)
    assert error.code == "forbidden" and "not a member" in error.message
    await nothing_more(ann_c)  # the room's member hears nothing
