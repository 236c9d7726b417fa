"""Delivery and read receipts of one room (actors/receipts.py): who is told what when cursors move."""

from __future__ import annotations

from chatd.actors.receipts import Move, Receipts
from chatd.protocol.frames import Count, MemberReceipt, ReceiptCounts, Status

ANN, BOB, CAT = 1, 2, 3
EVERYONE = {ANN: 1, BOB: 1, CAT: 1}  # current members -> the seq they joined at


def small_room(window: int = 100) -> Receipts:
    """Ann sent 1 and 3, Bob 2; Ann and Bob have everything, Cat nothing yet."""
    receipts = Receipts(room_id=7, per_recipient_max=10, window=window)
    receipts.load({1: ANN, 2: BOB, 3: ANN}, {ANN: (3, 3), BOB: (3, 2), CAT: (0, 0)})
    return receipts


def test_a_delivery_tells_each_sender_once_per_recipient() -> None:
    receipts = small_room()
    told = list(receipts.moved(EVERYONE, {CAT: Move(delivered=3)}))
    assert told == [(ANN, Status(room=7, user=CAT, delivered_seq=3, read_seq=0)),
                    (BOB, Status(room=7, user=CAT, delivered_seq=3, read_seq=0))]
    assert list(receipts.moved(EVERYONE, {CAT: Move(delivered=3)})) == []  # nothing new


def test_a_read_tells_only_the_senders_of_what_it_covers() -> None:
    receipts = small_room()
    list(receipts.moved(EVERYONE, {CAT: Move(delivered=3)}))
    assert list(receipts.moved(EVERYONE, {CAT: Move(read=2)})) == [
        (ANN, Status(room=7, user=CAT, delivered_seq=3, read_seq=2)),
        (BOB, Status(room=7, user=CAT, delivered_seq=3, read_seq=2))]
    assert [sender for sender, _ in receipts.moved(EVERYONE, {CAT: Move(read=3)})] == [ANN]


def test_nobody_hears_of_their_own_receipts_and_former_members_hear_nothing() -> None:
    receipts = small_room()
    assert [s for s, _ in receipts.moved(EVERYONE, {ANN: Move(delivered=3)})] == [BOB]
    assert [s for s, _ in receipts.moved({ANN: 1, CAT: 1}, {CAT: Move(delivered=3)})] == [ANN]  # Bob left


def test_private_reads_are_never_reported() -> None:
    receipts = small_room()
    told = dict(receipts.moved(EVERYONE, {CAT: Move(delivered=3, read=3, quiet=True)}))
    assert told[ANN] == Status(room=7, user=CAT, delivered_seq=3, read_seq=None)
    assert receipts.standing(ANN, EVERYONE, private=False)[0] == [
        MemberReceipt(user=BOB, delivered_seq=3, read_seq=2), MemberReceipt(user=CAT, delivered_seq=3, read_seq=None)]


def test_an_asker_with_private_reads_sees_no_ones_reads() -> None:
    receipts = small_room()
    members, _ = receipts.standing(CAT, EVERYONE, private=True)
    assert members == [MemberReceipt(user=ANN, delivered_seq=3, read_seq=None),
                       MemberReceipt(user=BOB, delivered_seq=3, read_seq=None)]


def test_only_the_latest_window_of_messages_is_remembered() -> None:
    receipts = Receipts(room_id=7, per_recipient_max=10, window=2)
    receipts.load({}, {CAT: (0, 0)})
    for seq, sender in ((1, ANN), (2, ANN), (3, BOB)):
        receipts.remember(seq, sender)
    assert [s for s, _ in receipts.moved(EVERYONE, {CAT: Move(delivered=1)})] == []  # seq 1 is forgotten
    assert [s for s, _ in receipts.moved(EVERYONE, {CAT: Move(delivered=3)})] == [ANN, BOB]


def test_big_rooms_get_counts_per_message_instead() -> None:
    receipts = Receipts(room_id=7, per_recipient_max=2, window=100)
    receipts.load({1: ANN, 2: ANN}, {ANN: (2, 2), BOB: (0, 0), CAT: (1, 1)})
    told = list(receipts.moved(EVERYONE, {BOB: Move(delivered=2, read=1)}))
    assert told == [(ANN, ReceiptCounts(room=7, others=2, counts=[Count(seq=1, delivered=2, read=2),
                                                                  Count(seq=2, delivered=1, read=0)]))]


def test_counts_leave_out_members_who_joined_after_the_message() -> None:
    """A big room's receipt_counts count only members who were there when the message was sent."""
    receipts = Receipts(room_id=1, per_recipient_max=2, window=100)
    receipts.load({10: 1, 20: 1}, {1: (20, 20), 2: (9, 9), 3: (9, 9), 4: (19, 19)})
    members = {1: 1, 2: 1, 3: 1, 4: 20}  # user 4 joined at seq 20
    frames = dict(receipts.moved(members, {2: Move(delivered=20, read=10), 3: Move(delivered=20)}))
    counts = {c.seq: (c.delivered, c.read) for c in frames[1].counts}  # type: ignore[attr-defined]
    # seq 10: users 2 and 3 have it, 2 read it; user 4 joined later and does not count though his cursor is 19
    assert counts[10] == (2, 1)
    assert counts[20] == (2, 0)  # user 4's cursor (19) is before seq 20: not delivered yet
    receipts.load({10: 1}, {1: (20, 20), 2: (9, 9)})
    again = dict(receipts.moved({1: 1, 2: 1, 4: 20}, {4: Move(delivered=20, read=20)}))
    assert again == {}, "a late joiner's cursor covers nothing sent before they joined"
