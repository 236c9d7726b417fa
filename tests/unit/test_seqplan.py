"""The commit planner (persistence/seqplan.py): seqs, retries and refusals per room, without Postgres."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from chatd.persistence.media import MediaInfo, StoredMedia
from chatd.persistence.records import InviteJoin, MemberChange, MessageChange, NewText
from chatd.persistence.seqplan import Lookups, plan_room
from chatd.protocol.errors import Refusal
from chatd.protocol.frames import MediaRef, Message

A, B = 11, 12
CID1 = "0b1d5b0e-0000-4000-8000-000000000001"
CID2 = "0b1d5b0e-0000-4000-8000-000000000002"


def stored(seq: int, sender: int, client_id: str) -> Message:
    return Message(room=1, seq=seq, ts=0, kind="text", sender=sender, client_id=client_id, body="old")


def test_fresh_items_take_the_next_seqs_in_order() -> None:
    plan = plan_room(1, 7, [NewText(A, CID1, "x"), NewText(B, CID2, "y")], Lookups())
    assert plan.outcomes == [8, 9] and [s for s, _ in plan.fresh] == [8, 9] and plan.last_seq == 9


def test_a_retry_uses_no_seq_and_names_the_stored_message() -> None:
    known = {(A, CID1): stored(3, A, CID1)}
    plan = plan_room(1, 7, [NewText(A, CID1.upper(), "again"), NewText(A, CID2, "new")], Lookups(known=known))
    assert plan.outcomes == [(A, CID1), 8] and plan.last_seq == 8


def test_the_same_client_id_twice_in_one_batch_is_stored_once() -> None:
    plan = plan_room(1, 0, [NewText(A, CID1, "x"), NewText(A, CID1, "x")], Lookups())
    assert plan.outcomes == [1, (A, CID1)] and len(plan.fresh) == 1
    other_sender = plan_room(1, 0, [NewText(A, CID1, "x"), NewText(B, CID1, "y")], Lookups())
    assert other_sender.outcomes == [1, 2]  # the key is (sender, client id)


def test_refused_changes_use_no_seq_and_a_delete_is_seen_by_later_items() -> None:
    targets = {5: {"sender_id": A, "kind": "text", "deleted": False}, 6: {"sender_id": B, "kind": "system",
                                                                         "deleted": False}}
    items = [MessageChange(B, 5, "edit of another's"), MessageChange(A, 5, None), MessageChange(A, 5, "too late"),
             MessageChange(A, 6, "x"), MessageChange(A, 99, "x")]
    plan = plan_room(1, 10, items, Lookups(targets=targets))
    codes = [o.code if isinstance(o, Refusal) else o for o in plan.outcomes]
    assert codes == ["forbidden", 11, "conflict", "bad_request", "not_found"] and plan.last_seq == 11


def test_an_invite_with_one_use_left_admits_one_joiner() -> None:
    now = datetime.now(UTC)
    link = {"room_id": 1, "expires_at": now + timedelta(hours=1), "max_uses": 3, "use_count": 2, "revoked_at": None,
            "now": now}
    plan = plan_room(1, 4, [InviteJoin(A, "code"), InviteJoin(B, "code")], Lookups(invites={"code": link}))
    assert plan.outcomes[0] == 5 and isinstance(plan.outcomes[1], Refusal)
    assert plan.outcomes[1].code == "invite_used_up"
    assert plan_room(2, 0, [InviteJoin(A, "code")], Lookups(invites={"code": link})).outcomes[0] == \
        Refusal("not_found", "unknown invite code")  # a link of another room


def test_a_kick_that_revokes_the_links_refuses_a_join_later_in_the_batch() -> None:
    now = datetime.now(UTC)

    def links() -> dict[str, dict[str, object]]:
        return {"code": {"room_id": 1, "expires_at": None, "max_uses": None, "use_count": 0, "revoked_at": None,
                         "now": now}}
    kick = MemberChange("removed", B, A, ends_membership=True, revoke_invites=True)
    before = plan_room(1, 4, [InviteJoin(B, "code"), kick], Lookups(invites=links()))
    assert before.outcomes == [5, 6]  # joined, then kicked: the kick wins
    after = plan_room(1, 4, [kick, InviteJoin(B, "code")], Lookups(invites=links()))
    assert after.outcomes == [5, Refusal("invite_revoked", "this invite link was revoked")]
    plain = MemberChange("removed", B, A, ends_membership=True)
    assert plan_room(1, 4, [plain, InviteJoin(B, "code")], Lookups(invites=links())).outcomes == [5, 6]


def test_media_must_be_the_senders_upload_of_a_fitting_type() -> None:
    mid = "m" * 20
    media = {mid: StoredMedia(MediaInfo(mid, "image/png", 10, 4, 4, None, None), "0" * 64, uploader=A)}
    ok = NewText(A, CID1, "", kind="image", media=MediaRef(id=mid))
    not_mine = NewText(B, CID1, "", kind="image", media=MediaRef(id=mid))
    wrong_kind = NewText(A, CID2, "", kind="video", media=MediaRef(id=mid))
    plan = plan_room(1, 0, [ok, not_mine, wrong_kind], Lookups(media=media))
    assert plan.outcomes[0] == 1 and [o.code for o in plan.outcomes[1:] if isinstance(o, Refusal)] == \
        ["not_found", "bad_request"]
