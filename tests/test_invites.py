"""Invite links: who may make them, joining, the last-use race, every refusal, brute force, leaked links."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import asyncpg
import pytest
import trio

from chatd.actors.device import Device
from chatd.actors.items import JoinByInvite, SendText
from chatd.actors.reply import Reply
from chatd.clients.ws import ChatClient, ChatError
from chatd.node import Node
from chatd.protocol import frames as f
from tests.conftest import People, Person
from tests.events import Events


async def sql(node: Node, statement: str, *args: Any) -> None:
    """Change the database behind the server's back (to make a link expire without waiting)."""
    async def run() -> None:
        con = await asyncpg.connect(node.config.database_url)
        try:
            await con.execute(statement, *args)
        finally:
            await con.close()
    await trio.to_thread.run_sync(asyncio.run, run())


async def join(client: ChatClient, code: str) -> str:
    """'ok' or the error code."""
    try:
        await client.call(f.Join, code=code)
        return "ok"
    except ChatError as err:
        return err.code


async def attempt(client: ChatClient, code: str, results: list[str]) -> None:
    results.append(await join(client, code))


async def owned_group(people: People) -> tuple[int, Person, ChatClient, Person, ChatClient]:
    (owner, oc), (member, mc) = await people.new("owner"), await people.new("member")
    room = (await oc.call(f.CreateGroup, name="club", members=[member.user_id])).room.room
    return room, owner, oc, member, mc


async def test_create_join_list_and_audit(people: People) -> None:
    room, owner, oc, member, mc = await owned_group(people)
    with pytest.raises(ChatError) as denied:
        await mc.call(f.CreateInvite, room=room)
    assert denied.value.code == "forbidden"
    invite = (await oc.call(f.CreateInvite, room=room, max_uses=5, expires_in=3600)).invite
    assert len(invite.code) >= 22 and invite.max_uses == 5 and invite.expires_ts and invite.use_count == 0

    guest, gc = await people.new("guest")
    assert await join(gc, invite.code) == "ok"
    msg, joined = await Events().next(oc, room, "member_joined")
    assert joined == {"type": "member_joined", "user": guest.user_id, "via": "invite"}
    assert guest.user_id in {m.user for m in (await gc.call(f.GetRoom, room=room)).room.members}
    assert await join(gc, invite.code) == "conflict"  # already a member

    (listed,) = (await oc.call(f.ListInvites, room=room)).invites
    assert (listed.code, listed.use_count, listed.revoked) == (invite.code, 1, False)
    (audit,) = (await oc.call(f.ListInviteJoins, room=room)).joins
    assert (audit.user, audit.username, audit.code, audit.seq) == (guest.user_id, guest.username, invite.code,
                                                                   msg.seq)
    with pytest.raises(ChatError):
        await mc.call(f.ListInviteJoins, room=room)  # members do not see the audit

    other, _ = await people.new("other")
    direct = (await oc.call(f.OpenDirect, user=other.user_id)).room.room
    with pytest.raises(ChatError) as refused:
        await oc.call(f.CreateInvite, room=direct)
    assert refused.value.code == "bad_request"


async def test_last_use_goes_to_exactly_one_of_simultaneous_joiners(people: People) -> None:
    room, _, oc, _, _ = await owned_group(people)
    for uses, joiners in ((1, 2), (2, 6)):
        invite = (await oc.call(f.CreateInvite, room=room, max_uses=uses)).invite
        clients = [(await people.new("racer"))[1] for _ in range(joiners)]
        results: list[str] = []
        async with trio.open_nursery() as n:
            for client in clients:
                n.start_soon(attempt, client, invite.code, results)
        assert sorted(results) == ["invite_used_up"] * (joiners - uses) + ["ok"] * uses
        (listed,) = [i for i in (await oc.call(f.ListInvites, room=room)).invites if i.code == invite.code]
        assert listed.use_count == uses


async def test_each_refusal_has_its_own_error(people: People, node: Node) -> None:
    room, owner, oc, member, mc = await owned_group(people)
    _, gc = await people.new("guest")
    expired = (await oc.call(f.CreateInvite, room=room, expires_in=60)).invite
    await sql(node, "UPDATE invite_links SET expires_at = now() - interval '1 second' WHERE code = $1", expired.code)
    assert await join(gc, expired.code) == "invite_expired"

    revoked = (await oc.call(f.CreateInvite, room=room)).invite
    await oc.call(f.RevokeInvite, room=room, code=revoked.code)
    assert await join(gc, revoked.code) == "invite_revoked"

    used = (await oc.call(f.CreateInvite, room=room, max_uses=1)).invite
    assert await join(gc, used.code) == "ok"
    assert await join((await people.new("late"))[1], used.code) == "invite_used_up"

    assert await join(gc, "A" * 24) == "not_found"
    bad = await gc.request(f.Join, code="not a code!")
    assert isinstance(bad, f.Error) and bad.code == "bad_request"

    banned, bc = await people.new("banned")
    await oc.call(f.Ban, room=room, user=banned.user_id)
    fresh = (await oc.call(f.CreateInvite, room=room)).invite
    assert await join(bc, fresh.code) == "forbidden"


async def test_guessing_codes_is_rate_limited(people: People) -> None:
    _, gc = await people.new("guesser")
    results = [await join(gc, f"{i:024d}") for i in range(12)]
    assert results[:10] == ["not_found"] * 10
    assert results[10:] == ["rate_limited"] * 2


async def test_revoking_a_leaked_link_can_remove_its_joiners(people: People) -> None:
    room, owner, oc, member, mc = await owned_group(people)
    leaked = (await oc.call(f.CreateInvite, room=room)).invite
    joiners = [await people.new(f"j{i}") for i in range(2)]
    for _, client in joiners:
        assert await join(client, leaked.code) == "ok"
    await oc.call(f.RevokeInvite, room=room, code=leaked.code, remove_joined=True)
    members = {m.user for m in (await oc.call(f.GetRoom, room=room)).room.members}
    assert members == {owner.user_id, member.user_id}
    events = Events()
    removed = [(await events.next(mc, room, "member_removed"))[1]["user"] for _ in joiners]
    assert sorted(removed) == sorted(p.user_id for p, _ in joiners)
    assert await join(joiners[0][1], leaked.code) == "invite_revoked"


async def test_a_refused_join_lets_nothing_after_it_in_the_same_batch_through(people: People, node: Node) -> None:
    """The link is checked in the commit; a send queued right behind a doomed join must not ride on it."""
    room, owner, oc, member, mc = await owned_group(people)
    revoked = (await oc.call(f.CreateInvite, room=room)).invite
    await oc.call(f.RevokeInvite, room=room, code=revoked.code)
    stranger, _ = await people.new("stranger")
    send, replies = trio.open_memory_channel[f.Frame](16)
    device = Device(stranger.user_id, send)
    assert node.services is not None
    rooms = node.services.rooms
    await oc.send_text(room, "the room actor is running")  # started by the server (tell() would start it here)
    # offered with no checkpoint in between: the room actor takes both in one batch
    assert rooms.tell(room, JoinByInvite(Reply(device, 1), revoked.code))
    assert rooms.tell(room, SendText(Reply(device, 2), str(uuid.uuid4()), "I should not be here"))
    with trio.fail_after(5):
        answers = {r.id: r for r in [await replies.receive(), await replies.receive()] if isinstance(r, f.Error)}
    assert answers[1].code == "invite_revoked" and answers[2].code == "forbidden"
    page = await oc.call(f.History, room=room)
    assert all(m.sender != stranger.user_id for m in page.messages)
    assert stranger.user_id not in {m.user for m in (await oc.call(f.GetRoom, room=room)).room.members}


async def preview(client: ChatClient, code: str) -> f.InvitePreview | str:
    """The preview, or the error code."""
    try:
        return await client.call(f.PreviewInvite, code=code)  # type: ignore[no-any-return]
    except ChatError as err:
        return err.code


async def test_a_link_shows_what_it_leads_to_before_joining(people: People, node: Node) -> None:
    room, owner, oc, member, mc = await owned_group(people)
    await oc.call(f.UpdateRoom, room=room, name="Book club", description="one book a month")
    invite = (await oc.call(f.CreateInvite, room=room, max_uses=2)).invite
    _, gc = await people.new("guest")

    seen = await preview(gc, invite.code)
    assert isinstance(seen, f.InvitePreview), seen
    assert (seen.room, seen.members, seen.member, seen.name, seen.description) == (
        room, 2, False, "Book club", "one book a month")
    assert (await oc.call(f.ListInvites, room=room)).invites[0].use_count == 0, "a preview uses nothing"
    assert await join(gc, invite.code) == "ok"
    after = await preview(gc, invite.code)
    assert isinstance(after, f.InvitePreview) and after.members == 3 and after.member

    await oc.call(f.RevokeInvite, room=room, code=invite.code)
    assert await preview(gc, invite.code) == "invite_revoked"
    expired = (await oc.call(f.CreateInvite, room=room, expires_in=60)).invite
    await sql(node, "UPDATE invite_links SET expires_at = now() - interval '1 second' WHERE code = $1", expired.code)
    assert await preview(gc, expired.code) == "invite_expired"
    assert await preview(gc, "B" * 24) == "not_found"


async def test_previews_and_joins_share_the_guessing_budget(people: People) -> None:
    _, gc = await people.new("guesser")
    results = [await preview(gc, f"{i:024d}") for i in range(6)] + [await join(gc, f"{i:024d}") for i in range(6)]
    assert results[:10] == ["not_found"] * 10
    assert results[10:] == ["rate_limited"] * 2
