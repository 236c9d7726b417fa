"""Who may do what in a room (actors/rules.py): pure checks over the room's in-memory state."""

from __future__ import annotations

from typing import Any

import pytest
import trio

from chatd.actors.device import Device
from chatd.actors.items import ChangeMembers, ChangeMessage, JoinByInvite, SendText, UpdateRoom
from chatd.actors.reply import Reply
from chatd.actors.rules import admit
from chatd.persistence.records import InviteJoin, MemberChange, MemberState, MessageChange, NewText, RoomState
from chatd.protocol.errors import ErrorCode, Refusal

OWNER, ADMIN, MEMBER, OTHER, OUTSIDER = 1, 2, 3, 4, 9
CID = "0b1d5b0e-0000-4000-8000-000000000001"


def group(**members: MemberState) -> RoomState:
    """A group room at seq 10: owner (joined at 1), admin (2), member (3) and `members` by user id ("u5")."""
    state = RoomState(id=7, kind="group", name="g", history_visibility="shared", last_seq=10,
                      visibility=[(1, "shared")])
    state.members = {OWNER: MemberState("owner", 1), ADMIN: MemberState("admin", 2), MEMBER: MemberState("member", 3),
                     **{int(k[1:]): v for k, v in members.items()}}
    return state


def by(user: int, cls: type, **fields: Any) -> Any:
    """Request `cls` from a device of `user` (the one place that knows how a request names its sender)."""
    device = Device(user, trio.open_memory_channel[Any](1)[0])
    return cls(reply=Reply(device, 1), **fields)


def refused(state: RoomState, request: Any) -> tuple[ErrorCode, str]:
    with pytest.raises(Refusal) as denied:
        admit(state, request)
    return denied.value.code, str(denied.value)


def test_only_current_members_send() -> None:
    state = group(u5=MemberState("member", 4, left_seq=8))
    assert admit(state, by(MEMBER, SendText, client_id=CID, body="hi")) == [NewText(MEMBER, CID, "hi")]
    assert refused(state, by(OUTSIDER, SendText, client_id=CID, body="hi"))[0] is ErrorCode.FORBIDDEN
    assert refused(state, by(5, SendText, client_id=CID, body="hi"))[0] is ErrorCode.FORBIDDEN  # left


def test_a_reply_names_a_message_the_member_may_read() -> None:
    state = group(u5=MemberState("member", 8))
    state.visibility = [(1, "joined")]  # later joiners see nothing from before their join
    assert admit(state, by(MEMBER, SendText, client_id=CID, body="re", reply_to=5))
    code, message = refused(state, by(5, SendText, client_id=CID, body="re", reply_to=5))
    assert code is ErrorCode.NOT_FOUND and "5" in message  # as if it did not exist
    state.visibility = [(1, "shared")]
    assert admit(state, by(5, SendText, client_id=CID, body="re", reply_to=5))


def test_adding_members_takes_an_admin_and_skips_nobody_twice() -> None:
    state = group()
    assert refused(state, by(MEMBER, ChangeMembers, action="add", users=(OTHER,)))[0] is ErrorCode.FORBIDDEN
    added = admit(state, by(ADMIN, ChangeMembers, action="add", users=(OTHER, OTHER, MEMBER)))
    assert added == [MemberChange("added", OTHER, ADMIN)]
    assert state.members[OTHER].current  # the room sees them as a member before the commit returns
    assert refused(state, by(ADMIN, ChangeMembers, action="add", users=(OTHER,)))[0] is ErrorCode.CONFLICT


def test_kicks_go_down_the_ranks_only() -> None:
    state = group(u5=MemberState("admin", 4))
    assert refused(state, by(ADMIN, ChangeMembers, action="remove", users=(5,)))[0] is ErrorCode.FORBIDDEN
    assert refused(state, by(ADMIN, ChangeMembers, action="remove", users=(OWNER,)))[0] is ErrorCode.FORBIDDEN
    assert refused(state, by(MEMBER, ChangeMembers, action="remove", users=(OTHER,)))[0] is ErrorCode.FORBIDDEN
    assert refused(state, by(ADMIN, ChangeMembers, action="remove", users=(ADMIN,)))[0] is ErrorCode.BAD_REQUEST
    assert admit(state, by(ADMIN, ChangeMembers, action="remove", users=(MEMBER,))) == [
        MemberChange("removed", MEMBER, ADMIN, ends_membership=True)]
    assert not state.members[MEMBER].current
    assert admit(state, by(OWNER, ChangeMembers, action="remove", users=(5,)))


def test_a_ban_keeps_someone_out_until_unbanned() -> None:
    state = group()
    assert admit(state, by(ADMIN, ChangeMembers, action="ban", users=(OUTSIDER,))) == [
        MemberChange("banned", OUTSIDER, ADMIN, ends_membership=False)]  # not a member: nothing to end
    assert refused(state, by(ADMIN, ChangeMembers, action="ban", users=(OUTSIDER,)))[0] is ErrorCode.CONFLICT
    assert refused(state, by(ADMIN, ChangeMembers, action="add", users=(OUTSIDER,)))[0] is ErrorCode.FORBIDDEN
    assert refused(state, by(OUTSIDER, JoinByInvite, code="c"))[0] is ErrorCode.FORBIDDEN
    admit(state, by(ADMIN, ChangeMembers, action="unban", users=(OUTSIDER,)))
    assert admit(state, by(OUTSIDER, JoinByInvite, code="c")) == [InviteJoin(OUTSIDER, "c")]
    assert refused(state, by(OUTSIDER, JoinByInvite, code="c"))[0] is ErrorCode.CONFLICT  # joined already


def test_only_the_owner_promotes_demotes_and_transfers() -> None:
    state = group()
    assert refused(state, by(ADMIN, ChangeMembers, action="set_role", users=(MEMBER,), role="admin"))[0] \
        is ErrorCode.FORBIDDEN
    admit(state, by(OWNER, ChangeMembers, action="set_role", users=(MEMBER,), role="admin"))
    assert state.members[MEMBER].role == "admin"
    assert refused(state, by(OWNER, ChangeMembers, action="set_role", users=(MEMBER,), role="admin"))[0] \
        is ErrorCode.CONFLICT
    assert refused(state, by(OWNER, ChangeMembers, action="set_role", users=(MEMBER,), role="owner"))[0] \
        is ErrorCode.BAD_REQUEST
    admit(state, by(OWNER, ChangeMembers, action="transfer", users=(ADMIN,)))
    assert (state.members[ADMIN].role, state.members[OWNER].role) == ("owner", "admin")


def test_an_owner_who_leaves_hands_ownership_to_the_longest_standing_admin() -> None:
    state = group(u5=MemberState("member", 1), u6=MemberState("admin", 1))  # u6: an admin since before ADMIN
    changes = admit(state, by(OWNER, ChangeMembers, action="leave"))
    assert changes == [MemberChange("owner_changed", 6, OWNER, "owner"),
                       MemberChange("left", OWNER, OWNER, ends_membership=True)]
    assert state.members[6].role == "owner" and not state.members[OWNER].current


def test_without_admins_the_longest_standing_member_takes_over() -> None:
    state = group(u5=MemberState("member", 2))
    del state.members[ADMIN]
    admit(state, by(OWNER, ChangeMembers, action="leave"))
    assert state.members[5].role == "owner" and state.members[MEMBER].role == "member"


def test_an_owner_who_leaves_alongside_another_owner_hands_nothing_on() -> None:
    state = group(u5=MemberState("owner", 4))
    assert admit(state, by(OWNER, ChangeMembers, action="leave")) == [
        MemberChange("left", OWNER, OWNER, ends_membership=True)]
    assert state.members[ADMIN].role == "admin"


def test_admins_delete_anyones_message_in_groups_only() -> None:
    state = group()
    deletion = admit(state, by(ADMIN, ChangeMessage, seq=5, body=None))
    assert deletion == [MessageChange(ADMIN, 5, None, True)]  # the commit lets it delete others' messages
    assert admit(state, by(MEMBER, ChangeMessage, seq=5, body=None)) == [MessageChange(MEMBER, 5, None, False)]
    assert admit(state, by(ADMIN, ChangeMessage, seq=5, body="edit")) == [MessageChange(ADMIN, 5, "edit", False)]


def test_a_direct_room_has_no_roles_or_settings() -> None:
    state = RoomState(id=8, kind="direct", name=None, history_visibility="shared", last_seq=3,
                      members={OWNER: MemberState("member", 1), OTHER: MemberState("member", 1)})
    for request in (by(OWNER, ChangeMembers, action="add", users=(MEMBER,)),
                    by(OWNER, UpdateRoom, changes={"name": "x"}), by(OUTSIDER, JoinByInvite, code="c")):
        assert refused(state, request)[0] is ErrorCode.BAD_REQUEST
    assert admit(state, by(OWNER, ChangeMessage, seq=2, body=None)) == [MessageChange(OWNER, 2, None, False)]


def test_settings_take_an_admin_and_apply_at_once() -> None:
    state = group()
    assert refused(state, by(MEMBER, UpdateRoom, changes={"name": "x"}))[0] is ErrorCode.FORBIDDEN
    assert refused(state, by(ADMIN, UpdateRoom, changes={}))[0] is ErrorCode.BAD_REQUEST
    admit(state, by(ADMIN, UpdateRoom, changes={"name": "renamed", "history_visibility": "joined"}))
    assert (state.name, state.history_visibility) == ("renamed", "joined")
