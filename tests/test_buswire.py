"""The bus between chatd processes, without I/O: its wire form, and what a room makes of remote news."""

from __future__ import annotations

import msgpack
import pytest

from chatd.actors.buswire import BusEvent, BusWireError, ToRoom, ToUsers, decode, encode, sender
from chatd.actors.items import (
    CloseDevices,
    CursorMoved,
    MembershipChanged,
    MuteChanged,
    ReadMoved,
    RemoteCommitted,
    RemoteTyping,
    SettingsChanged,
    ToDevices,
)
from chatd.actors.remote import remote_news
from chatd.protocol import people as p
from chatd.protocol.errors import CloseCode
from chatd.protocol.frames import Media, Message


def text(seq: int, room: int = 7) -> Message:
    return Message(room=room, seq=seq, ts=1_700_000_000_000 + seq, sender=3, client_id=f"c{seq}", body=f"m{seq}")


def system(seq: int, event: dict[str, object], room: int = 7) -> Message:
    return Message(room=room, seq=seq, ts=1_700_000_000_000, kind="system", event=event)


EVERY_EVENT: list[BusEvent] = [
    ToRoom(7, RemoteCommitted((text(1), system(2, {"type": "member_added", "user": 9, "by": 3}),
                               Message(room=7, seq=3, ts=5, kind="image", sender=3, body="look",
                                       media=Media(id="a" * 32, file_name="x.png", mime="image/png", size=10,
                                                   width=2, height=3))))),
    ToRoom(7, RemoteTyping(3, True)),
    ToRoom(7, CursorMoved(3, 10, None, False)),
    ToRoom(7, CursorMoved(3, None, 4, True)),
    ToUsers((3, 4), MembershipChanged(7)),
    ToUsers((3,), MuteChanged(7, True)),
    ToUsers((3,), SettingsChanged(False)),
    ToUsers((3,), ReadMoved(7, 12)),
    ToUsers((3,), CloseDevices(CloseCode.DISABLED, "account disabled")),
    ToUsers((3,), CloseDevices(CloseCode.SIGNED_OUT, "logged out",
                               frozenset({"0b6f3a4e-1c2d-4e5f-8a9b-0c1d2e3f4a5b"}))),
    ToUsers((5, 6), ToDevices(p.PresenceChanged(user=3, online=False, last_seen=123))),
]


def test_every_event_survives_the_wire() -> None:
    node, events = decode(encode("host-1/abcd", EVERY_EVENT))
    assert node == "host-1/abcd"
    assert events == EVERY_EVENT


def test_the_sender_is_read_without_the_events() -> None:
    assert sender(encode("host-1/abcd", EVERY_EVENT)) == "host-1/abcd"
    for garbage in (b"", b"\xc1", msgpack.packb("just a string"), msgpack.packb([1, []])):
        assert sender(garbage) is None


@pytest.mark.parametrize("data", [
    b"",
    b"\xc1",
    msgpack.packb("just a string"),
    msgpack.packb(["n", [["x", 1]]]),
    msgpack.packb(["n", [["u", [1], "what", 1]]]),
    msgpack.packb(["n", [["r", 7, 3, "ten", None, False]]]),
    msgpack.packb(["n", [["c", 7, [{"room": 7}]]]]),
    msgpack.packb(["n", [["u", [1], "push", b"\x00\x01"]]]),
    msgpack.packb(["n", [["t", 7]]]),
])
def test_garbage_on_the_bus_is_refused_with_a_reason(data: bytes) -> None:
    with pytest.raises(BusWireError, match=r"\S"):
        decode(data)


def test_news_right_after_the_rooms_view_is_taken_in_order() -> None:
    news = remote_news(4, [text(6), text(5), text(3), text(5)])
    assert [m.seq for m in news.messages] == [3, 5, 6]  # sorted, each once; 3 is old news, fanned out as is
    assert not news.stale and news.last_seq == 6 and news.changed == set()


def test_a_gap_or_a_system_message_past_the_view_makes_it_stale() -> None:
    assert remote_news(4, [text(6)]).stale  # seq 5 may have been a membership change
    added = remote_news(4, [text(5), system(6, {"type": "member_added", "user": 9, "by": 3})])
    assert added.stale and added.changed == {9}
    created = remote_news(0, [system(1, {"type": "created", "members": [3, 4], "by": 3})])
    assert created.stale and created.changed == {3, 4}


def test_system_messages_the_view_already_holds_are_not_stale() -> None:
    news = remote_news(8, [system(6, {"type": "member_removed", "user": 4, "by": 3}), text(9)])
    assert not news.stale and news.last_seq == 9 and news.changed == {4}


def test_an_edit_delete_or_reaction_elsewhere_changes_nothing_the_view_keeps() -> None:
    """Another process's reaction must not make every process reload the room (and re-report receipts)."""
    news = remote_news(4, [system(5, {"type": "reaction_added", "target": 2, "by": 3, "emoji": "👍"}),
                           system(6, {"type": "message_edited", "target": 2, "by": 3, "body": "x"}),
                           system(7, {"type": "message_deleted", "target": 1, "by": 3}), text(8)])
    assert not news.stale and news.last_seq == 8 and news.changed == set()
    assert remote_news(4, [system(6, {"type": "reaction_removed", "target": 2, "by": 3, "emoji": "👍"})]).stale  # gap
