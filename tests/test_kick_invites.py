"""A kick and the room's invite links (issue 16, item 12).

A kick (`remove_member`) does not stop the kicked user from coming back through a live invite link (a ban
does); `remove_member` with `revoke_invites` revokes every live link of the room in the same transaction
as the removal, so neither the kicked user nor anyone else gets in through an old link.
"""

from __future__ import annotations

import pytest

from chatd.clients.ws import ChatError
from chatd.protocol import frames as f
from tests.conftest import People
from tests.events import Events
from tests.test_invites import join, owned_group


async def test_a_kick_leaves_the_links_and_kick_and_revoke_revokes_them(people: People) -> None:
    room, _, oc, _, mc = await owned_group(people)
    events = Events()
    open_link = (await oc.call(f.CreateInvite, room=room)).invite.code
    limited = (await oc.call(f.CreateInvite, room=room, max_uses=5, expires_in=3600)).invite.code
    guest, gc = await people.new("guest")
    assert await join(gc, open_link) == "ok"

    # a plain kick: the kicked user may come straight back through a live link
    await oc.call(f.RemoveMember, room=room, user=guest.user_id)
    _, kicked = await events.next(oc, room, "member_removed")
    assert kicked["user"] == guest.user_id and "invites_revoked" not in kicked
    assert await join(gc, open_link) == "ok"

    # only the owner and admins may kick, with or without revoking: a refused kick revokes nothing
    with pytest.raises(ChatError) as denied:
        await mc.call(f.RemoveMember, room=room, user=guest.user_id, revoke_invites=True)
    assert denied.value.code == "forbidden"
    assert not any(i.revoked for i in (await oc.call(f.ListInvites, room=room)).invites)

    # kick and revoke: every link of the room is dead, for the kicked user and for everyone else
    await oc.call(f.RemoveMember, room=room, user=guest.user_id, revoke_invites=True)
    _, kicked = await events.next(oc, room, "member_removed")
    assert kicked == {"type": "member_removed", "user": guest.user_id, "by": kicked["by"], "invites_revoked": True}
    assert [await join(gc, code) for code in (open_link, limited)] == ["invite_revoked"] * 2
    _, newcomer = await people.new("newcomer")
    assert [await join(newcomer, code) for code in (open_link, limited)] == ["invite_revoked"] * 2
    assert all(i.revoked for i in (await oc.call(f.ListInvites, room=room)).invites)
    assert guest.user_id not in {m.user for m in (await oc.call(f.GetRoom, room=room)).room.members}

    # a link made afterwards works as usual
    fresh = (await oc.call(f.CreateInvite, room=room)).invite.code
    assert await join(newcomer, fresh) == "ok"


async def test_kick_and_revoke_touches_only_that_rooms_links(people: People) -> None:
    room, owner, oc, _, _ = await owned_group(people)
    other = (await oc.call(f.CreateGroup, name="other")).room.room
    here = (await oc.call(f.CreateInvite, room=room)).invite.code
    there = (await oc.call(f.CreateInvite, room=other)).invite.code
    guest, gc = await people.new("guest")
    assert await join(gc, here) == "ok"
    await oc.call(f.RemoveMember, room=room, user=guest.user_id, revoke_invites=True)
    assert await join(gc, here) == "invite_revoked"
    assert await join(gc, there) == "ok"
    assert owner.user_id in {m.user for m in (await gc.call(f.GetRoom, room=other)).room.members}
