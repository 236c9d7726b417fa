"""What chatd processes tell each other over Redis (actors/bus.py), and its wire form. Pure, no I/O.

A bus message is one msgpack array `[node, [event, ...]]`: the publishing node's name (a node ignores its
own messages) and the events of one publish batch, each a short tagged array:

    ["c", room, [Message, ...]]                  messages stored in `room`
    ["t", room, user, active]                    a member's typing frame
    ["r", room, user, delivered|nil, read|nil, quiet]   a member's stored cursors moved
    ["u", [user, ...], tag, ...]                 something for those users' actors (tags: see _parse; "close"
                                                 carries code, reason and the device ids to close, nil: all;
                                                 "inbox" the device ids with new to-device messages)

Messages travel as the protocol's Message maps, frames in their protocol encoding.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgpack

from chatd.actors.items import (
    CloseDevices,
    CursorMoved,
    InboxArrived,
    MembershipChanged,
    MuteChanged,
    ReadMoved,
    RemoteCommitted,
    RemoteTyping,
    SettingsChanged,
    ToDevices,
)
from chatd.protocol.codec import decode as decode_frame
from chatd.protocol.codec import encode as encode_frame
from chatd.protocol.codec import from_builtins, to_builtins
from chatd.protocol.errors import CloseCode, Refusal
from chatd.protocol.frames import Message

MAX_FRAME = 1 << 20


@dataclass(frozen=True, slots=True)
class ToRoom:
    room: int
    item: RemoteCommitted | RemoteTyping | CursorMoved


@dataclass(frozen=True, slots=True)
class ToUsers:
    users: tuple[int, ...]
    item: MembershipChanged | MuteChanged | SettingsChanged | ReadMoved | ToDevices | CloseDevices | InboxArrived


BusEvent = ToRoom | ToUsers


class BusWireError(ValueError):
    pass


def encode(node: str, events: list[BusEvent]) -> bytes:
    return msgpack.packb([node, [_event(e) for e in events]])  # type: ignore[no-any-return]


def sender(data: bytes) -> str | None:
    """The publishing node's name alone, without decoding the events (a node skips its own messages)."""
    try:
        unpacker = msgpack.Unpacker()
        unpacker.feed(data)
        unpacker.read_array_header()
        node = unpacker.unpack()
    except Exception:  # the unpacker raises several types for broken input
        return None
    return node if isinstance(node, str) else None


def decode(data: bytes) -> tuple[str, list[BusEvent]]:
    try:
        node, events = msgpack.unpackb(data)
        return str(node), [_parse(e) for e in events]
    except BusWireError:
        raise
    except (ValueError, TypeError, KeyError, IndexError) as exc:
        raise BusWireError(f"bad bus message: {exc}") from exc


def _event(event: BusEvent) -> list[Any]:
    if isinstance(event, ToRoom):
        news = event.item
        if isinstance(news, RemoteCommitted):
            return ["c", event.room, [to_builtins(m) for m in news.messages]]
        if isinstance(news, RemoteTyping):
            return ["t", event.room, news.user, news.active]
        return ["r", event.room, news.user, news.delivered_seq, news.read_seq, news.quiet]
    users = list(event.users)
    item = event.item
    if isinstance(item, MembershipChanged):
        return ["u", users, "member", item.room]
    if isinstance(item, MuteChanged):
        return ["u", users, "mute", item.room, item.muted]
    if isinstance(item, SettingsChanged):
        return ["u", users, "settings", item.read_receipts]
    if isinstance(item, ReadMoved):
        return ["u", users, "read", item.room, item.seq]
    if isinstance(item, CloseDevices):
        return ["u", users, "close", item.code, item.reason,
                None if item.sessions is None else sorted(item.sessions)]
    if isinstance(item, InboxArrived):
        return ["u", users, "inbox", None if item.sessions is None else sorted(item.sessions)]
    return ["u", users, "push", encode_frame(item.frame)]  # ToDevices: the older tag, kept for mixed versions


def _parse(e: list[Any]) -> BusEvent:
    tag = e[0]
    if tag == "c":
        return ToRoom(int(e[1]), RemoteCommitted(tuple(from_builtins(Message, m) for m in e[2])))
    if tag == "t":
        return ToRoom(int(e[1]), RemoteTyping(int(e[2]), bool(e[3])))
    if tag == "r":
        return ToRoom(int(e[1]), CursorMoved(int(e[2]), _maybe_int(e[3]), _maybe_int(e[4]), bool(e[5])))
    if tag != "u":
        raise BusWireError(f"unknown bus event {tag!r}")
    users, kind, args = tuple(int(u) for u in e[1]), e[2], e[3:]
    item: MembershipChanged | MuteChanged | SettingsChanged | ReadMoved | ToDevices | CloseDevices | InboxArrived
    if kind == "member":
        item = MembershipChanged(int(args[0]))
    elif kind == "mute":
        item = MuteChanged(int(args[0]), bool(args[1]))
    elif kind == "settings":
        item = SettingsChanged(bool(args[0]))
    elif kind == "read":
        item = ReadMoved(int(args[0]), int(args[1]))
    elif kind == "close":
        sessions = args[2] if len(args) > 2 else None
        item = CloseDevices(CloseCode(int(args[0])), str(args[1]),
                            None if sessions is None else frozenset(map(str, sessions)))
    elif kind == "inbox":
        item = InboxArrived(None if args[0] is None else frozenset(map(str, args[0])))
    elif kind == "push":
        frame = decode_frame(args[0], MAX_FRAME)
        if isinstance(frame, Refusal):
            raise BusWireError(f"bad frame on the bus: {frame.message}")
        item = ToDevices(frame)
    else:
        raise BusWireError(f"unknown user event {kind!r}")
    return ToUsers(users, item)


def _maybe_int(value: Any) -> int | None:
    if value is None or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    raise BusWireError(f"a seq must be an integer or nil, not {value!r}")
