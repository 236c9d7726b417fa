"""A member whose client stops reading must not slow the room: everyone else gets everything at once,
the stuck connection is closed after CHAT_SEND_TIMEOUT (code 4008), and on reconnect the member gets
every message it missed, in order, exactly once."""

from __future__ import annotations

from pathlib import Path

import trio

from chatd.clients.ws import ChatClient
from chatd.protocol import frames as f
from tests.conftest import Backing, People, make_config, start_node
from tests.faults.load import wait_until
from tests.faults.rawws import RawWebSocket
from tests.faults.watch import Watched

SEND_TIMEOUT = 6.0
MESSAGES = 300
BODY = "y" * 12_000  # 300 x 12 kB: several MB, far more than the socket buffers between server and client


async def test_a_client_that_never_reads_does_not_hold_up_the_room(nursery: trio.Nursery, backing: Backing,
                                                                  tmp_path: Path) -> None:
    watched = Watched(await start_node(nursery, make_config(
        backing, tmp_path, send_timeout=SEND_TIMEOUT, outbox_frames=8, user_linger_seconds=0.1, room_idle_seconds=0.5,
        rate_per_second=10_000, rate_burst=10_000)))
    node = watched.node
    assert node.gateway is not None and node.gateway.port is not None
    people = People(nursery, node)
    (ann, ann_c), (bob, bob_c), (cat, cat_c) = [await people.new(n) for n in ("ann", "bob", "cat")]
    slow = await people.signup("slow")
    room = (await ann_c.call(f.CreateGroup, name="busy", members=[bob.user_id, cat.user_id, slow.user_id])).room
    for client in (bob_c, cat_c):
        await client.collect(room.room, room.last_seq)  # the creation message

    watched.rebase()
    stuck = await RawWebSocket.connect(node.gateway.port, receive_buffer=4096)
    await stuck.handshake()
    welcome = await stuck.request(f.Hello(id=1, version=1, token=slow.access_token,
                                          cursors={room.room: room.last_seq}))
    assert isinstance(welcome, f.Welcome)
    # from here on the slow client reads nothing

    async def send_all() -> None:
        for i in range(MESSAGES):
            await ann_c.send_text(room.room, f"{i} {BODY}")

    async def receive_all(name: str, client: ChatClient) -> None:
        received[name] = [m.seq for m in await client.collect(room.room, MESSAGES, timeout=60)]

    received: dict[str, list[int]] = {}
    started = trio.current_time()
    async with trio.open_nursery() as n:
        n.start_soon(send_all)
        n.start_soon(receive_all, "bob", bob_c)
        n.start_soon(receive_all, "cat", cat_c)
    took = trio.current_time() - started
    expected = list(range(room.last_seq + 1, room.last_seq + 1 + MESSAGES))
    assert received == {"bob": expected, "cat": expected}
    # the room did not wait for the stuck socket: everyone else was served before it was even closed
    assert took < SEND_TIMEOUT
    assert node.gateway.connections == 4, "the stuck connection was closed before the others were served"

    await wait_until(lambda: node.gateway is not None and node.gateway.connections == 3, SEND_TIMEOUT + 10,
                     "the server dropped the stuck connection")
    assert trio.current_time() - started >= SEND_TIMEOUT * 0.9, "closed before the documented timeout"
    await trio.sleep(2)  # the server's side of the socket is gone: what is buffered ends in a close, not a hang
    assert await stuck.wait_closed(5) in (4008, None)  # 4008, or a bare TCP close when the frame could not go

    again = await people.connect(slow, cursors={room.room: room.last_seq})
    got = await again.collect(room.room, MESSAGES, timeout=60)
    assert [m.seq for m in got] == expected
    assert all(m.body == f"{m.seq - room.last_seq - 1} {BODY}" for m in got)
    await again.disconnect()
    await watched.no_more_tasks()  # nothing of the stuck connection or the reconnect is left
