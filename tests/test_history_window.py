"""The history visibility rule (protocol/history.py), pure: which seqs a member may read, by the room's log."""

from __future__ import annotations

from chatd.protocol.frames import Message
from chatd.protocol.history import VisibilityLog, Window, readable, redacted, visibility_at

SHARED: VisibilityLog = [(1, "shared")]
JOINED: VisibilityLog = [(1, "joined")]


def test_one_setting_all_along() -> None:
    assert readable(SHARED, 7, 20).ranges == ((1, 20),)
    assert readable(JOINED, 7, 20).ranges == ((7, 20),)
    assert readable(JOINED, 1, 20).ranges == ((1, 20),)  # a founding member


def test_a_switch_to_shared_opens_the_messages_from_then_on_only() -> None:
    log: VisibilityLog = [(1, "joined"), (5, "shared")]
    assert readable(log, 9, 12).ranges == ((5, 12),)
    assert readable(log, 3, 12).ranges == ((3, 12),)  # joined before the switch: from their join


def test_a_switch_to_joined_keeps_what_was_shared() -> None:
    log: VisibilityLog = [(1, "shared"), (5, "joined")]
    assert readable(log, 9, 12).ranges == ((1, 4), (9, 12))
    log = [(1, "joined"), (3, "shared"), (6, "joined"), (8, "shared"), (10, "joined")]
    assert readable(log, 20, 25).ranges == ((3, 5), (8, 9), (20, 25))
    assert readable(log, 9, 25).ranges == ((3, 5), (8, 25))  # adjacent ranges merge


def test_a_former_member_reads_nothing_after_the_removal() -> None:
    log: VisibilityLog = [(1, "shared"), (5, "joined")]
    assert readable(log, 9, 9).ranges == ((1, 4), (9, 9))
    assert readable(log, 9, 3).ranges == ((1, 3),)  # (not a real membership, but the bound holds)
    assert readable(JOINED, 9, 8).ranges == ()


def test_settings_after_the_join_change_nothing_for_that_member() -> None:
    assert readable([(1, "joined"), (12, "shared")], 9, 20).ranges == ((9, 20),)
    assert readable([(1, "shared"), (12, "joined")], 9, 20).ranges == ((1, 20),)


def test_before_the_log_starts_nothing_is_shared() -> None:
    assert readable([], 4, 6).ranges == ((4, 6),)
    assert visibility_at([], 3) == "joined"
    assert visibility_at([(1, "joined"), (5, "shared")], 4) == "joined"
    assert visibility_at([(1, "joined"), (5, "shared")], 5) == "shared"


def test_window_membership_lowest_and_paging() -> None:
    w = Window(((3, 5), (8, 9), (20, 25)))
    assert [s for s in range(27) if s in w] == [3, 4, 5, 8, 9, *range(20, 26)]
    assert "4" not in w and None not in w
    assert w.lowest == 3 and Window(()).lowest is None
    assert w.below(21).ranges == ((3, 5), (8, 9), (20, 20))
    assert w.below(9).ranges == ((3, 5), (8, 8))
    assert w.below(3).ranges == ()


def test_an_edit_of_a_message_the_member_may_not_read_loses_its_body() -> None:
    def edit(target: int) -> Message:
        return Message(room=1, seq=30, ts=0, kind="system",
                       event={"type": "message_edited", "target": target, "by": 2, "body": "new"})
    window = readable([(1, "joined"), (5, "shared"), (8, "joined")], 20, 30)
    assert redacted(edit(6), window).event == edit(6).event
    assert redacted(edit(21), window).event == edit(21).event
    assert redacted(edit(4), window).event == {"type": "message_edited", "target": 4, "by": 2}
    assert redacted(edit(9), window).event == {"type": "message_edited", "target": 9, "by": 2}
