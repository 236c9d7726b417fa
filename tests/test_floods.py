"""Floods from a client that reads: refusals pace the client, they do not close it (docs/protocol.md 1,
"Floods are paced, not closed").

Close 4008 is for a client that does not read; one that pipelines hundreds of requests while reading all
the while gets `rate_limited` (or its replies) and keeps its connection. And a device that connects while
its user's previous session is being torn down is never dropped.
"""

from __future__ import annotations

import contextlib
import itertools
import uuid
from dataclasses import replace

import pytest
import trio
from trio_websocket import ConnectionClosed, open_websocket_url

from chatd.actors.device import Device
from chatd.actors.items import Attach, CloseDevices
from chatd.clients.ws import ChatClient
from chatd.node import Node
from chatd.protocol import bundle, encode
from chatd.protocol import frames as f
from chatd.protocol.errors import CloseCode
from chatd.runtime.config import Config
from tests.conftest import People, start_node
from tests.faults.load import wait_until


async def _drain(client: ChatClient, want: set[int], *, timeout: float = 30.0) -> dict[int, f.Frame]:
    """Read pushes until every id in `want` got its reply (the client reads all the while)."""
    replies: dict[int, f.Frame] = {}
    with trio.fail_after(timeout):
        while not want <= replies.keys():
            frame = await client.next_push()
            req_id = getattr(frame, "id", None)
            if req_id in want:
                replies[req_id] = frame
            elif isinstance(frame, f.Msgs):
                client.ack_soon(frame.messages[-1].room, frame.messages[-1].seq)
    return replies


@pytest.mark.parametrize("version", [1, 2])
async def test_pipelined_sends_from_a_reading_client_keep_the_connection(nursery: trio.Nursery, config: Config,
                                                                         version: int) -> None:
    """800 sends pipelined in bundles of 64, far more than a small outbox (32) holds, with a rate limit that
    lets them all through: a commit's worth of `sent` replies arrives at once, the reader pauses, and the
    client that reads (version 1: each reply a websocket message of its own) keeps its connection."""
    node = await nursery.start(Node(replace(config, outbox_frames=32, rate_per_second=100_000,
                                            rate_burst=100_000)).run)
    people = People(nursery, node)
    ann = await people.signup("ann")
    ann_c = await people.raw()
    await ann_c.call(f.Hello, version=version, token=ann.access_token)
    bob, _ = await people.new("bob")
    room = (await ann_c.call(f.OpenDirect, user=bob.user_id)).room.room
    ids = list(range(10_000, 10_800))
    for start in range(0, len(ids), 64):
        await ann_c.ws.send_message(bundle([
            encode(f.Send(id=i, room=room, client_id=str(uuid.uuid4()), body=f"flood {i}"))
            for i in ids[start:start + 64]]))
    replies = await _drain(ann_c, set(ids))
    assert all(isinstance(r, f.Sent) for r in replies.values())
    assert not ann_c.closed.is_set()
    assert (await ann_c.call(f.ListRooms)).rooms  # still usable


async def test_thousands_of_refused_frames_from_a_reading_client_keep_the_connection(people: People) -> None:
    _, c = await people.new("eve")
    ids = list(range(1, 2_001))
    for start in range(0, len(ids), 64):  # sends to a room that is not there: each one refused
        await c.ws.send_message(bundle([
            encode(f.Send(id=i, room=999_999_999, client_id=str(uuid.uuid4()), body="x"))
            for i in ids[start:start + 64]]))
    replies = await _drain(c, set(ids))
    assert all(isinstance(r, f.Error) for r in replies.values())
    assert {r.code for r in replies.values()} <= {"not_found", "rate_limited"}  # type: ignore[attr-defined]
    assert not c.closed.is_set()
    listed = await c.request(f.ListRooms)
    if isinstance(listed, f.Error) and listed.code == "rate_limited":  # the flood spent the budget: wait as told
        await trio.sleep(listed.retry_after or 1.0)
        listed = await c.request(f.ListRooms)
    assert isinstance(listed, f.Rooms) and listed.rooms == []


async def test_a_client_that_does_not_read_is_closed(nursery: trio.Nursery, config: Config) -> None:
    """The other side of the rule: a client that keeps sending requests and takes no replies stops being
    read, its replies stall on the socket, and the stall watchdog closes it (4008; 1006 when even the
    close frame cannot get through)."""
    node = await nursery.start(Node(replace(config, send_timeout=1.0, rate_per_second=100_000)).run)
    people = People(nursery, node)
    ann, ann_c = await people.new("ann")
    bob = await people.signup("bob")
    room = (await ann_c.call(f.OpenDirect, user=bob.user_id)).room.room
    for start in range(0, 100, 20):
        await ann_c.send_frames([f.Send(id=1000 + i, room=room, client_id=str(uuid.uuid4()), body="h" * 2_000)
                                 for i in range(start, start + 20)])
    assert all(isinstance(r, f.Sent) for r in (await _drain(ann_c, set(range(1000, 1100)))).values())
    async with open_websocket_url(node.url, message_queue_size=1) as ws:  # reads only the welcome
        await ws.send_message(encode(f.Hello(id=1, version=f.PROTOCOL_VERSION, token=ann.access_token)))
        await ws.get_message()

        async def flood() -> None:
            with contextlib.suppress(ConnectionClosed):
                for i in itertools.count(2):  # each reply is a page of 100 messages of 2 KB
                    await ws.send_message(encode(f.History(id=i, room=room, limit=100)))
        async with trio.open_nursery() as flooding:
            flooding.start_soon(flood)
            await trio.sleep(8)  # the socket fills, the watchdog closes it (1 s), the close frame waits 2 s
            with pytest.raises(ConnectionClosed) as closed, trio.fail_after(30):
                while True:  # now take what was sent before the close, then the close itself
                    await ws.get_message()
            flooding.cancel_scope.cancel()
        assert closed.value.reason is not None and closed.value.reason.code in (4008, 1006)
    assert (await ann_c.call(f.ListRooms)).rooms  # the same user's other device is untouched


async def test_a_device_attaching_while_its_user_actor_stops_is_served(node: Node, people: People) -> None:
    """A new device's hello is answered (`welcome`), then its Attach waits in the user actor's mailbox. If that
    actor stops meanwhile (here: it crashes on the item ahead; likewise when it lingers out), the device is
    handed to a fresh actor, never closed 1012 a moment after its welcome."""
    ann, ann_c = await people.new("ann")
    assert node.services is not None
    users = node.services.users
    old = users.lookup(ann.user_id)
    send, receive = trio.open_memory_channel[f.Frame](64)
    device = Device(ann.user_id, send)
    assert users.inject_crash(ann.user_id, "stopping while a device attaches")
    assert users.offer(ann.user_id, Attach(device, {}))  # no checkpoint between: queued behind the crash
    def taken_by_a_fresh_actor() -> bool:
        fresh = users.lookup(ann.user_id)
        return fresh is not None and fresh is not old and fresh.depth() == 0
    await wait_until(taken_by_a_fresh_actor, 10, "a fresh actor taking the Attach")
    await trio.sleep(0.2)
    assert users.lookup(ann.user_id) not in (None, old), "no fresh actor took the waiting device"
    assert not device.closed, f"closed {device.close_code} {device.close_reason!r}"
    assert ann_c.closed.is_set() and ann_c.close_code == 1012  # the device the crashed actor held reconnects


async def test_a_waiting_device_whose_session_was_revoked_is_not_handed_on(node: Node, people: People) -> None:
    """A sign-out queued ahead of the device's Attach must still reach it when the actor fails first: the
    fresh actor would know nothing of the revocation."""
    ann, _ = await people.new("ann")
    assert node.services is not None
    users = node.services.users
    send, _receive = trio.open_memory_channel[f.Frame](64)
    device = Device(ann.user_id, send, session="00000000-0000-4000-8000-000000000001")
    assert users.inject_crash(ann.user_id, "failing with a sign-out and an attach queued")
    assert users.offer(ann.user_id, CloseDevices(CloseCode.SIGNED_OUT, "logged out", frozenset({device.session})))
    assert users.offer(ann.user_id, Attach(device, {}))
    await wait_until(lambda: device.closed, 5, "the signed-out device closed")
    assert device.closed and device.close_code == 4010


async def test_a_node_stopping_with_a_device_waiting_to_attach_stops(nursery: trio.Nursery, config: Config) -> None:
    """The hand-over above is for an actor that stops by itself: when the node cancels its actors, a device
    still waiting to attach is closed (the client reconnects elsewhere), and the node stops at once."""
    running = await start_node(nursery, config)
    people = People(nursery, running.node)
    ann, _ = await people.new("ann")
    services = running.node.services
    assert services is not None
    send, _receive = trio.open_memory_channel[f.Frame](64)
    device = Device(ann.user_id, send)
    assert services.users.offer(ann.user_id, Attach(device, {}))
    with trio.fail_after(10):
        await running.stop()  # no checkpoint since the offer: the actor is cancelled with it queued
    assert device.closed and device.close_code == 1012
