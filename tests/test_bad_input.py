"""Bad input from careless or hostile clients: a clear error frame, and nothing else breaks.

After every bad frame the same connection still works, another user's connection is untouched, and no
actor was restarted (the supervisors recorded no exit).
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from typing import Any

import msgpack
import pytest
import trio
from trio_websocket import open_websocket_url

from chatd.node import Node
from chatd.protocol import frames as f
from chatd.runtime.config import Config
from tests.conftest import People


def crashes(node: Node) -> list[str]:
    assert node.services is not None
    sups = [node.root, node.services.rooms.supervisor, node.services.users.supervisor]
    return [f"{e.supervisor}/{e.child}: {e.reason}" for s in sups for e in s.events
            if e.kind in ("exited", "restarted", "escalated") and e.reason != "normal"]


async def raw_error(client: object, payload: bytes | str) -> f.Error:
    await client.ws.send_message(payload)  # type: ignore[attr-defined]
    return await client.next_of(f.Error)  # type: ignore[attr-defined, no-any-return]


BAD_FRAMES: list[tuple[str, bytes | str, str, str]] = [
    ("malformed msgpack", b"\xc1\xff\x00", "bad_request", "malformed msgpack"),
    ("truncated msgpack", msgpack.packb({"t": "send", "id": 1})[:-3], "bad_request", "malformed msgpack"),
    ("not a map", msgpack.packb(7), "bad_request", "must be a msgpack map"),
    ("bundle of non-maps", msgpack.packb([1, 2, 3]), "bad_request", "bundle item 0 is not a msgpack map"),
    ("empty bundle", msgpack.packb([]), "bad_request", "a bundle holds 1 to 64 frames"),
    ("oversized bundle", msgpack.packb([{"t": "ack", "room": 1, "seq": 1}] * 65), "bad_request",
     "a bundle holds 1 to 64 frames"),
    ("no type", msgpack.packb({"id": 4}), "bad_request", "'t'"),
    ("unknown type", msgpack.packb({"t": "teleport", "id": 5}), "bad_request", "unknown frame type 'teleport'"),
    ("wrong field type", msgpack.packb({"t": "send", "id": 6, "room": "one", "client_id": str(uuid.uuid4()),
                                        "body": "x"}), "bad_request", "field 'room' must be an integer"),
    ("missing field", msgpack.packb({"t": "history", "id": 7}), "bad_request", "missing field 'room'"),
    ("bad client id", msgpack.packb({"t": "send", "id": 8, "room": 1, "client_id": "not-a-uuid", "body": "x"}),
     "bad_request", "client_id"),
    ("server frame", msgpack.packb({"t": "welcome", "id": 9, "version": 1, "user_id": 1, "username": "x",
                                    "max_frame_bytes": 1}), "bad_request", "sent by the server"),
    ("text frame", '{"t": "send"}', "bad_request", "binary"),
    ("empty body", msgpack.packb({"t": "send", "id": 10, "room": 1, "client_id": str(uuid.uuid4()), "body": ""}),
     "bad_request", "body"),
    ("negative seq", msgpack.packb({"t": "ack", "room": 1, "seq": -5}), "bad_request", "seq"),
]


@pytest.mark.parametrize(("label", "payload", "code", "words"), BAD_FRAMES, ids=[b[0] for b in BAD_FRAMES])
async def test_bad_frame_gets_error_and_connection_survives(people: People, node: Node, label: str,
                                                            payload: bytes | str, code: str, words: str) -> None:
    ann, ann_c = await people.new("ann")
    bob, bob_c = await people.new("bob")
    rid = (await ann_c.call(f.OpenDirect, user=bob.user_id)).room.room
    await bob_c.collect(rid, 1)

    error = await raw_error(ann_c, payload)
    assert error.code == code and words in error.message, label
    # the same connection keeps working, and so does everyone else's
    sent = await ann_c.send_text(rid, "still here")
    (got,) = await bob_c.collect(rid, 1)
    assert got.seq == sent.seq and got.body == "still here"
    assert crashes(node) == []


async def test_error_echoes_request_id(people: People) -> None:
    _, c = await people.new("ann")
    error = await c.request(f.History, room=999_999_999)
    assert isinstance(error, f.Error) and error.code == "not_found" and error.id is not None


async def test_oversized_frame_gets_too_large_and_huge_frame_closes_1009(people: People, node: Node) -> None:
    _, c = await people.new("ann")
    limit = node.config.max_frame_bytes
    error = await raw_error(c, msgpack.packb({"t": "send", "id": 1, "body": "x" * limit}))
    assert error.code == "too_large" and str(limit) in error.message
    assert (await c.call(f.ListRooms)).rooms == []  # connection survived
    await c.ws.send_message(b"\x00" * (limit * 4 + 1))
    with trio.fail_after(5):
        await c.closed.wait()
    assert c.close_code == 1009
    assert crashes(node) == []


async def test_operations_before_hello_are_refused(people: People) -> None:
    c = await people.raw()
    cases: list[tuple[type[f.Frame], dict[str, Any]]] = [(f.ListRooms, {}), (f.History, {"room": 1}),
                         (f.Send, {"room": 1, "client_id": str(uuid.uuid4()), "body": "hi"})]
    for kind, fields in cases:
        error = await c.request(kind, **fields)
        assert isinstance(error, f.Error) and error.code == "unauthorized" and "hello" in error.message


async def test_hello_twice_and_wrong_version(people: People) -> None:
    ann, c = await people.new("ann")
    again = await c.request(f.Hello, version=1, token=ann.access_token)
    assert isinstance(again, f.Error) and again.code == "conflict"
    other = await people.raw()
    wrong = await other.request(f.Hello, version=99, token=ann.access_token)
    assert isinstance(wrong, f.Error) and wrong.code == "bad_request" and "version" in wrong.message


async def test_sending_to_a_room_you_are_not_in(people: People, node: Node) -> None:
    ann, ann_c = await people.new("ann")
    bob, _ = await people.new("bob")
    _, eve_c = await people.new("eve")
    rid = (await ann_c.call(f.OpenDirect, user=bob.user_id)).room.room
    error = await eve_c.request(f.Send, room=rid, client_id=str(uuid.uuid4()), body="hi")
    assert isinstance(error, f.Error) and error.code == "forbidden"
    missing = await eve_c.request(f.Send, room=rid + 10_000, client_id=str(uuid.uuid4()), body="hi")
    assert isinstance(missing, f.Error) and missing.code == "not_found"
    assert node.services is not None
    assert node.services.rooms.lookup(rid + 10_000) is None  # no actor lingers for a room that is not there
    assert (await eve_c.request(f.AddMembers, room=rid, users=[ann.user_id])).code == "forbidden"  # type: ignore[attr-defined]
    unknown = await ann_c.request(f.CreateGroup, name="g", members=["nobody_at_all_here"])
    assert isinstance(unknown, f.Error) and unknown.code == "not_found" and "nobody_at_all_here" in unknown.message
    page = await ann_c.call(f.History, room=rid)
    assert [m.kind for m in page.messages] == ["system"]  # nothing was stored
    assert crashes(node) == []


async def test_frame_rate_limit(nursery: trio.Nursery, config: Config) -> None:
    """A tiny bucket (burst 5, 1 frame/s) so the test cannot depend on how fast the client writes."""
    node = await nursery.start(Node(replace(config, rate_per_second=1.0, rate_burst=5)).run)
    people = People(nursery, node)
    ann = await people.signup("ann")
    c = await people.connect(ann)  # hello took 1 of the 5 tokens
    for _ in range(10):
        await c.send_frame(f.Ack(room=1, seq=1))
    error = await c.next_of(f.Error)
    assert error.code == "rate_limited" and error.retry_after is not None and error.retry_after > 0
    await trio.sleep(1.5)  # the bucket refills: the connection is still usable
    assert (await c.call(f.ListRooms)).rooms == []


async def test_origin_not_on_allow_list_is_refused(node: Node) -> None:
    from trio_websocket import HandshakeError

    with pytest.raises(HandshakeError):
        async with open_websocket_url(node.url, extra_headers=[(b"Origin", b"https://evil.example")]):
            pass
