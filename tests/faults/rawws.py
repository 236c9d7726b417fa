"""A websocket client at the byte level (wsproto over a plain trio socket).

For what a polite client never does: stop reading with a tiny receive buffer, split a message into
fragments, ping, vanish mid-frame or mid-handshake, or dribble the handshake one byte at a time.
"""

from __future__ import annotations

import socket

import trio
from wsproto import ConnectionType, WSConnection
from wsproto.events import (
    AcceptConnection,
    BytesMessage,
    CloseConnection,
    Event,
    Message,
    Ping,
    Pong,
    RejectConnection,
    Request,
)

from chatd.protocol import decode, encode
from chatd.protocol import frames as f


class Rejected(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(f"handshake rejected with HTTP {status}")
        self.status = status


class RawWebSocket:
    def __init__(self, sock: trio.socket.SocketType, port: int) -> None:
        self.sock = sock
        self.port = port
        self.stream = trio.SocketStream(sock)
        self.ws = WSConnection(ConnectionType.CLIENT)
        self._events: list[Event] = []
        self._partial = b""
        self.close_code: int | None = None

    @classmethod
    async def connect(cls, port: int, *, receive_buffer: int | None = None) -> RawWebSocket:
        """A TCP connection to the server; `receive_buffer` shrinks SO_RCVBUF before connecting."""
        sock = trio.socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if receive_buffer is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        await sock.connect(("127.0.0.1", port))
        return cls(sock, port)

    def handshake_bytes(self) -> bytes:
        return self.ws.send(Request(host=f"127.0.0.1:{self.port}", target="/"))

    async def handshake(self) -> None:
        await self.stream.send_all(self.handshake_bytes())
        event = await self.next_event()
        if isinstance(event, RejectConnection):
            raise Rejected(event.status_code)
        assert isinstance(event, AcceptConnection), event

    async def send_raw(self, data: bytes) -> None:
        await self.stream.send_all(data)

    async def send(self, frame: f.Frame, fragments: int = 1, only: int | None = None) -> None:
        """One websocket message carrying `frame`, split into `fragments` websocket frames (the first `only`)."""
        data = encode(frame)
        step = max(1, -(-len(data) // fragments))
        chunks = [data[i:i + step] for i in range(0, len(data), step)]
        for i, chunk in enumerate(chunks[:only]):
            await self.stream.send_all(self.ws.send(BytesMessage(data=chunk,
                                                                 message_finished=i == len(chunks) - 1)))

    async def ping(self, payload: bytes) -> None:
        await self.stream.send_all(self.ws.send(Ping(payload=payload)))

    async def next_event(self) -> Event:
        """The next wsproto event; a Close is answered. Raises EOFError when the server drops the TCP link."""
        while not self._events:
            data = await self.stream.receive_some(65536)
            if not data:
                raise EOFError("the server closed the TCP connection")
            self.ws.receive_data(data)
            for event in self.ws.events():
                if isinstance(event, CloseConnection):
                    self.close_code = event.code
                    await self.stream.send_all(self.ws.send(event.response()))
                self._events.append(event)
        return self._events.pop(0)

    async def next_frame(self) -> f.Frame:
        """The next complete message from the server, decoded (pongs and pings are skipped)."""
        while True:
            event = await self.next_event()
            if isinstance(event, CloseConnection):
                raise EOFError(f"closed by the server with code {event.code}")
            if isinstance(event, Message):
                self._partial += event.data if isinstance(event.data, bytes) else event.data.encode()
                if event.message_finished:
                    data, self._partial = self._partial, b""
                    frame = decode(data, 1 << 30)
                    assert isinstance(frame, f.Frame), frame
                    return frame

    async def request(self, frame: f.Frame, fragments: int = 1) -> f.Frame:
        await self.send(frame, fragments)
        req_id = getattr(frame, "id", None)
        while True:
            reply = await self.next_frame()
            if getattr(reply, "id", None) == req_id:
                return reply

    async def next_pong(self) -> bytes:
        while True:
            event = await self.next_event()
            if isinstance(event, Pong):
                return bytes(event.payload)

    def abort(self) -> None:
        """Vanish: reset the TCP connection (SO_LINGER 0), no close frame, no FIN."""
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        self.sock.close()

    async def wait_closed(self, timeout: float) -> int | None:
        """Read and drop everything until the server closes; the close code, or None for a bare TCP close."""
        with trio.fail_after(timeout):
            try:
                while True:
                    await self.next_event()
            except (EOFError, trio.BrokenResourceError, ConnectionResetError):
                return self.close_code


def frame_header(length: int) -> bytes:
    """A masked, final, binary websocket frame header announcing `length` payload bytes."""
    first = bytes([0x82])
    if length < 126:
        size = bytes([0x80 | length])
    elif length < 1 << 16:
        size = bytes([0x80 | 126]) + length.to_bytes(2, "big")
    else:
        size = bytes([0x80 | 127]) + length.to_bytes(8, "big")
    return first + size + b"\x00\x00\x00\x00"  # all-zero mask: payload bytes go as they are

