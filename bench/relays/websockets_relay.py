"""Relay on asyncio (uvloop) + the `websockets` library (with its C speed-ups).

    python -m bench.relays.websockets_relay --port 9002
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib

import msgpack
import uvloop
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from bench.relays.hub import Hub, Peer

hub = Hub()


async def _writer(ws: ServerConnection, peer: Peer, event: asyncio.Event) -> None:
    pack = msgpack.Packer(use_bin_type=True).pack
    while True:
        await event.wait()
        event.clear()
        for frame in peer.take():
            await ws.send(pack(frame))


async def handle(ws: ServerConnection) -> None:
    event = asyncio.Event()
    peer = Peer(event.set)
    writer = asyncio.create_task(_writer(ws, peer, event))
    try:
        async for data in ws:
            if isinstance(data, bytes):
                hub.handle(peer, msgpack.unpackb(data, raw=False, strict_map_key=False))
    except ConnectionClosed:
        pass
    finally:
        hub.leave(peer)
        writer.cancel()
        with contextlib.suppress(asyncio.CancelledError, ConnectionClosed):
            await writer


async def main(port: int) -> None:
    async with serve(handle, "127.0.0.1", port, compression=None, max_size=1 << 24, ping_interval=None):
        print(f"relay ready: websockets on ws://127.0.0.1:{port}/", flush=True)
        await asyncio.get_running_loop().create_future()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    with contextlib.suppress(KeyboardInterrupt):
        uvloop.run(main(parser.parse_args().port))
