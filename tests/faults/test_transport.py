"""WebSocket edge cases at the transport, the part of Autobahn|Testsuite a chat server meets in the wild.

Each test drives the real server with a byte-level client (tests/faults/rawws.py) and ends by checking
that nothing was left behind: no connection counted, no user actor, and as many trio tasks as before.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import trio
from trio_websocket import ConnectionRejected, HandshakeError

from chatd.clients.ws import ChatClient
from chatd.protocol import frames as f
from tests.conftest import Backing, People, Person, make_config, start_node
from tests.faults.load import wait_until
from tests.faults.rawws import RawWebSocket, Rejected, frame_header
from tests.faults.watch import Watched

HANDSHAKE_TIMEOUT = 1.0


async def watched_node(nursery: trio.Nursery, backing: Backing, tmp_path: Path, **overrides: object) -> Watched:
    config = make_config(backing, tmp_path, handshake_timeout=HANDSHAKE_TIMEOUT, user_linger_seconds=0.1,
                         room_idle_seconds=0.2, **overrides)
    return Watched(await start_node(nursery, config))


@pytest.fixture
async def watched(nursery: trio.Nursery, backing: Backing, tmp_path: Path) -> Watched:
    return await watched_node(nursery, backing, tmp_path)


async def hello(raw: RawWebSocket, person: Person, fragments: int = 1) -> f.Frame:
    return await raw.request(f.Hello(id=1, version=1, token=person.access_token), fragments)


async def test_tcp_drop_mid_handshake_and_mid_frame_leaves_nothing_behind(nursery: trio.Nursery,
                                                                         watched: Watched) -> None:
    people = People(nursery, watched.node)
    ann, bob = await people.signup("ann"), await people.signup("bob")
    watched.rebase()

    half_handshake = await RawWebSocket.connect(watched.port)
    await half_handshake.send_raw(half_handshake.handshake_bytes()[:30])
    half_handshake.abort()

    before_hello = await RawWebSocket.connect(watched.port)
    await before_hello.handshake()
    before_hello.abort()

    mid_frame = await RawWebSocket.connect(watched.port)
    await mid_frame.handshake()
    assert isinstance(await hello(mid_frame, ann), f.Welcome)
    await mid_frame.send_raw(frame_header(1000) + b"\x85\xa1t\xa4send")  # 1000 bytes promised, 10 sent
    await wait_until(lambda: watched.connections() == 1, 5, "the authenticated connection is up")
    mid_frame.abort()

    eof_mid_frame = await RawWebSocket.connect(watched.port)
    await eof_mid_frame.handshake()
    assert isinstance(await hello(eof_mid_frame, bob), f.Welcome)
    await eof_mid_frame.send_raw(frame_header(500)[:3])  # the header itself cut short, then a clean FIN
    await eof_mid_frame.stream.send_eof()

    await watched.settled()
    # and the server still chats
    ann_c = await people.connect(ann)
    room = (await ann_c.call(f.OpenDirect, user=bob.user_id)).room
    assert (await ann_c.send_text(room.room, "still here")).seq == room.last_seq + 1
    await ann_c.disconnect()
    await watched.settled()


async def test_fragmented_messages_are_reassembled(nursery: trio.Nursery, watched: Watched) -> None:
    people = People(nursery, watched.node)
    ann, (bob, bob_c) = await people.signup("ann"), await people.new("bob")
    raw = await RawWebSocket.connect(watched.port)
    await raw.handshake()
    assert isinstance(await hello(raw, ann, fragments=7), f.Welcome)
    opened = await raw.request(f.OpenDirect(id=2, user=bob.user_id), fragments=3)
    assert isinstance(opened, f.Room), opened
    body = "fragmented " * 1000
    sent = await raw.request(f.Send(id=3, room=opened.room.room, client_id="c0ffee00-0000-4000-8000-000000000001",
                                    body=body), fragments=50)
    assert isinstance(sent, f.Sent) and sent.seq == opened.room.last_seq + 1
    got = await bob_c.collect(opened.room.room, sent.seq)  # the room's creation, then the message
    assert got[-1].body == body and got[-1].seq == sent.seq
    raw.abort()
    await bob_c.disconnect()
    await watched.settled()


async def test_ping_gets_its_pong_and_the_connection_goes_on(nursery: trio.Nursery, watched: Watched) -> None:
    ann = await People(nursery, watched.node).signup("ann")
    raw = await RawWebSocket.connect(watched.port)
    await raw.handshake()
    await raw.ping(b"before hello")
    assert await raw.next_pong() == b"before hello"
    assert isinstance(await hello(raw, ann), f.Welcome)
    for i in range(3):
        await raw.ping(f"ping {i}".encode())
        assert await raw.next_pong() == f"ping {i}".encode()
    assert isinstance(await raw.request(f.ListRooms(id=9)), f.Rooms)
    raw.abort()
    await watched.settled()


async def test_fragments_adding_up_past_the_hard_limit_close_1009(nursery: trio.Nursery, backing: Backing,
                                                                 tmp_path: Path) -> None:
    watched = await watched_node(nursery, backing, tmp_path, max_frame_bytes=1024)
    ann = await People(nursery, watched.node).signup("ann")
    raw = await RawWebSocket.connect(watched.port)
    await raw.handshake()
    assert isinstance(await hello(raw, ann), f.Welcome)
    # every fragment is small (~200 bytes); the first 25 already add up to over 4 x max_frame_bytes (the
    # rest are not sent: a server that closed would answer them with a TCP reset, hiding the close frame)
    await raw.send(f.Send(id=2, room=1, client_id="c0ffee00-0000-4000-8000-000000000002", body="x" * 8000),
                   fragments=40, only=25)
    assert await raw.wait_closed(5) == 1009
    await watched.settled()


async def test_slowloris_handshake_is_cut_off(watched: Watched) -> None:
    raw = await RawWebSocket.connect(watched.port)
    request = raw.handshake_bytes()
    started = trio.current_time()
    with trio.move_on_after(HANDSHAKE_TIMEOUT * 8):
        try:
            for byte in request[:-4]:  # never the final blank line
                await raw.send_raw(bytes([byte]))
                await trio.sleep(0.1)
        except (trio.BrokenResourceError, ConnectionResetError):
            pass
        await raw.wait_closed(HANDSHAKE_TIMEOUT * 8)
    took = trio.current_time() - started
    assert took < HANDSHAKE_TIMEOUT * 8, "the server kept a connection that never finished its handshake"
    assert took >= HANDSHAKE_TIMEOUT * 0.9
    await watched.settled()


async def test_connection_cap_per_address(nursery: trio.Nursery, backing: Backing, tmp_path: Path) -> None:
    watched = await watched_node(nursery, backing, tmp_path, max_connections_per_address=3)
    clients = [await ChatClient.open_in(nursery, watched.node.url) for _ in range(3)]
    with pytest.raises(HandshakeError) as refused:
        await ChatClient.open_in(nursery, watched.node.url)
    assert isinstance(refused.value, ConnectionRejected) and refused.value.status_code == 429
    raw = await RawWebSocket.connect(watched.port)
    with pytest.raises(Rejected):
        await raw.handshake()
    await clients[0].disconnect()
    await wait_until(lambda: watched.connections() == 2, 5, "the closed connection is uncounted")
    clients.append(await ChatClient.open_in(nursery, watched.node.url))  # a free slot again
    for client in clients[1:]:
        await client.disconnect()
    await watched.settled()
