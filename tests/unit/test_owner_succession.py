"""Who inherits a group when its owner leaves (actors/rules.py; docs/protocol.md 3.3): the longest-standing
admin, else the longest-standing member, and among people who joined at the same seq the lowest user id,
whatever order the members were loaded in."""

import trio

from chatd.actors.device import Device
from chatd.actors.items import ChangeMembers
from chatd.actors.reply import Reply
from chatd.actors.rules import admit
from chatd.persistence.records import MemberChange, MemberState, RoomState


def leave(members: dict[int, MemberState], owner: int = 1) -> int | None:
    state = RoomState(id=7, kind="group", name="g", history_visibility="shared", last_seq=10, members=members)
    send, _ = trio.open_memory_channel[object](1)
    changes = admit(state, ChangeMembers(Reply(Device(owner, send), 1), "leave"))  # type: ignore[arg-type]
    heirs = [c.user for c in changes if isinstance(c, MemberChange) and c.action == "owner_changed"]
    return heirs[0] if heirs else None


def test_founding_members_the_lowest_id_inherits_whatever_the_load_order() -> None:
    for order in ([9, 4, 6], [4, 6, 9], [6, 9, 4]):
        members = {1: MemberState("owner", 1)} | {u: MemberState("member", 1) for u in order}
        assert leave(members) == 4


def test_an_admin_comes_before_an_older_member_and_an_earlier_join_before_a_lower_id() -> None:
    assert leave({1: MemberState("owner", 1), 2: MemberState("member", 1), 8: MemberState("admin", 5)}) == 8
    assert leave({1: MemberState("owner", 1), 2: MemberState("member", 6), 8: MemberState("member", 3)}) == 8


def test_people_who_left_inherit_nothing_and_a_last_owner_leaves_no_heir() -> None:
    gone = MemberState("member", 1, left_seq=4)
    assert leave({1: MemberState("owner", 1), 2: gone, 3: MemberState("member", 2)}) == 3
    assert leave({1: MemberState("owner", 1)}) is None
