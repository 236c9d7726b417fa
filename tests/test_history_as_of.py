"""History as it was, through the real server: a former member sees each message as it stood at their
removal (edits and deletes made after it stay invisible), and history_visibility applies as it was when
each message was sent."""

from __future__ import annotations

import httpx
import pytest

from chatd.clients.ws import ChatClient
from chatd.node import Node
from chatd.protocol import frames as f
from tests.conftest import People, Person
from tests.events import Events
from tests.test_media import bearer, post, upload


async def history(client: ChatClient, room: int, limit: int = 100) -> dict[int, f.Message]:
    page = await client.call(f.History, room=room, limit=limit)
    return {m.seq: m for m in page.messages}


async def depart(how: str, room: int, owner: ChatClient, bob: Person, bob_c: ChatClient) -> None:
    if how == "removed":
        await owner.call(f.RemoveMember, room=room, user=bob.user_id)
    elif how == "banned":
        await owner.call(f.Ban, room=room, user=bob.user_id)
    else:
        await bob_c.call(f.Leave, room=room)


@pytest.mark.parametrize("how", ["removed", "banned", "left"])
async def test_a_former_member_sees_messages_as_they_were_at_the_removal(people: People, how: str) -> None:
    (owner, oc), (ann, ac), (bob, bc) = [await people.new(n) for n in ("owner", "ann", "bob")]
    room = (await oc.call(f.CreateGroup, name="team", members=[ann.user_id, bob.user_id])).room.room
    draft = await ac.send_text(room, "first draft")
    doomed = await ac.send_text(room, "to be deleted")
    await ac.call(f.Edit, room=room, seq=draft.seq, body="second draft")  # before the removal: bob sees it
    await depart(how, room, oc, bob, bc)

    await ac.call(f.Edit, room=room, seq=draft.seq, body="final")
    await ac.call(f.Edit, room=room, seq=draft.seq, body="final, really")
    await oc.call(f.Delete, room=room, seq=doomed.seq)
    await oc.send_text(room, "after bob")

    mine = await history(bc, room)
    left_seq = max(mine)
    assert (mine[left_seq].event or {}).get("user") == bob.user_id  # the removal is the last
    assert (mine[draft.seq].body, mine[draft.seq].edited_ts is not None) == ("second draft", True)
    gone = mine[doomed.seq]
    assert (gone.body, gone.deleted, gone.edited_ts) == ("to be deleted", False, None)
    assert all("final" not in (m.body or "") + str(m.event) for m in mine.values())

    theirs = await history(ac, room)  # a current member sees the latest
    assert theirs[draft.seq].body == "final, really"
    assert (theirs[doomed.seq].body, theirs[doomed.seq].deleted) == (None, True)
    assert theirs[left_seq] == mine[left_seq]

    # the backlog of a device that reconnects from before the edits: the same, up to the removal
    await bc.disconnect()
    bc = await people.connect(bob, cursors={room: draft.seq - 1})
    backlog = {m.seq: m for m in await bc.collect(room, left_seq - draft.seq + 1)}
    assert sorted(backlog) == list(range(draft.seq, left_seq + 1))
    assert backlog[draft.seq].body == "second draft" and backlog[doomed.seq].body == "to be deleted"
    assert not backlog[doomed.seq].deleted
    assert backlog == {s: m for s, m in mine.items() if s >= draft.seq}
    rooms = {r.room: r for r in (await bc.call(f.ListRooms)).rooms}
    assert (rooms[room].member, rooms[room].last_seq) == (False, left_seq)
    assert rooms[room].unread == 2  # bob never read: both of ann's, the one deleted after he left too


async def test_a_member_who_comes_back_sees_the_latest_again(people: People) -> None:
    (owner, oc), (bob, bc) = [await people.new(n) for n in ("owner", "bob")]
    room = (await oc.call(f.CreateGroup, name="team", members=[bob.user_id])).room.room
    said = await oc.send_text(room, "v1")
    await oc.call(f.RemoveMember, room=room, user=bob.user_id)
    await oc.call(f.Edit, room=room, seq=said.seq, body="v2")
    assert (await history(bc, room))[said.seq].body == "v1"
    await oc.call(f.AddMembers, room=room, users=[bob.user_id])
    assert (await history(bc, room))[said.seq].body == "v2"


async def test_history_visibility_applies_as_it_was_when_each_message_was_sent(people: People) -> None:
    (owner, oc), (ann, ac), (cat, cc) = [await people.new(n) for n in ("owner", "ann", "cat")]
    room = (await oc.call(f.CreateGroup, name="secret", members=[ann.user_id], history_visibility="joined")).room.room
    hidden = await oc.send_text(room, "before: joined")
    await oc.call(f.UpdateRoom, room=room, history_visibility="shared")
    shared = await oc.send_text(room, "while shared")
    await oc.call(f.UpdateRoom, room=room, history_visibility="joined")
    closed = await oc.send_text(room, "joined again")
    await oc.call(f.AddMembers, room=room, users=[cat.user_id])
    events = Events()
    joined_msg, _ = await events.next(cc, room, "member_added")

    seen = await history(cc, room)
    bodies = [m.body for m in seen.values() if m.body]
    assert bodies == ["while shared"]
    assert hidden.seq not in seen and closed.seq not in seen
    switched_on = shared.seq - 1  # the room_updated that made it shared
    assert sorted(seen) == [switched_on, shared.seq, joined_msg.seq]
    assert seen[switched_on].event == {"type": "room_updated", "by": owner.user_id, "history_visibility": "shared"}

    # paging one message at a time walks the same seqs, and says when there is nothing older
    pages: list[int] = []
    before = None
    while True:
        page = await cc.call(f.History, room=room, limit=1, **({"before_seq": before} if before else {}))
        pages[:0] = [m.seq for m in page.messages]
        if not page.has_more:
            break
        before = page.messages[0].seq
    assert pages == sorted(seen)

    # an edit's body reaches cat only for a message cat may read: live and in history
    await oc.call(f.Edit, room=room, seq=hidden.seq, body="before: edited")
    await oc.call(f.Edit, room=room, seq=shared.seq, body="while shared: edited")
    _, first = await events.next(cc, room, "message_edited")
    _, second = await events.next(cc, room, "message_edited")
    assert first == {"type": "message_edited", "target": hidden.seq, "by": owner.user_id}
    assert second["body"] == "while shared: edited"
    page = await history(cc, room)
    assert "before" not in str([(m.body, m.event) for m in page.values()])
    assert page[shared.seq].body == "while shared: edited"

    # ann, there from the start, reads everything
    assert {hidden.seq, shared.seq, closed.seq} <= set(await history(ac, room))


async def test_messages_sent_after_a_switch_to_shared_are_visible_to_later_joiners(people: People) -> None:
    (owner, oc), (cat, cc) = [await people.new(n) for n in ("owner", "cat")]
    room = (await oc.call(f.CreateGroup, name="secret", members=[], history_visibility="joined")).room.room
    await oc.send_text(room, "only for those who were there")
    await oc.call(f.UpdateRoom, room=room, history_visibility="shared")
    await oc.send_text(room, "for everyone")
    await oc.call(f.AddMembers, room=room, users=[cat.user_id])
    await cc.collect(room, 1)
    page = await cc.call(f.History, room=room)
    assert [m.body for m in page.messages if m.body] == ["for everyone"]
    assert not page.has_more


async def test_a_former_member_keeps_an_attachment_deleted_after_the_removal(node: Node, people: People) -> None:
    (owner, oc), (bob, bc) = [await people.new(n) for n in ("owner", "bob")]
    room = (await oc.call(f.CreateGroup, name="team", members=[bob.user_id])).room.room
    async with httpx.AsyncClient(base_url=node.http_url) as http:
        item = (await upload(http, owner.access_token, b"the minutes")).json()
        sent = await post(oc, room, item["id"], body="minutes")
        await oc.call(f.RemoveMember, room=room, user=bob.user_id)
        await oc.call(f.Delete, room=room, seq=sent.seq)
        seen = (await history(bc, room))[sent.seq]
        assert (seen.deleted, seen.body, seen.media is not None and seen.media.id) == (False, "minutes", item["id"])
        assert (await http.get(f"/api/media/{item['id']}", headers=bearer(bob.access_token))).status_code == 200
        assert (await history(oc, room))[sent.seq].media is None  # the owner sees it deleted
