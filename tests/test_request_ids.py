"""Every `error` reply echoes the id of the request it refuses (issue 16, item 12).

A server frame type sent by a client (`msgs`, `status`, `welcome`, ...) is refused with `bad_request`. The
refusal used to lose the request's `id` when the frame type has no `id` field (`msgs`, `status`, `counts`,
...): the frame was built first, and building it dropped the unknown key. Now the decoder refuses those
types unread, with the id the map carries, before and after hello, alone or in a bundle.
"""

from __future__ import annotations

from dataclasses import replace

import msgpack
import trio

from chatd.clients.ws import ChatClient
from chatd.node import Node
from chatd.protocol import FRAME_TYPES, bundle, encode
from chatd.protocol import frames as f
from chatd.protocol.session import CLIENT_FRAMES
from chatd.runtime.config import Config
from tests.conftest import People
from tests.faults.test_fuzz import Fuzzer, Pools

SERVER_KINDS = sorted(kind for kind, cls in FRAME_TYPES.items() if cls not in CLIENT_FRAMES)
FIRST_ID = 9_000_000  # far from ChatClient's own ids
MAX_BYTES = 65536  # the server's max_frame_bytes in these tests (the default)


def as_sent_by_a_client(kind: str, req_id: int) -> bytes:
    """A valid frame of server type `kind` (every field in bounds) with `id` set, as a client could send it,
    small enough to be read (a frame over `max_frame_bytes` is refused unread: no id)."""
    fuzzer = Fuzzer(req_id, Pools([1], 1, [1]), 1 << 20, {})
    while True:
        body = msgpack.unpackb(encode(fuzzer.valid_frame(kind)), strict_map_key=False)
        body["id"] = req_id
        data: bytes = msgpack.packb(body, use_bin_type=True)
        if len(data) < MAX_BYTES // 64:  # (all of them in one bundle, too)
            return data


async def refusals(client: ChatClient, count: int) -> dict[int | None, f.Error]:
    got = [await client.next_of(f.Error) for _ in range(count)]
    return {e.id: e for e in got}


async def test_every_server_frame_sent_by_a_client_is_refused_with_its_id(nursery: trio.Nursery,
                                                                         config: Config) -> None:
    # many frames before hello: over the default CHAT_PREHELLO_FRAMES, which this test is not about
    people = People(nursery, await nursery.start(Node(replace(config, prehello_frames=1000)).run))
    assert {"msgs", "status", "counts", "typing_changed", "welcome", "sent"} <= set(SERVER_KINDS)
    ids = {kind: FIRST_ID + i for i, kind in enumerate(SERVER_KINDS)}
    frames = {kind: as_sent_by_a_client(kind, ids[kind]) for kind in SERVER_KINDS}
    person, after_hello = await people.new("ann")
    before_hello = await people.raw()
    for client in (before_hello, after_hello):
        for kind in SERVER_KINDS:  # one websocket message each
            await client.ws.send_message(frames[kind])
        got = await refusals(client, len(SERVER_KINDS))
        assert sorted(got, key=str) == sorted(ids.values()), "an error lost its request id"
        for kind, req_id in ids.items():
            assert (got[req_id].code, got[req_id].message) == ("bad_request",
                                                               f"'{kind}' is sent by the server, not a client")
        await client.ws.send_message(bundle(list(frames.values())))  # all in one bundle
        got = await refusals(client, len(SERVER_KINDS))
        assert sorted(got, key=str) == sorted(ids.values())
    # the connections work on
    welcome = await before_hello.hello(person.access_token)
    assert welcome.user_id == person.user_id
    assert isinstance(await after_hello.request(f.ListRooms), f.Rooms)
