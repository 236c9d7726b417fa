"""Delivery and read receipts: what a sender learns about who has and who has read their messages."""

from __future__ import annotations

from pathlib import Path

import trio

from chatd.clients.ws import ChatClient
from chatd.protocol import frames as f
from tests.conftest import Backing, People, make_config, start_node
from tests.events import delivered_until


async def status_until(client: ChatClient, user: int, read_seq: int) -> f.Status:
    with trio.fail_after(5):
        while True:
            status = await client.next_of(f.Status)
            if status.user == user and (status.read_seq or 0) >= read_seq:
                return status


async def unread(client: ChatClient, room: int) -> int:
    return {r.room: r.unread for r in (await client.call(f.ListRooms)).rooms}[room]


async def test_read_receipts_reach_the_sender_and_move_unread(people: People) -> None:
    (_, ann_c), (bob, bob_c) = await people.new("ann"), await people.new("bob")
    room = (await ann_c.call(f.OpenDirect, user=bob.user_id)).room.room
    sent = [await ann_c.send_text(room, f"m{i}") for i in range(3)]
    await bob_c.collect(room, 4)  # the creation, then the three: acked (delivered), not read
    delivered = await status_until(ann_c, bob.user_id, 0)
    assert delivered.delivered_seq == sent[-1].seq and (delivered.read_seq or 0) < sent[0].seq
    assert await unread(bob_c, room) == 3

    await bob_c.send_frame(f.Read(room=room, seq=sent[1].seq))
    read = await status_until(ann_c, bob.user_id, sent[1].seq)
    assert (read.room, read.delivered_seq, read.read_seq) == (room, sent[-1].seq, sent[1].seq)
    assert await unread(bob_c, room) == 1
    await bob_c.send_frame(f.Read(room=room, seq=1))  # never backwards
    await bob_c.send_frame(f.Read(room=room, seq=sent[2].seq))
    assert (await status_until(ann_c, bob.user_id, sent[2].seq)).read_seq == sent[2].seq
    assert await unread(bob_c, room) == 0


async def test_receipts_off_hides_my_reads_and_shows_me_none(people: People) -> None:
    (ann, ann_c), (bob, bob_c) = await people.new("ann"), await people.new("bob")
    room = (await ann_c.call(f.OpenDirect, user=bob.user_id)).room.room
    await ann_c.collect(room, 1)  # the creation
    await bob_c.call(f.Settings, read_receipts=False)
    to_bob = await ann_c.send_text(room, "read me")
    await bob_c.collect(room, 2)
    await bob_c.send_frame(f.Read(room=room, seq=to_bob.seq))
    with trio.move_on_after(1):
        await status_until(ann_c, bob.user_id, to_bob.seq)
        raise AssertionError("bob's read was reported although he turned read receipts off")
    assert await unread(bob_c, room) == 0  # his own unread count still follows his reads

    to_ann = await bob_c.send_text(room, "and you?")
    await ann_c.collect(room, 1)
    await ann_c.send_frame(f.Read(room=room, seq=to_ann.seq))
    with trio.fail_after(5):
        status = await bob_c.next_of(f.Status)  # he still sees delivery, but not reads
    assert status.user == ann.user_id and status.delivered_seq >= to_ann.seq and status.read_seq is None

    await bob_c.call(f.Settings, read_receipts=True)
    await bob_c.send_frame(f.Read(room=room, seq=to_ann.seq))
    await ann_c.send_frame(f.Read(room=room, seq=to_ann.seq))
    again = await bob_c.send_text(room, "back on")
    await ann_c.collect(room, 1)
    await ann_c.send_frame(f.Read(room=room, seq=again.seq))
    assert (await status_until(bob_c, ann.user_id, again.seq)).read_seq == again.seq


async def test_big_rooms_get_counts_instead(nursery: trio.Nursery, backing: Backing, tmp_path: Path) -> None:
    running = await start_node(nursery, make_config(backing, tmp_path, receipts_per_recipient_max=2))
    people = People(nursery, running.node)
    (ann, ann_c), *others = [await people.new(n) for n in ("ann", "bob", "cat", "dan")]
    room = (await ann_c.call(f.CreateGroup, name="big", members=[p.user_id for p, _ in others])).room.room
    sent = await ann_c.send_text(room, "hello all")
    for _, client in others:
        await client.collect(room, 2)
    _, bob_c = others[0]
    await bob_c.send_frame(f.Read(room=room, seq=sent.seq))
    with trio.fail_after(5):
        while True:
            frame = await ann_c.next_push()
            assert not isinstance(frame, f.Status), "a room above the limit got per-recipient status"
            if isinstance(frame, f.ReceiptCounts):
                (count,) = [c for c in frame.counts if c.seq == sent.seq]
                if count.delivered == 3 and count.read == 1:
                    break
    assert frame.room == room and frame.others == 3


async def test_turning_receipts_off_hides_reads_the_room_already_knew(people: People) -> None:
    (_, ann_c), (bob, bob_c) = await people.new("ann"), await people.new("bob")
    room = (await ann_c.call(f.OpenDirect, user=bob.user_id)).room.room
    first = await ann_c.send_text(room, "one")
    await bob_c.collect(room, 2)
    await bob_c.send_frame(f.Read(room=room, seq=first.seq))
    assert (await status_until(ann_c, bob.user_id, first.seq)).read_seq == first.seq  # receipts on: shown

    await bob_c.call(f.Settings, read_receipts=False)
    second = await ann_c.send_text(room, "two")
    await bob_c.collect(room, 1)  # acked: delivered moves
    with trio.fail_after(5):
        while (status := await ann_c.next_of(f.Status)).delivered_seq < second.seq:
            pass
    assert status.user == bob.user_id and status.read_seq is None, "the room still reported bob's old read"


async def test_the_cursors_of_a_hello_count_as_the_devices_ack(people: People) -> None:
    """An ack a client meant to send as it went offline is not lost: reconnecting with its cursors says
    what it holds, and the sender gets the delivery tick."""
    (_, ann_c), (bob, bob_c) = await people.new("ann"), await people.new("bob")
    room = (await ann_c.call(f.OpenDirect, user=bob.user_id)).room.room
    await bob_c.collect(room, 1)
    sent = await ann_c.send_text(room, "are you there?")
    (got,) = await bob_c.collect(room, 1, ack=False)  # received, never acked
    await bob_c.disconnect()
    await people.connect(bob, cursors={room: got.seq})
    assert (await delivered_until(ann_c, bob.user_id, sent.seq)).delivered_seq == sent.seq


async def test_an_ack_riding_with_a_leave_still_reaches_the_sender(people: People) -> None:
    owner, owner_c = await people.new("owner")
    member, member_c = await people.new("member")
    room = (await owner_c.call(f.CreateGroup, name="g", members=[member.user_id])).room.room
    await member_c.collect(room, 1)
    sent = await owner_c.send_text(room, "bye?")
    (got,) = await member_c.collect(room, 1, ack=False)
    await member_c.send_frames([f.Ack(room=room, seq=got.seq), f.Leave(id=5, room=room)])
    assert (await delivered_until(owner_c, member.user_id, sent.seq)).delivered_seq >= sent.seq
