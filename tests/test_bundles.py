"""Protocol version 2: several frames in one websocket message (docs/protocol.md, "Bundles")."""

from __future__ import annotations

import uuid

import msgpack
import trio
from trio_websocket import open_websocket_url

from chatd.node import Node
from protocol import bundle, decode, encode
from protocol import frames as f
from tests.conftest import People, Person


async def _group(people: People, size: int) -> tuple[Person, int, list[Person]]:
    owner, owner_c = await people.new("owner")
    others = [await people.signup(f"m{i}") for i in range(size - 1)]
    room = (await owner_c.call(f.CreateGroup, name="bundles", members=[p.user_id for p in others])).room.room
    await owner_c.disconnect()
    return owner, room, others


async def _status_storm(node: Node, people: People, version: int) -> list[object]:
    """The owner of a 6-member group sends; five members ack at once: the owner is owed five `status`
    frames together. Returns every websocket message the owner's connection got after `sent`, raw."""
    owner, room, others = await _group(people, 6)
    members = [await people.connect(p) for p in others]
    for c in members:
        await c.collect(room, 1)  # the group's creation, acked
    got: list[object] = []
    async with open_websocket_url(node.url) as ws:
        await ws.send_message(encode(f.Hello(id=1, version=version, token=owner.access_token)))
        await ws.send_message(encode(f.Send(id=2, room=room, client_id=str(uuid.uuid4()), body="hi all")))
        with trio.move_on_after(0.5):
            while True:  # welcome, counts, the backlog... until the sent reply
                if isinstance(decode(await ws.get_message(), 1 << 30), f.Sent):
                    break
        for c in members:
            (msg,) = await c.collect(room, 1, ack=False)
            await c.ack(room, msg.seq)
        with trio.move_on_after(1.5):
            while True:
                got.append(msgpack.unpackb(await ws.get_message(), strict_map_key=False))
    return got


def _statuses(messages: list[object]) -> int:
    frames = [m for msg in messages for m in (msg if isinstance(msg, list) else [msg])]
    return sum(1 for fr in frames if isinstance(fr, dict) and fr.get("t") == "status")


async def test_a_version_2_client_gets_frames_queued_together_in_one_message(node: Node, people: People) -> None:
    got = await _status_storm(node, people, version=2)
    assert _statuses(got) == 5
    assert len(got) < 5  # some of them travelled together
    assert any(isinstance(m, list) for m in got)


async def test_a_version_1_client_never_gets_a_bundle(node: Node, people: People) -> None:
    got = await _status_storm(node, people, version=1)
    assert _statuses(got) == 5 and all(isinstance(m, dict) for m in got)


async def test_an_ack_riding_with_a_send_is_handled_first(people: People) -> None:
    ann, ann_c = await people.new("ann")
    bob, bob_c = await people.new("bob")
    room = (await ann_c.call(f.OpenDirect, user=bob.user_id)).room.room
    await ann_c.collect(room, 1)
    (created,) = await bob_c.collect(room, 1, ack=False)
    await bob_c.send_frames([f.Ack(room=room, seq=created.seq),
                             f.Send(id=77, room=room, client_id=str(uuid.uuid4()), body="ack and reply")])
    sent = await bob_c.next_of(f.Sent)
    assert sent.id == 77 and sent.seq == created.seq + 1
    (reply,) = await ann_c.collect(room, 1)
    assert reply.body == "ack and reply"


async def test_a_bad_frame_in_a_bundle_does_not_spoil_the_others(people: People) -> None:
    ann, ann_c = await people.new("ann")
    bob, _ = await people.new("bob")
    room = (await ann_c.call(f.OpenDirect, user=bob.user_id)).room.room
    await ann_c.ws.send_message(bundle([msgpack.packb({"t": "teleport", "id": 5}),
                                        encode(f.Send(id=6, room=room, client_id=str(uuid.uuid4()), body="x"))]))
    replies: dict[int, f.Frame] = {}
    with trio.fail_after(5):
        while len(replies) < 2:
            frame = await ann_c.next_push()
            if getattr(frame, "id", None) in (5, 6):
                replies[frame.id] = frame  # type: ignore[attr-defined]
    assert isinstance(replies[5], f.Error) and "teleport" in replies[5].message
    assert isinstance(replies[6], f.Sent)


async def test_frames_after_one_that_ends_the_connection_are_not_handled(node: Node, people: People) -> None:
    ann, ann_c = await people.new("ann")
    bob, _ = await people.new("bob")
    room = (await ann_c.call(f.OpenDirect, user=bob.user_id)).room.room
    assert node.services is not None
    await node.services.store.set_disabled(ann.user_id, True)
    cid = str(uuid.uuid4())
    await ann_c.send_frames([f.Auth(id=8, token=ann.access_token),  # refused: the account is disabled
                             f.Send(id=9, room=room, client_id=cid, body="after the end")])
    with trio.fail_after(5):
        await ann_c.closed.wait()
    assert ann_c.close_code == 4003
    stored = await node.services.store.messages_between(room, 0, 100, 10)
    assert all(m.client_id != cid for m in stored)
