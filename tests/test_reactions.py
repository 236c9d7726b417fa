"""Replies, reactions and the receipts lookup through the real server and Postgres: what a member sees live,
in the backlog of a device that comes back, and in history; the limits; and the refusals."""

from __future__ import annotations

import uuid
from pathlib import Path

import msgpack
import trio

from chatd.protocol import frames as f
from chatd.protocol.reactions import MAX_KINDS, MAX_PER_USER
from tests.conftest import Backing, People, make_config, start_node
from tests.scenarios import chatting_pair
from tests.test_bad_input import raw_error
from tests.test_history_as_of import history
from tests.test_receipts import status_until


def summary(message: f.Message) -> dict[str, list[int]]:
    return {r.emoji: r.users for r in message.reactions or ()}


async def test_reactions_live_backlog_and_history(people: People) -> None:
    ann, ann_c, bob, bob_c, room = await chatting_pair(people)
    hello = await ann_c.send_text(room, "hello")
    await bob_c.collect(room, 1)

    assert isinstance(await bob_c.request(f.React, room=room, target=hello.seq, emoji="👍"), f.Ok)
    assert isinstance(await ann_c.request(f.React, room=room, target=hello.seq, emoji="👍"), f.Ok)
    assert isinstance(await ann_c.request(f.React, room=room, target=hello.seq, emoji="❤️"), f.Ok)
    # everyone gets each reaction as an event in the room's seq, in order
    events = [m.event for m in await bob_c.collect(room, 3)]
    assert events == [{"type": "reaction_added", "target": hello.seq, "by": u, "emoji": e}
                      for u, e in ((bob.user_id, "👍"), (ann.user_id, "👍"), (ann.user_id, "❤️"))]
    assert [m.event for m in await ann_c.collect(room, 3)] == events

    # a retry of the same reaction is answered ok and stores nothing
    assert isinstance(await bob_c.request(f.React, room=room, target=hello.seq, emoji="👍"), f.Ok)
    assert isinstance(await ann_c.request(f.Unreact, room=room, target=hello.seq, emoji="❤️"), f.Ok)
    assert isinstance(await ann_c.request(f.Unreact, room=room, target=hello.seq, emoji="❤️"), f.Ok)
    removed = await bob_c.collect(room, 1)
    assert removed[0].event == {"type": "reaction_removed", "target": hello.seq, "by": ann.user_id, "emoji": "❤️"}
    assert bob_c.pending_pushes() == []

    # history carries the aggregate: one entry per emoji in first-use order, users in the order they reacted
    seen = await history(bob_c, room)
    assert summary(seen[hello.seq]) == {"👍": [bob.user_id, ann.user_id]}
    assert max(seen) == removed[0].seq  # reactions take seqs like any event, gap-free

    # a device coming back from before the message gets it with its aggregate, then the events
    await bob_c.disconnect()
    again = await people.connect(bob, cursors={room: hello.seq - 1})
    backlog = await again.collect(room, removed[0].seq - hello.seq + 1)
    assert summary(backlog[0]) == {"👍": [bob.user_id, ann.user_id]}
    assert [m.seq for m in backlog] == list(range(hello.seq, removed[0].seq + 1))

    # reactions do not count as unread
    rooms = {r.room: r for r in (await again.call(f.ListRooms)).rooms}
    assert rooms[room].unread == 1  # "hello" alone


async def test_a_reply_names_its_message_and_is_checked(people: People) -> None:
    ann, ann_c, bob, bob_c, room = await chatting_pair(people)
    question = await ann_c.send_text(room, "lunch?")
    await bob_c.collect(room, 1)
    answer = await bob_c.call(f.Send, room=room, client_id=str(uuid.uuid4()), body="yes", reply_to=question.seq)
    got = (await ann_c.collect(room, 1))[0]
    assert (got.body, got.reply_to) == ("yes", question.seq)
    assert (await history(ann_c, room))[answer.seq].reply_to == question.seq

    async def refused(reply_to: int) -> f.Error:
        reply = await bob_c.request(f.Send, room=room, client_id=str(uuid.uuid4()), body="?", reply_to=reply_to)
        assert isinstance(reply, f.Error)
        return reply

    assert (await refused(999)).code == "not_found"
    assert (await refused(1)).code == "bad_request"  # seq 1: the room's creation, a system message
    await ann_c.call(f.Delete, room=room, seq=question.seq)
    gone = await refused(question.seq)
    assert (gone.code, gone.message) == ("conflict", f"message {question.seq} was deleted")
    # the refusals used no seq: the next message follows the delete
    await bob_c.collect(room, 1)  # the delete event (his own message came to him as `sent`)
    after = await bob_c.send_text(room, "ok then")
    assert after.seq == answer.seq + 2


async def test_reaction_refusals_and_limits(people: People) -> None:
    ann, ann_c, bob, bob_c, room = await chatting_pair(people)
    said = await ann_c.send_text(room, "react to me")

    async def code(kind: type[f.Frame], target: int, emoji: str) -> str:
        reply = await bob_c.request(kind, room=room, target=target, emoji=emoji)
        return reply.code if isinstance(reply, f.Error) else "ok"

    for text, why in (("nice", "field 'emoji' must be an emoji, not text (LATIN SMALL LETTER N is not allowed)"),
                      ("", "field 'emoji'"), ("👍 " * 20, "field 'emoji'")):  # words are not reactions
        bad = {"t": "react", "id": 77, "room": room, "target": said.seq, "emoji": text}
        error = await raw_error(bob_c, msgpack.packb(bad))
        assert (error.id, error.code) == (77, "bad_request") and why in error.message
    assert await code(f.React, target=said.seq + 50, emoji="👍") == "not_found"
    assert await code(f.React, target=1, emoji="👍") == "bad_request"  # a system message
    emoji = [chr(0x1F600 + i) for i in range(MAX_KINDS + 1)]
    for e in emoji[:MAX_PER_USER]:
        assert await code(f.React, target=said.seq, emoji=e) == "ok"
    assert await code(f.React, target=said.seq, emoji=emoji[MAX_PER_USER]) == "conflict"  # bob's own limit
    for e in emoji[MAX_PER_USER:MAX_KINDS]:
        assert (await ann_c.request(f.React, room=room, target=said.seq, emoji=e)).type == "ok"
    last = await ann_c.request(f.React, room=room, target=said.seq, emoji=emoji[MAX_KINDS])
    assert isinstance(last, f.Error) and "at most 20 different reactions" in last.message
    assert len((await history(bob_c, room))[said.seq].reactions or ()) == MAX_KINDS

    # a deleted message loses its reactions and takes no more
    await ann_c.call(f.Delete, room=room, seq=said.seq)
    assert await code(f.React, target=said.seq, emoji="👍") == "conflict"
    assert (await history(bob_c, room))[said.seq].reactions is None

    outsider, out_c = await people.new("eve")
    reply = await out_c.request(f.React, room=room, target=said.seq, emoji="👍")
    assert isinstance(reply, f.Error) and reply.code == "forbidden"


async def test_reactions_to_what_a_member_may_not_read_are_hidden_and_refused(people: People) -> None:
    """history_visibility 'joined': a newcomer sees that an earlier message got a reaction, not which."""
    (owner, oc), (bob, bc) = [await people.new(n) for n in ("owner", "bob")]
    room = (await oc.call(f.CreateGroup, name="team", members=[], history_visibility="joined")).room.room
    secret = await oc.send_text(room, "before bob")
    await oc.call(f.AddMembers, room=room, users=[bob.user_id])
    refused = await bc.request(f.React, room=room, target=secret.seq, emoji="👍")
    assert isinstance(refused, f.Error) and refused.code == "not_found"
    await oc.call(f.React, room=room, target=secret.seq, emoji="🎉")
    seen = [m for m in (await history(bc, room)).values() if (m.event or {}).get("type") == "reaction_added"]
    assert [m.event for m in seen] == [{"type": "reaction_added", "target": secret.seq, "by": owner.user_id}]


async def test_a_former_member_sees_reactions_as_they_stood(people: People) -> None:
    (owner, oc), (bob, bc) = [await people.new(n) for n in ("owner", "bob")]
    room = (await oc.call(f.CreateGroup, name="team", members=[bob.user_id])).room.room
    said = await oc.send_text(room, "hi")
    await bc.call(f.React, room=room, target=said.seq, emoji="👋")
    await oc.call(f.RemoveMember, room=room, user=bob.user_id)
    await oc.call(f.React, room=room, target=said.seq, emoji="🔥")
    assert summary((await history(bc, room))[said.seq]) == {"👋": [bob.user_id]}
    assert summary((await history(oc, room))[said.seq]) == {"👋": [bob.user_id], "🔥": [owner.user_id]}


async def test_get_receipts_tells_a_new_device_where_its_messages_stand(people: People) -> None:
    ann, ann_c, bob, bob_c, room = await chatting_pair(people)
    first = await ann_c.send_text(room, "one")
    await ann_c.send_text(room, "two")
    got = await bob_c.collect(room, 2)  # acked: delivered
    await bob_c.send_frame(f.Read(room=room, seq=first.seq))
    await status_until(ann_c, bob.user_id, first.seq)

    laptop = await people.connect(ann)  # a device that saw none of the status pushes
    receipts = await laptop.call(f.GetReceipts, room=room)
    assert receipts.others == 1 and receipts.counts == []
    assert receipts.members == [f.MemberReceipt(user=bob.user_id, delivered_seq=got[-1].seq, read_seq=first.seq)]

    await ann_c.call(f.Settings, read_receipts=False)  # with hers off, she sees no one's reads
    receipts = await laptop.call(f.GetReceipts, room=room)
    assert receipts.members == [f.MemberReceipt(user=bob.user_id, delivered_seq=got[-1].seq)]

    eve, eve_c = await people.new("eve")
    refused = await eve_c.request(f.GetReceipts, room=room)
    assert isinstance(refused, f.Error) and refused.code == "forbidden"


async def test_get_receipts_in_a_big_room_counts(nursery: trio.Nursery, backing: Backing, tmp_path: Path) -> None:
    running = await start_node(nursery, make_config(backing, tmp_path, receipts_per_recipient_max=2))
    people = People(nursery, running.node)
    (ann, ac), (bob, bc), (cat, cc) = [await people.new(n) for n in ("ann", "bob", "cat")]
    room = (await ac.call(f.CreateGroup, name="big", members=[bob.user_id, cat.user_id])).room.room
    said = await ac.send_text(room, "all of you")
    await bc.collect(room, 2)
    await bc.send_frame(f.Read(room=room, seq=said.seq))
    await cc.collect(room, 2)
    with trio.fail_after(5):
        while (await ac.next_of(f.ReceiptCounts)).counts[-1] != f.Count(seq=said.seq, delivered=2, read=1):
            pass
    receipts = await (await people.connect(ann)).call(f.GetReceipts, room=room)  # a device that saw none of it
    assert (receipts.others, receipts.members) == (2, [])
    assert receipts.counts[-1] == f.Count(seq=said.seq, delivered=2, read=1)
