"""Chat as users see it: direct and group rooms, live delivery, backlog after being offline, status."""

from __future__ import annotations

import uuid

import trio

from chatd.clients.ws import ChatClient
from chatd.protocol import frames as f
from tests.conftest import People
from tests.scenarios import SENDERS, thousand_messages_into_one_room


async def test_direct_chat_in_real_time(people: People) -> None:
    ann, ann_c = await people.new("ann")
    bob, bob_c = await people.new("bob")
    room = (await ann_c.call(f.OpenDirect, user=bob.username)).room
    assert room.kind == "direct" and {m.user for m in room.members} == {ann.user_id, bob.user_id}
    # whoever asks second gets the same room
    assert (await bob_c.call(f.OpenDirect, user=ann.user_id)).room.room == room.room

    sent = await ann_c.send_text(room.room, "hi bob")
    got = await bob_c.collect(room.room, 2)  # the 'created' system message, then the text
    assert [(m.seq, m.kind) for m in got] == [(1, "system"), (sent.seq, "text")]
    assert got[1].body == "hi bob" and got[1].sender == ann.user_id and got[1].client_id == sent.client_id

    reply = await bob_c.send_text(room.room, "hello ann")
    got_ann = await ann_c.collect(room.room, 2)
    assert [m.body for m in got_ann] == [None, "hello ann"] and got_ann[1].seq == reply.seq == sent.seq + 1
    # the sending connection gets `sent`, never its own message back
    assert all(m.sender != ann.user_id for m in got_ann)


async def test_concurrent_openers_of_one_pair_get_one_room(people: People) -> None:
    """Both people, on two devices each, open their direct chat at the same moment: one room, one 'created'."""
    ann, ann_c = await people.new("ann")
    bob, bob_c = await people.new("bob")
    clients: list[tuple[ChatClient, int | str]] = [
        (ann_c, bob.user_id), (await people.connect(ann), bob.username),
        (bob_c, ann.user_id), (await people.connect(bob), ann.username)]
    rooms: list[int] = []

    async def open_direct(client: ChatClient, peer: int | str) -> None:
        rooms.append((await client.call(f.OpenDirect, user=peer)).room.room)
    async with trio.open_nursery() as n:
        for client, peer in clients:
            n.start_soon(open_direct, client, peer)
    assert len(rooms) == 4 and len(set(rooms)) == 1
    listed = [r for r in (await ann_c.call(f.ListRooms)).rooms if r.kind == "direct"]
    assert [(r.room, r.peer) for r in listed] == [(rooms[0], bob.user_id)]
    assert [m.seq for m in await bob_c.collect(rooms[0], 1)] == [1]


async def test_other_devices_of_the_sender_get_the_message(people: People) -> None:
    ann, phone = await people.new("ann")
    bob, _ = await people.new("bob")
    laptop = await people.connect(ann)
    room = (await phone.call(f.OpenDirect, user=bob.user_id)).room.room
    await laptop.collect(room, 1)
    await phone.collect(room, 1)
    sent = await phone.send_text(room, "from my phone")
    (echo,) = await laptop.collect(room, 1)
    assert echo.seq == sent.seq and echo.body == "from my phone"
    with trio.move_on_after(0.3):
        frame = await phone.next_of(f.Msgs)
        raise AssertionError(f"sending device got its own message back: {frame}")


async def test_sender_sees_delivered_per_recipient(people: People) -> None:
    ann, ann_c = await people.new("ann")
    bob, bob_c = await people.new("bob")
    room = (await ann_c.call(f.OpenDirect, user=bob.user_id)).room.room
    await ann_c.collect(room, 1)
    await bob_c.collect(room, 1)
    sent = await ann_c.send_text(room, "did you get this?")
    await bob_c.collect(room, 1)  # acks it
    with trio.fail_after(5):
        while True:
            status = await ann_c.next_of(f.Status)
            if status.user == bob.user_id and status.delivered_seq >= sent.seq:
                break
    assert status.room == room


async def test_group_member_offline_gets_backlog_in_order_in_acked_batches(people: People) -> None:
    owner, owner_c = await people.new("owner")
    others = [await people.new(f"m{i}") for i in range(3)]
    carol = await people.signup("carol")  # offline all along
    room = (await owner_c.call(f.CreateGroup, name="five", members=[p.username for p, _ in others] + [carol.user_id])
            ).room
    assert len(room.members) == 5 and room.members[0].role == "owner"
    rid = room.room
    sent: list[int] = []
    for i in range(250):
        _, client = others[i % 3]
        sent.append((await client.send_text(rid, f"message {i}")).seq)
    assert sent == list(range(2, 252))

    carol_c = await people.connect(carol)
    first = await carol_c.next_of(f.Msgs)
    assert first.backlog and len(first.messages) == 100
    # flow control: the next batch waits for the ack of this one
    with trio.move_on_after(0.5):
        await carol_c.next_of(f.Msgs)
        raise AssertionError("a second backlog batch came before the first was acked")
    await carol_c.ack_frame(first)
    rest = await carol_c.collect(rid, 151)
    got = first.messages + rest
    assert [m.seq for m in got] == list(range(1, 252))  # exactly once, in order, nothing missing
    assert [m.body for m in got[1:]] == [f"message {i}" for i in range(250)]

    # carol's acks are stored and reported as her delivery status to those whose messages they cover
    _, last_sender = others[249 % 3]
    with trio.fail_after(5):
        while (s := await last_sender.next_of(f.Status)).user != carol.user_id or s.delivered_seq < 251:
            pass
    assert not [s for s in owner_c.pending_pushes() if isinstance(s, f.Status)], "the owner sent nothing"
    with trio.fail_after(5):  # the status goes out as the device acks; the stored cursor follows moments later
        while (summary := {r.room: r for r in (await carol_c.call(f.ListRooms)).rooms}[rid]).delivered_seq < 251:  # noqa: ASYNC110 - polling the server
            await trio.sleep(0.02)
    assert summary.delivered_seq == 251 and summary.unread == 250


async def test_reconnect_with_cursors_resumes_after_them(people: People) -> None:
    ann, ann_c = await people.new("ann")
    bob = await people.signup("bob")
    rid = (await ann_c.call(f.OpenDirect, user=bob.user_id)).room.room
    for i in range(10):
        await ann_c.send_text(rid, f"m{i}")
    bob_c = await people.connect(bob, cursors={rid: 6})  # the client's cache has up to seq 6
    got = await bob_c.collect(rid, 5)
    assert [m.seq for m in got] == [7, 8, 9, 10, 11]
    await bob_c.disconnect()
    # without cursors the backlog starts after delivered_seq (what was acked): nothing left
    bob_c2 = await people.connect(bob)
    with trio.move_on_after(0.5):
        frame = await bob_c2.next_of(f.Msgs)
        raise AssertionError(f"acked messages were delivered again: {frame}")


async def test_retried_send_is_stored_once(people: People) -> None:
    ann, ann_c = await people.new("ann")
    bob, _ = await people.new("bob")
    rid = (await ann_c.call(f.OpenDirect, user=bob.user_id)).room.room
    client_id = str(uuid.uuid4())
    first = await ann_c.send_text(rid, "only once", client_id)
    again = await ann_c.send_text(rid, "only once", client_id)
    assert (again.seq, again.ts, again.duplicate, first.duplicate) == (first.seq, first.ts, True, False)
    # two copies in flight at once (same group-commit batch) are stored once too
    twin_id = str(uuid.uuid4())
    async with trio.open_nursery() as n:
        replies: list[f.Sent] = []

        async def send() -> None:
            replies.append(await ann_c.send_text(rid, "twin", twin_id))
        n.start_soon(send)
        n.start_soon(send)
    assert replies[0].seq == replies[1].seq and sorted(r.duplicate for r in replies) == [False, True]
    page = await ann_c.call(f.History, room=rid)
    assert [m.body for m in page.messages] == [None, "only once", "twin"]


async def test_thousand_messages_from_ten_senders_gap_free_and_in_order(people: People) -> None:
    senders = [await people.new(f"s{i}") for i in range(SENDERS)]
    listener, listener_c = await people.new("listener")
    await thousand_messages_into_one_room([(p.user_id, c) for p, c in senders], (listener.user_id, listener_c))


async def test_removed_member_gets_backlog_up_to_removal_and_nothing_after(people: People) -> None:
    owner, owner_c = await people.new("owner")
    dave = await people.signup("dave")
    eve, eve_c = await people.new("eve")
    rid = (await owner_c.call(f.CreateGroup, name="club", members=[dave.user_id, eve.user_id])).room.room
    before = [(await owner_c.send_text(rid, f"before {i}")).seq for i in range(5)]
    await owner_c.call(f.RemoveMember, room=rid, user=dave.username)
    after = [(await eve_c.send_text(rid, f"after {i}")).seq for i in range(5)]

    dave_c = await people.connect(dave)
    got = await dave_c.collect(rid, 7)
    assert [m.seq for m in got] == [1, *before, before[-1] + 1]
    removal = got[-1]
    assert removal.kind == "system" and removal.event == {"type": "member_removed", "user": dave.user_id,
                                                          "by": owner.user_id}
    with trio.move_on_after(0.5):
        frame = await dave_c.next_of(f.Msgs)
        raise AssertionError(f"removed member got messages after the removal point: {frame}")
    assert max(after) > removal.seq
    # history stops at the removal point too, and the room refuses dave's messages
    page = await dave_c.call(f.History, room=rid)
    assert page.messages[-1].seq == removal.seq
    err = await dave_c.request(f.Send, room=rid, client_id=str(uuid.uuid4()), body="let me in")
    assert isinstance(err, f.Error) and err.code == "forbidden"
    summary = {r.room: r for r in (await dave_c.call(f.ListRooms)).rooms}[rid]
    assert summary.member is False and summary.last_seq == removal.seq


async def test_added_member_is_notified_live_and_leaving_hands_on_ownership(people: People) -> None:
    owner, owner_c = await people.new("owner")
    fay, fay_c = await people.new("fay")
    gus, gus_c = await people.new("gus")
    rid = (await owner_c.call(f.CreateGroup, name="g", members=[gus.user_id])).room.room
    await owner_c.call(f.AddMembers, room=rid, users=[fay.username])
    got = await fay_c.collect(rid, 1)
    assert got[0].event == {"type": "member_added", "user": fay.user_id, "by": owner.user_id}
    # members cannot add or remove; only owner/admins can
    err = await fay_c.request(f.RemoveMember, room=rid, user=gus.user_id)
    assert isinstance(err, f.Error) and err.code == "forbidden"
    await owner_c.call(f.Leave, room=rid)
    info = await gus_c.call(f.OpenDirect, user=fay.user_id)  # unrelated call keeps working
    assert info.room.kind == "direct"
    members = {m.user: m.role for m in (await fay_c.call(f.CreateGroup, name="x")).room.members}
    assert members == {fay.user_id: "owner"}
    page = await gus_c.call(f.History, room=rid)
    events = [m.event["type"] for m in page.messages if m.event]
    assert events[-2:] == ["owner_changed", "member_left"]


async def test_history_pages_and_visibility(people: People) -> None:
    ann, ann_c = await people.new("ann")
    bob, bob_c = await people.new("bob")
    cat, cat_c = await people.new("cat")
    shared = (await ann_c.call(f.CreateGroup, name="shared", members=[bob.user_id])).room.room
    joined = (await ann_c.call(f.CreateGroup, name="joined", members=[bob.user_id],
                               history_visibility="joined")).room.room
    for i in range(249):
        await ann_c.send_text(shared, f"s{i}")
    for i in range(3):
        await ann_c.send_text(joined, f"j{i}")
    await ann_c.call(f.AddMembers, room=shared, users=[cat.user_id])
    await ann_c.call(f.AddMembers, room=joined, users=[cat.user_id])

    # newest page first, each page ascending, at most 100, has_more until the beginning
    pages, before = [], None
    while True:
        page = await bob_c.call(f.History, room=shared, before_seq=before, limit=100)
        pages.append([m.seq for m in page.messages])
        if not page.has_more:
            break
        before = page.messages[0].seq
    assert pages == [list(range(152, 252)), list(range(52, 152)), list(range(1, 52))]
    too_many = await bob_c.request(f.History, room=shared, limit=101)
    assert isinstance(too_many, f.Error) and too_many.code == "bad_request" and "limit" in too_many.message

    # shared: a newcomer sees everything; joined: only from the message that added them
    assert (await cat_c.call(f.History, room=shared, limit=5, before_seq=6)).messages[0].seq == 1
    page = await cat_c.call(f.History, room=joined)
    assert [m.event["type"] for m in page.messages] == ["member_added"] and not page.has_more
    stranger = await bob_c.request(f.History, room=joined + 1000)
    assert isinstance(stranger, f.Error) and stranger.code == "not_found"
    dm = (await ann_c.call(f.OpenDirect, user=bob.user_id)).room.room
    forbidden = await cat_c.request(f.History, room=dm)
    assert isinstance(forbidden, f.Error) and forbidden.code == "forbidden"


async def test_own_message_counts_as_delivered_only_after_everything_before_it(people: People) -> None:
    ann, ann_c = await people.new("ann")
    bob, bob_c = await people.new("bob")
    rid = (await ann_c.call(f.OpenDirect, user=bob.user_id)).room.room
    await ann_c.collect(rid, 1)
    await bob_c.collect(rid, 1)
    await bob_c.send_text(rid, "unacked by ann")  # seq 2: pushed to ann, who does not ack it
    await ann_c.collect(rid, 1, ack=False)
    mine = await ann_c.send_text(rid, "ann's own")  # seq 3
    await ann_c.disconnect()
    again = await people.connect(ann)  # no cursors: resumes after delivered_seq
    got = await again.collect(rid, 2)
    assert [m.seq for m in got] == [2, mine.seq]  # seq 2 is not skipped because ann sent seq 3
    # now everything is acked: sending and reconnecting brings nothing back
    last = await again.send_text(rid, "acked all before")
    await trio.sleep(0.2)  # cursor writes are coalesced
    await again.disconnect()
    third = await people.connect(ann)
    with trio.move_on_after(0.5):
        frame = await third.next_of(f.Msgs)
        raise AssertionError(f"already delivered messages came again (up to {last.seq}): {frame}")


async def test_the_created_event_leaves_out_what_is_nil(people: People) -> None:
    """Absent means nil (docs/protocol.md 1): a direct room's `created` has no `name` key at all."""
    ann, ann_c = await people.new("ann")
    bob, _ = await people.new("bob")
    direct = (await ann_c.call(f.OpenDirect, user=bob.user_id)).room.room
    group = (await ann_c.call(f.CreateGroup, name="trip", members=[bob.user_id])).room.room
    events = {}
    for room in (direct, group):
        page = await ann_c.call(f.History, room=room)
        events[room] = next(m.event for m in page.messages if m.event and m.event["type"] == "created")
    assert "name" not in events[direct] and None not in events[direct].values()
    assert events[group]["name"] == "trip"
