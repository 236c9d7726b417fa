"""`ping`: a client's heartbeat, answered with `ok` through the real server; it needs a hello first."""

from __future__ import annotations

import msgpack
import pytest

from chatd.clients.ws import ChatError
from chatd.protocol import frames as f
from tests.conftest import People


async def test_ping_is_answered_with_ok(people: People) -> None:
    _, client = await people.new("ann")
    replies = [await client.call(f.Ping) for _ in range(3)]
    assert all(isinstance(r, f.Ok) for r in replies)
    assert len({r.id for r in replies}) == 3  # each echoes its own request id


async def test_ping_before_hello_is_refused(people: People) -> None:
    client = await people.raw()
    with pytest.raises(ChatError) as refused:
        await client.call(f.Ping)
    assert refused.value.error.code == "unauthorized"
    assert "'ping' needs a hello" in refused.value.error.message


async def test_ping_with_a_bad_id_names_the_field(people: People) -> None:
    _, client = await people.new("bob")
    await client.ws.send_message(msgpack.packb({"t": "ping", "id": "seven"}))
    error = await client.next_of(f.Error)
    assert error.code == "bad_request" and "'id'" in error.message
    assert isinstance(await client.call(f.Ping), f.Ok)  # the connection goes on
