"""Roles, bans, settings, edits and deletes: each rule both ways, through the real server.

Every change is a system message in the room's own seq, so these tests also check that the other members
see it, in order with the chat.
"""

from __future__ import annotations

from typing import Any

import pytest

from chatd.clients.ws import ChatClient, ChatError
from chatd.protocol import frames as f
from tests.conftest import People, Person
from tests.events import Events


async def group(people: People, n: int) -> tuple[int, list[tuple[Person, ChatClient]]]:
    """A group of n people (the first is the owner), everyone connected, the creation message taken."""
    members = [await people.new(f"p{i}") for i in range(n)]
    owner_c = members[0][1]
    room = (await owner_c.call(f.CreateGroup, name="team", members=[p.user_id for p, _ in members[1:]])).room
    for _, client in members:
        await client.collect(room.room, room.last_seq)
    return room.room, members


_events = Events()


@pytest.fixture(autouse=True)
def _fresh_events() -> None:
    _events.waiting.clear()  # client ids may be reused by the next test


async def event(client: ChatClient, room: int, kind: str) -> dict[str, Any]:
    """The next system event of `kind` that `client` receives in `room` (acking as it goes)."""
    return (await _events.next(client, room, kind))[1]


async def refused(client: ChatClient, kind: type[f.Frame], code: str, **fields: Any) -> str:
    with pytest.raises(ChatError) as err:
        await client.call(kind, **fields)
    assert err.value.code == code, err.value
    return err.value.error.message


async def roles(client: ChatClient, room: int) -> dict[int, str]:
    info = (await client.call(f.GetRoom, room=room)).room
    return {m.user: m.role for m in info.members}


async def test_only_the_owner_promotes_and_demotes(people: People) -> None:
    room, [(owner, oc), (ann, ac), (bob, bc)] = await group(people, 3)
    assert "only the owner" in await refused(ac, f.SetRole, "forbidden", room=room, user=bob.user_id, role="admin")

    await oc.call(f.SetRole, room=room, user=ann.user_id, role="admin")
    assert await event(bc, room, "role_changed") == {"type": "role_changed", "user": ann.user_id,
                                                     "by": owner.user_id, "role": "admin"}
    assert (await roles(bc, room))[ann.user_id] == "admin"
    # an admin still cannot promote
    await refused(ac, f.SetRole, "forbidden", room=room, user=bob.user_id, role="admin")
    await refused(oc, f.SetRole, "conflict", room=room, user=ann.user_id, role="admin")
    await refused(oc, f.SetRole, "bad_request", room=room, user=owner.user_id, role="member")

    await oc.call(f.SetRole, room=room, user=ann.user_id, role="member")
    assert (await event(bc, room, "role_changed"))["role"] == "member"
    assert (await roles(oc, room)) == {owner.user_id: "owner", ann.user_id: "member", bob.user_id: "member"}


async def test_kick_follows_rank(people: People) -> None:
    room, [(owner, oc), (ann, ac), (bob, bc), (cat, cc)] = await group(people, 4)
    await refused(bc, f.RemoveMember, "forbidden", room=room, user=cat.user_id)  # member kicks member
    await oc.call(f.SetRole, room=room, user=ann.user_id, role="admin")
    await refused(ac, f.RemoveMember, "forbidden", room=room, user=owner.user_id)  # admin kicks owner
    await ac.call(f.RemoveMember, room=room, user=bob.username)  # admin kicks member
    removed = await event(cc, room, "member_removed")
    assert (removed["user"], removed["by"]) == (bob.user_id, ann.user_id)
    await refused(bc, f.Send, "forbidden", room=room, client_id="00000000-0000-4000-8000-000000000001",
                  body="still here?")


async def test_ban_removes_and_keeps_out_until_unbanned(people: People) -> None:
    room, [(owner, oc), (ann, ac), (bob, bc)] = await group(people, 3)
    await refused(bc, f.Ban, "forbidden", room=room, user=ann.user_id)  # a member cannot ban
    await oc.call(f.Ban, room=room, user=bob.user_id)
    banned = await event(ac, room, "member_banned")
    assert (banned["user"], banned["by"]) == (bob.user_id, owner.user_id)
    after = await oc.send_text(room, "bob cannot see this")
    await refused(oc, f.AddMembers, "forbidden", room=room, users=[bob.user_id])
    await refused(oc, f.Ban, "conflict", room=room, user=bob.user_id)

    # bob is owed everything up to his removal (the ban message) and nothing after it
    page = await bc.call(f.History, room=room)
    assert page.messages[-1].event["type"] == "member_banned"
    assert all(m.seq < after.seq for m in page.messages)

    # a ban can come before someone ever joins
    stranger, _ = await people.new("stranger")
    await oc.call(f.Ban, room=room, user=stranger.user_id)
    await refused(oc, f.AddMembers, "forbidden", room=room, users=[stranger.user_id])

    await refused(ac, f.Unban, "forbidden", room=room, user=bob.user_id)  # a member cannot unban
    await oc.call(f.Unban, room=room, user=bob.user_id)
    await refused(oc, f.Unban, "conflict", room=room, user=bob.user_id)
    await oc.call(f.AddMembers, room=room, users=[bob.user_id])
    assert (await event(ac, room, "member_added"))["user"] == bob.user_id


async def test_transfer_ownership(people: People) -> None:
    room, [(owner, oc), (ann, ac), (bob, bc)] = await group(people, 3)
    await refused(ac, f.TransferOwnership, "forbidden", room=room, user=bob.user_id)
    await oc.call(f.TransferOwnership, room=room, user=ann.user_id)
    assert (await event(bc, room, "owner_changed"))["user"] == ann.user_id
    assert (await event(bc, room, "role_changed"))["user"] == owner.user_id
    assert await roles(bc, room) == {owner.user_id: "admin", ann.user_id: "owner", bob.user_id: "member"}
    await refused(oc, f.SetRole, "forbidden", room=room, user=bob.user_id, role="admin")  # no longer owner
    await ac.call(f.SetRole, room=room, user=bob.user_id, role="admin")
    await refused(oc, f.RemoveMember, "forbidden", room=room, user=ann.user_id)  # an admin cannot kick the owner


async def test_room_settings(people: People) -> None:
    room, [(owner, oc), (ann, ac)] = await group(people, 2)
    await refused(ac, f.UpdateRoom, "forbidden", room=room, name="mine now")
    await refused(oc, f.UpdateRoom, "bad_request", room=room)
    await oc.call(f.UpdateRoom, room=room, name="Team B", description="the B team", icon="https://x/icon.png",
                  history_visibility="joined")
    assert await event(ac, room, "room_updated") == {
        "type": "room_updated", "by": owner.user_id, "name": "Team B", "description": "the B team",
        "icon": "https://x/icon.png", "history_visibility": "joined"}
    info = (await ac.call(f.GetRoom, room=room)).room
    assert (info.name, info.description, info.icon, info.history_visibility) == \
        ("Team B", "the B team", "https://x/icon.png", "joined")
    await oc.call(f.UpdateRoom, room=room, description="")  # "" clears it
    assert (await ac.call(f.GetRoom, room=room)).room.description is None

    other, _ = await people.new("other")
    direct = (await oc.call(f.OpenDirect, user=other.user_id)).room.room
    await refused(oc, f.UpdateRoom, "bad_request", room=direct, name="no")
    outsider = await people.new("outsider")
    await refused(outsider[1], f.GetRoom, "not_found", room=room)


async def test_edit_and_delete_reach_a_member_who_was_offline(people: People) -> None:
    room, [(owner, oc), (ann, ac), (bob, bc)] = await group(people, 3)
    first = await ac.send_text(room, "helo")
    second = await ac.send_text(room, "oops")
    await bc.collect(room, 2)
    await bc.disconnect()  # bob goes offline having both

    await refused(oc, f.Edit, "forbidden", room=room, seq=first.seq, body="not mine")
    await ac.call(f.Edit, room=room, seq=first.seq, body="hello")
    await ac.call(f.Delete, room=room, seq=second.seq)
    await refused(ac, f.Edit, "conflict", room=room, seq=second.seq, body="too late")
    await refused(ac, f.Edit, "bad_request", room=room, seq=1, body="the creation")
    await refused(ac, f.Delete, "not_found", room=room, seq=10_000)

    bc = await people.connect(bob)  # from his stored cursor: only the two events
    edited, deleted = await bc.collect(room, 2)
    assert edited.event == {"type": "message_edited", "target": first.seq, "by": ann.user_id, "body": "hello"}
    assert deleted.event == {"type": "message_deleted", "target": second.seq, "by": ann.user_id}
    assert deleted.seq == edited.seq + 1

    page = {m.seq: m for m in (await bc.call(f.History, room=room)).messages}
    assert (page[first.seq].body, page[first.seq].edited_ts is not None) == ("hello", True)
    assert (page[second.seq].body, page[second.seq].deleted) == (None, True)


async def test_who_may_delete_whose_message(people: People) -> None:
    room, [(owner, oc), (ann, ac), (bob, bc)] = await group(people, 3)
    mine = await bc.send_text(room, "bob's")
    await refused(ac, f.Delete, "forbidden", room=room, seq=mine.seq)  # a member cannot delete others'
    await oc.call(f.SetRole, room=room, user=ann.user_id, role="admin")
    await ac.call(f.Delete, room=room, seq=mine.seq)  # an admin can
    assert (await event(bc, room, "message_deleted"))["target"] == mine.seq

    other, other_c = await people.new("other")
    direct = (await bc.call(f.OpenDirect, user=other.user_id)).room
    theirs = await other_c.send_text(direct.room, "mine alone")
    await refused(bc, f.Delete, "forbidden", room=direct.room, seq=theirs.seq)  # no admins in a direct chat
    unread = {r.room: r.unread for r in (await bc.call(f.ListRooms)).rooms}[direct.room]
    await other_c.call(f.Delete, room=direct.room, seq=theirs.seq)
    after = {r.room: r.unread for r in (await bc.call(f.ListRooms)).rooms}[direct.room]
    assert (unread, after) == (1, 0)  # a deleted message is no longer unread


async def test_edits_of_messages_from_before_a_join_do_not_leak_in_joined_visibility_rooms(people: People) -> None:
    (owner, oc), (ann, ac), (cat, cc) = [await people.new(n) for n in ("owner", "ann", "cat")]
    room = (await oc.call(f.CreateGroup, name="secret", members=[ann.user_id], history_visibility="joined")).room.room
    before = await oc.send_text(room, "the plan is X")
    await oc.call(f.AddMembers, room=room, users=[cat.user_id])  # cat may not see `before`
    events = Events()
    await events.next(cc, room, "member_added")
    await oc.call(f.Edit, room=room, seq=before.seq, body="the plan is Y")

    _, live = await events.next(cc, room, "message_edited")  # pushed live
    assert live == {"type": "message_edited", "target": before.seq, "by": owner.user_id}
    _, seen_by_ann = await Events().next(ac, room, "message_edited")  # ann was there: she gets the body
    assert seen_by_ann["body"] == "the plan is Y"
    page = (await cc.call(f.History, room=room)).messages
    assert all("plan" not in str(m.event) and "plan" not in (m.body or "") for m in page)
    await cc.disconnect()
    await oc.call(f.Edit, room=room, seq=before.seq, body="the plan is Z")
    cc = await people.connect(cat)  # the backlog after a reconnect
    _, backlog = await Events().next(cc, room, "message_edited")
    assert "body" not in backlog
