"""Protocol version 2: several frames in one websocket message (docs/protocol.md, "Bundles")."""

from __future__ import annotations

import uuid

import msgpack
import trio
from trio_websocket import open_websocket_url

from chatd.node import Node
from chatd.protocol import bundle, encode
from chatd.protocol import frames as f
from tests.conftest import People
from tests.events import delivered_until
from tests.scenarios import chatting_pair


async def _three_sends(node: Node, people: People, version: int) -> list[object]:
    """Three sends in one bundle: the room commits the second and third while the first is being stored,
    so their `sent` replies are queued together. Returns the websocket messages up to the third `sent`."""
    ann = await people.signup("ann")
    bob = await people.signup("bob")
    ann_c = await people.connect(ann)
    room = (await ann_c.call(f.OpenDirect, user=bob.user_id)).room.room
    await ann_c.disconnect()
    got: list[object] = []
    async with open_websocket_url(node.url) as ws:
        await ws.send_message(encode(f.Hello(id=1, version=version, token=ann.access_token)))
        await ws.send_message(bundle([encode(f.Send(id=10 + i, room=room, client_id=str(uuid.uuid4()),
                                                    body=f"m{i}")) for i in range(3)]))
        with trio.fail_after(5):
            while _count(got, "sent") < 3:
                got.append(msgpack.unpackb(await ws.get_message(), strict_map_key=False))
    return [m for m in got if _count([m], "sent")]


def _count(messages: list[object], kind: str) -> int:
    frames = [m for msg in messages for m in (msg if isinstance(msg, list) else [msg])]
    return sum(1 for fr in frames if isinstance(fr, dict) and fr.get("t") == kind)


async def test_a_version_2_client_gets_frames_queued_together_in_one_message(node: Node, people: People) -> None:
    got = await _three_sends(node, people, version=2)
    assert _count(got, "sent") == 3
    assert any(isinstance(m, list) for m in got) and len(got) < 3  # some travelled together


async def test_a_version_1_client_never_gets_a_bundle(node: Node, people: People) -> None:
    got = await _three_sends(node, people, version=1)
    assert _count(got, "sent") == 3 and len(got) == 3 and all(isinstance(m, dict) for m in got)


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


async def test_an_ack_riding_with_a_reply_brings_the_status_with_the_reply(node: Node, people: People) -> None:
    """The dm round trip in three websocket messages a side: the recipient acks in the bundle of its reply,
    and the sender gets the reply's `msgs` and the `status` (delivered) of its own message together. (Not
    always: when the recipient's user actor is busy with the database the status follows on its own.)"""
    ann = await people.signup("ann")
    bob, bob_c = await people.new("bob")
    together = 0
    async with open_websocket_url(node.url) as ws:
        await ws.send_message(encode(f.Hello(id=1, version=2, token=ann.access_token)))
        room = (await bob_c.call(f.OpenDirect, user=ann.user_id)).room.room
        await bob_c.collect(room, 1)
        seen = 0
        for i in range(6):
            with trio.fail_after(5):
                while True:  # the room's creation, then each pong
                    message = msgpack.unpackb(await ws.get_message(), strict_map_key=False)
                    frames = message if isinstance(message, list) else [message]
                    seqs = [m["seq"] for fr in frames if fr.get("t") == "msgs" for m in fr["messages"]]
                    if seqs:
                        break
            together += i > 0 and _count([message], "status") == 1
            seen = max(seqs)
            await ws.send_message(bundle([encode(f.Ack(room=room, seq=seen)),
                                          encode(f.Send(id=2 + i, room=room, client_id=str(uuid.uuid4()),
                                                        body="ping"))]))
            (ping,) = await bob_c.collect(room, 1, ack=False)
            await bob_c.send_frames([f.Ack(room=room, seq=ping.seq),
                                     f.Send(id=100 + i, room=room, client_id=str(uuid.uuid4()), body="pong")])
    assert together >= 3, f"status travelled with the reply {together} times of 5"


async def test_the_python_client_acks_live_messages_soon_and_with_its_next_request(people: People) -> None:
    _, ann_c, bob, bob_c, room = await chatting_pair(people)
    first = await ann_c.send_text(room, "one")
    (got,) = await bob_c.collect(room, 1, ack=False)
    bob_c.ack_soon(room, got.seq)  # no request follows: the ack goes by itself within ACK_DELAY
    await delivered_until(ann_c, bob.user_id, first.seq)
    second = await ann_c.send_text(room, "two")
    (got,) = await bob_c.collect(room, 1, ack=False)
    bob_c.ack_soon(room, got.seq)
    acks_before = bob_c.sent_counts["ack"]
    await bob_c.send_text(room, "reply")  # the ack rides in front of it, in the same bundle
    assert bob_c.sent_counts["ack"] == acks_before + 1 and not bob_c._acks
    await delivered_until(ann_c, bob.user_id, second.seq)
