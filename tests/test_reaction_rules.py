"""Pure: what counts as a reaction, the limits, and how the aggregate changes (protocol/reactions.py), and the
seq planner's decisions for reactions and replies (persistence/seqplan.py)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chatd.persistence.records import AppendItem, NewText, ReactionChange
from chatd.persistence.seqplan import Lookups, plan_room
from chatd.protocol.errors import Refusal
from chatd.protocol.reactions import MAX_KINDS, apply, emoji_problem, holds, limit_problem


@pytest.mark.parametrize("emoji", ["👍", "❤️", "👨‍👩‍👧‍👦", "🇫🇷", "1️⃣", "#️⃣", "👍🏽", "🏴󠁧󠁢󠁥󠁮󠁧󠁿", "™", "❤️‍🔥", "🧑🏽‍💻",
                                   "👩🏻‍❤️‍💋‍👨🏼"])
def test_emoji_are_accepted(emoji: str) -> None:
    assert emoji_problem(emoji) is None


@pytest.mark.parametrize(("text", "why"), [
    ("ok", "LATIN SMALL LETTER O"), ("👍 ", "SPACE"), ("1", "DIGIT ONE"), ("\x00", "U+0000"),
    ("!!", "must be one emoji"), ("", "1 to 32"), ("👍" * 33, "1 to 32"),
    ("\u202e👍", "RIGHT-TO-LEFT OVERRIDE"),
    # what looks like one emoji, or garbles the text around it, is refused (review of issue 17)
    ("😀" + "\u030d" * 31, "must be one emoji"), ("\u2800", "must be one emoji"), ("👍\u034f", "must be one emoji"),
    ("👍" + "\ufe0f" * 5, "must be one emoji"), ("👍\U000e0041\U000e0042", "must be one emoji"),
    ("9999999\u20e3", "DIGIT NINE"), ("😀😀😀", "must be one emoji"), ("🇫", "must be one emoji"),
])
def test_text_is_refused_with_the_reason(text: str, why: str) -> None:
    problem = emoji_problem(text)
    assert problem is not None and why in problem


def test_apply_keeps_first_use_order_and_drops_empty_entries() -> None:
    r = apply(None, 1, "👍", add=True)
    r = apply(r, 2, "🎉", add=True)
    r = apply(r, 2, "👍", add=True)
    assert r == [{"emoji": "👍", "users": [1, 2]}, {"emoji": "🎉", "users": [2]}]
    r = apply(r, 2, "🎉", add=False)
    assert r == [{"emoji": "👍", "users": [1, 2]}]
    assert apply(apply(r, 1, "👍", add=False), 2, "👍", add=False) is None
    assert holds(r, 1, "👍") and not holds(r, 3, "👍")


def test_the_limits_name_themselves() -> None:
    full = [{"emoji": chr(0x1F600 + i), "users": [i + 10]} for i in range(MAX_KINDS)]
    assert "at most 20 different reactions" in (limit_problem(full, 1, "🆕") or "")
    assert limit_problem(full, 1, chr(0x1F600)) is None  # an emoji already there may still be added


@given(st.lists(st.tuples(st.integers(1, 3), st.sampled_from(["👍", "🎉", "❤️"]), st.booleans()), max_size=30),
       st.integers(0, 30))
def test_replaying_events_onto_a_newer_copy_ends_where_it_should(events: list[tuple[int, str, bool]], cut: int) -> None:
    """A client that got the message from history (all events applied) and then replays the events from
    any earlier point, as a backlog does, holds the same aggregate (up to entry order)."""
    latest = None
    for user, emoji, add in events:
        latest = apply(latest, user, emoji, add)
    replayed = latest
    for user, emoji, add in events[min(cut, len(events)):]:
        replayed = apply(replayed, user, emoji, add)

    def as_sets(r: object) -> dict[str, set[int]]:
        return {e["emoji"]: set(e["users"]) for e in r or ()}  # type: ignore[attr-defined]
    assert as_sets(replayed) == as_sets(latest)


def target(kind: str = "text", deleted: bool = False) -> dict[str, object]:
    return {"sender_id": 1, "kind": kind, "deleted": deleted, "reactions": None}


def test_the_planner_stores_each_change_once_and_tracks_the_aggregate() -> None:
    look = Lookups(targets={5: target(), 1: target("system")})
    items: list[AppendItem] = [
        ReactionChange(2, 5, "👍", True), ReactionChange(2, 5, "👍", True), ReactionChange(3, 5, "👍", True),
        ReactionChange(3, 5, "🎉", False), ReactionChange(2, 1, "👍", True),
        NewText(2, "c1", "re", reply_to=5), NewText(2, "c2", "re", reply_to=1), NewText(2, "c3", "re", reply_to=9)]
    plan = plan_room(7, 10, items, look)
    assert plan.outcomes[:4] == [11, None, 12, None]  # the second add and the remove of nothing store nothing
    assert isinstance(plan.outcomes[4], Refusal) and plan.outcomes[4].code == "bad_request"
    assert plan.outcomes[5] == 13
    assert [o.code for o in plan.outcomes[6:] if isinstance(o, Refusal)] == ["bad_request", "not_found"]
    assert plan.reactions == {11: [{"emoji": "👍", "users": [2]}], 12: [{"emoji": "👍", "users": [2, 3]}]}
    assert plan.last_seq == 13
