"""How a refused frame is told (pure, no server): the protocol's own wording, naming the field, whatever
msgspec's ValidationError said (docs/protocol.md 1 and 3.7)."""

from __future__ import annotations

import math
from typing import Any

import msgpack
import pytest

from chatd.protocol import Refusal, decode, decode_bundle, encode
from chatd.protocol import frames as f
from chatd.protocol.codec import from_builtins, to_builtins
from chatd.protocol.schema import SchemaError
from chatd.protocol.session import CLIENT_FRAMES

UUID = "6f1c2e0a-9b1d-4a7e-8f00-3c2d1e4b5a69"


def refusal(body: dict[Any, Any]) -> str:
    result = decode(msgpack.packb(body))
    assert isinstance(result, Refusal), result
    return result.message


@pytest.mark.parametrize(("body", "message"), [
    ({"t": "history", "id": 5, "room": 42, "limit": 500}, "history: field 'limit' must be between 1 and 100"),
    ({"t": "send", "id": 5, "room": 42, "body": "hi"}, "send: missing field 'client_id'"),
    ({"t": "send", "id": 5, "room": 42, "client_id": "nope", "body": "hi"},
     "send: field 'client_id' has an invalid format"),
    ({"t": "send", "id": 5, "room": 42, "client_id": UUID + "\n", "body": "hi"},
     "send: field 'client_id' has an invalid format"),  # the whole string matches, not up to a last newline
    ({"t": "send", "id": 5, "room": "one", "client_id": UUID, "body": "x"}, "send: field 'room' must be an integer"),
    ({"t": "send", "id": 5, "room": 42, "client_id": UUID, "body": "a\x00b"},
     "send: field 'body' must not contain NUL characters"),
    ({"t": "send", "id": 5, "room": 42, "client_id": UUID, "body": None},
     "send: field 'body' must not be empty in a text message"),  # nil is absent: the default "", then the check
    ({"t": "send", "id": 5, "room": 42, "client_id": UUID, "kind": "file", "media": {"id": "short"}},
     "send: field 'media.id' has an invalid format"),
    ({"t": "send", "id": 5, "room": 42, "client_id": UUID, "kind": "file", "media": {}},
     "send: missing field 'media.id'"),
    ({"t": "get_profile", "id": 5, "user": 2.5}, "get_profile: field 'user' must be integer or string"),
    ({"t": "update_profile", "id": 5, "about": 7}, "update_profile: field 'about' must be string"),
    ({"t": "update_profile", "id": 5, "visibility": {"about": "friends"}},
     "update_profile: field 'visibility['about']' must be one of 'everyone', 'contacts', 'nobody'"),
    ({"t": "update_profile", "id": 5, "visibility": {"email": "nobody"}},
     "update_profile: field 'visibility key' must be one of 'display_name', 'about', 'avatar', 'last_seen'"),
    ({"t": "hello", "id": 5, "version": 2, "token": "x", "cursors": {7: -1}},
     "hello: field 'cursors[7]' must be between 0 and 9223372036854775807"),
    ({"t": "add_members", "id": 5, "room": 1, "users": []}, "add_members: field 'users' needs at least 1 items"),
    ({"t": "error", "code": "x", "message": "y", "retry_after": math.nan},
     "error: field 'retry_after' must be between 0 and inf"),
    ({"t": "teleport", "id": 5}, "unknown frame type 'teleport'"),
    ({"id": 5}, "frame has no string field 't' (the frame type)"),
])
def test_a_refusal_names_the_field_and_the_problem(body: dict[Any, Any], message: str) -> None:
    assert refusal(body) == message


def test_nil_and_keys_that_are_not_strings_are_left_out_as_before() -> None:
    frame = decode(msgpack.packb({"t": "history", "id": 5, "room": 42, "limit": None, 7: "x", "extra": 1}))
    assert frame == f.History(id=5, room=42)


def test_the_id_is_echoed_and_server_frames_are_refused_unread() -> None:
    welcome = msgpack.packb({"t": "welcome", "id": 9, "version": 1, "user_id": 1, "username": "x",
                             "max_frame_bytes": 1})
    good = encode(f.Ping(id=10))
    bad = msgpack.packb({"t": "history", "id": 11})
    results = decode_bundle(msgpack.packb([msgpack.unpackb(welcome), msgpack.unpackb(good), msgpack.unpackb(bad),
                                           3]), accept=CLIENT_FRAMES)
    assert results == [
        Refusal(results[0].code, "'welcome' is sent by the server, not a client", 9),  # type: ignore[union-attr]
        f.Ping(id=10),
        Refusal(results[0].code, "history: missing field 'room'", 11),  # type: ignore[union-attr]
        Refusal(results[0].code, "bundle item 3 is not a msgpack map"),  # type: ignore[union-attr]
    ]


def test_defaults_other_than_none_are_always_on_the_wire() -> None:
    wire = msgpack.unpackb(encode(f.Msgs(messages=[f.Message(room=1, seq=2, ts=3)])))
    assert wire == {"t": "msgs", "messages": [{"room": 1, "seq": 2, "ts": 3, "kind": "text", "deleted": False}],
                    "backlog": False}


def test_plain_values_for_json_and_redis() -> None:
    """The HTTP side and the bus carry Records as plain maps: the same fields, no `t`, validated back."""
    reply = f.AuthOk(id=0, user_id=1, username="ann", access_token="a", refresh_token="r", expires_in=60)
    assert to_builtins(reply) == {"id": 0, "user_id": 1, "username": "ann", "access_token": "a",
                                  "refresh_token": "r", "expires_in": 60}
    assert from_builtins(f.AuthOk, to_builtins(reply)) == reply
    with pytest.raises(SchemaError, match="field 'username' has an invalid format"):
        from_builtins(f.Signup, {"id": 0, "username": "a b", "email": "a@b.c", "password": "x"})
