"""Relay on trio + trio-websocket (chatd's own stack, without actors or persistence).

    python -m bench.relays.trio_relay --port 9001
"""

from __future__ import annotations

import argparse
import contextlib

import msgpack
import trio
from trio_websocket import ConnectionClosed, WebSocketConnection, WebSocketRequest, serve_websocket

from bench.relays.hub import Hub, Peer

hub = Hub()


class TrioPeer(Peer):
    def __init__(self) -> None:
        self.event = trio.Event()
        super().__init__(self._wake)

    def _wake(self) -> None:
        self.event.set()


async def _writer(ws: WebSocketConnection, peer: TrioPeer) -> None:
    pack = msgpack.Packer(use_bin_type=True).pack
    with contextlib.suppress(ConnectionClosed):
        while True:
            await peer.event.wait()
            peer.event = trio.Event()
            for frame in peer.take():
                await ws.send_message(pack(frame))


async def handle(request: WebSocketRequest) -> None:
    ws = await request.accept()
    peer = TrioPeer()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(_writer, ws, peer)
        try:
            while True:
                data = await ws.get_message()
                if isinstance(data, bytes):
                    hub.handle(peer, msgpack.unpackb(data, raw=False, strict_map_key=False))
        except ConnectionClosed:
            pass
        finally:
            hub.leave(peer)
            nursery.cancel_scope.cancel()


async def main(port: int) -> None:
    async with trio.open_nursery() as nursery:
        await nursery.start(lambda task_status=trio.TASK_STATUS_IGNORED: serve_websocket(
            handle, "127.0.0.1", port, ssl_context=None, max_message_size=1 << 24, message_queue_size=8,
            task_status=task_status))
        print(f"relay ready: trio-websocket on ws://127.0.0.1:{port}/", flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    with contextlib.suppress(KeyboardInterrupt):
        trio.run(main, parser.parse_args().port)
