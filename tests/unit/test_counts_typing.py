"""A user's unread and @mention counts (actors/counts.py) and who is typing in a room (actors/typing.py)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from chatd.actors.counts import CAP, RoomCounts
from chatd.actors.typing import TypingState
from chatd.protocol.frames import Counts, Message

ME, ANN = 1, 2


@dataclass
class View:
    read_seq: int = 0
    unread: int = 0
    mentions: int = 0
    muted: bool = False


def text(seq: int, sender: int = ANN, body: str | None = "hi", **more: Any) -> Message:
    return Message(room=5, seq=seq, ts=0, kind="text", sender=sender, body=body, **more)


def counts(username: str = "bob") -> RoomCounts:
    c = RoomCounts(ME)
    c.username = username
    return c


def test_unread_counts_others_messages_after_my_read_cursor() -> None:
    c, view = counts(), View(read_seq=3)
    c.delivered(5, view, [text(2), text(4), text(5, sender=ME), text(6, deleted=True, body=None), text(7)])
    assert (view.unread, view.mentions) == (2, 0)  # 4 and 7: not read, not mine, not deleted
    assert c.frames({5: view}) == [Counts(room=5, unread=2, mentions=0, muted=False)]
    assert c.frames({5: view}) == []  # sent once per change


def test_mentions_of_my_name_count_too() -> None:
    c, view = counts("bob"), View()
    c.delivered(5, view, [text(1, body="hey @Bob."), text(2, body="mail ann@bob.org"), text(3, body="@bobby")])
    assert (view.unread, view.mentions) == (3, 1)


def test_counts_stop_at_the_cap() -> None:
    c, view = counts(), View(unread=CAP - 1)
    c.delivered(5, view, [text(1), text(2)])
    assert view.unread == CAP


def test_a_read_or_a_delete_asks_for_an_exact_recount() -> None:
    c, view = counts(), View(read_seq=4, unread=3)
    c.read(5, view, 2)  # behind the cursor: nothing moves
    assert view.read_seq == 4 and c.recount == {}
    c.read(5, view, 6)
    assert view.read_seq == 6 and c.recount == {5: 6}
    c.recount.clear()
    deleted = Message(room=5, seq=8, ts=0, kind="system", event={"type": "message_deleted", "seq": 7})
    c.delivered(5, view, [deleted])
    assert c.recount == {5: 6}  # the deleted one may have been unread
    c.recounted(5, view, 1, 0)
    assert c.frames({5: view}) == [Counts(room=5, unread=1, mentions=0, muted=False)]
    c.recounted(5, view, 1, 0)
    assert c.frames({5: view}) == []  # the same figures are no news


def test_muting_is_news_once_and_rooms_no_longer_known_are_left_out() -> None:
    c, view = counts(), View()
    c.muted(5, view, True)
    c.muted(5, view, True)
    c.muted(6, View(), True)
    assert c.frames({5: view}) == [Counts(room=5, unread=0, mentions=0, muted=True)]


def test_typing_is_news_at_its_start_and_its_stop_only() -> None:
    typing = TypingState(ttl=6)
    assert typing.start(ANN, now=0)
    assert not typing.start(ANN, now=4)  # still typing: the expiry moves to 10
    assert typing.next_expiry() == 10
    assert typing.stop(ANN) and not typing.stop(ANN)
    assert typing.next_expiry() == math.inf


def test_typing_expires_by_itself() -> None:
    typing = TypingState(ttl=6)
    typing.start(ANN, now=0)
    typing.start(ME, now=3)
    assert typing.expire(5) == []
    assert typing.expire(6) == [ANN]
    assert typing.next_expiry() == 9 and typing.expire(100) == [ME]
    assert typing.start(ANN, now=100)  # typing again after expiry is news again
