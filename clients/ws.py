"""A minimal chatd client on trio-websocket: requests matched to replies by id, pushes in a queue.

    async with ChatClient.connect(url) as c:
        auth = await c.call(f.Login, username="ann", password="...")
        await c.hello(auth.access_token)
        sent = await c.send_text(room, "hello")
        frame = await c.next_push()        # msgs / status frames the server pushes
"""

from __future__ import annotations

import collections
import contextlib
import itertools
import uuid
from collections.abc import AsyncIterator
from typing import Any, TypeVar

import trio
from trio_websocket import ConnectionClosed, WebSocketConnection, open_websocket_url

from chatd.protocol import Refusal, bundle, decode_bundle, encode
from chatd.protocol import frames as f

F = TypeVar("F", bound=f.Frame)
MAX_INCOMING_BYTES = 16 * 1024 * 1024
ACK_DELAY = 0.1  # seconds a live ack may wait for more messages or a request to ride with (docs/protocol.md)


class ChatError(Exception):
    def __init__(self, error: f.Error) -> None:
        super().__init__(f"{error.code}: {error.message}")
        self.error = error
        self.code = error.code


class Disconnected(Exception):
    """The connection closed before the awaited reply or push arrived."""


class ChatClient:
    def __init__(self, ws: WebSocketConnection) -> None:
        self.ws = ws
        self._ids = itertools.count(1)
        self._waiting: dict[int, trio.MemorySendChannel[f.Frame]] = {}
        self._push_send, self._push_receive = trio.open_memory_channel[f.Frame](100_000)
        self.closed: trio.Event = trio.Event()
        self.close_code: int | None = None
        self.close_reason = ""
        self.user_id: int | None = None
        self._scope: trio.CancelScope | None = None
        self._acks: dict[int, int] = {}  # room -> seq to ack (ack_soon), sent within ACK_DELAY or with a request
        self._acks_due = trio.Event()
        # frames sent, by type (an owner may swap in a counter shared by several connections)
        self.sent_counts: collections.Counter[str] = collections.Counter()

    @classmethod
    @contextlib.asynccontextmanager
    async def connect(cls, url: str, **kwargs: Any) -> AsyncIterator[ChatClient]:
        # a backlog frame holds up to 100 messages of up to 16,000 characters: allow what the server sends
        kwargs.setdefault("max_message_size", MAX_INCOMING_BYTES)
        async with open_websocket_url(url, **kwargs) as ws, trio.open_nursery() as nursery:
            client = cls(ws)
            nursery.start_soon(client._read_loop)
            nursery.start_soon(client._ack_flusher)
            try:
                yield client
            finally:
                if client._acks and not client.closed.is_set():  # acks still waiting go before we close
                    with trio.move_on_after(0.5), contextlib.suppress(Disconnected):
                        await client.send_frames([])
                nursery.cancel_scope.cancel()

    @classmethod
    async def open_in(cls, nursery: trio.Nursery, url: str, **kwargs: Any) -> ChatClient:
        """Connect in a task of `nursery`; the connection lives until ``disconnect()`` or the nursery ends."""
        async def hold(*, task_status: trio.TaskStatus[ChatClient]) -> None:
            with trio.CancelScope() as scope:
                async with cls.connect(url, **kwargs) as client:
                    client._scope = scope
                    task_status.started(client)
                    await trio.sleep_forever()
        return await nursery.start(hold)  # type: ignore[no-any-return]

    async def disconnect(self) -> None:
        """Close the connection (a normal websocket close) and wait until it is closed."""
        if self._scope is not None:
            self._scope.cancel()
        await self.closed.wait()

    async def _read_loop(self) -> None:
        try:
            while True:
                data = await self.ws.get_message()
                for frame in decode_bundle(data, max_bytes=1 << 30):  # one frame, or a bundle (version 2)
                    if isinstance(frame, Refusal):
                        raise RuntimeError(f"server sent an undecodable frame: {frame.message}")
                    req_id = getattr(frame, "id", None)
                    waiter = self._waiting.pop(req_id, None) if req_id is not None else None
                    if waiter is not None:
                        waiter.send_nowait(frame)
                    else:
                        self._push_send.send_nowait(frame)
        except ConnectionClosed as exc:
            self.close_code = exc.reason.code if exc.reason else None
            self.close_reason = (exc.reason.reason or "") if exc.reason else ""
        finally:
            self.closed.set()
            for waiter in self._waiting.values():  # pending requests fail now rather than time out
                waiter.close()
            self._waiting.clear()
            self._push_send.close()  # pushes already received can still be taken

    # ------------------------------------------------------------------ requests

    async def send_frame(self, frame: f.Frame) -> None:
        await self.send_frames([frame])

    async def send_frames(self, frames: list[f.Frame]) -> None:
        """Send frames in one websocket message (a bundle when there are several; the server handles them in
        order). Acks waiting to go (`ack_soon`) ride along, in front."""
        frames = [*self._take_acks(), *frames]
        for frame in frames:
            self.sent_counts[frame.type] += 1
        if not frames:
            return
        encoded = [encode(frame) for frame in frames]
        try:
            await self.ws.send_message(encoded[0] if len(encoded) == 1 else bundle(encoded))
        except ConnectionClosed as exc:
            raise Disconnected(f"connection closed: {exc.reason}") from exc

    async def request(self, kind: type[F], /, timeout: float = 10.0, **fields: Any) -> f.Frame:
        """Send a request and return its reply (which may be an Error frame)."""
        if self.closed.is_set():
            raise Disconnected("connection is closed")
        req_id = next(self._ids)
        send, receive = trio.open_memory_channel[f.Frame](1)
        self._waiting[req_id] = send
        await self.send_frame(kind(id=req_id, **fields))  # type: ignore[call-arg]
        with trio.fail_after(timeout):
            try:
                return await receive.receive()
            except trio.EndOfChannel:
                raise Disconnected(f"connection closed before the reply to {kind.type}") from None

    async def call(self, kind: type[f.Frame], /, timeout: float = 10.0, **fields: Any) -> Any:
        """Like request, but an Error reply raises ChatError."""
        reply = await self.request(kind, timeout, **fields)
        if isinstance(reply, f.Error):
            raise ChatError(reply)
        return reply

    async def hello(self, token: str, cursors: dict[int, int] | None = None) -> f.Welcome:
        welcome = await self.call(f.Hello, version=f.PROTOCOL_VERSION, token=token, cursors=cursors)
        self.user_id = welcome.user_id
        return welcome  # type: ignore[no-any-return]

    async def send_text(self, room: int, body: str, client_id: str | None = None) -> f.Sent:
        return await self.call(f.Send, room=room, client_id=client_id or str(uuid.uuid4()),  # type: ignore[no-any-return]
                               body=body)

    async def ack(self, room: int, seq: int) -> None:
        await self.send_frame(f.Ack(room=room, seq=seq))

    def ack_soon(self, room: int, seq: int) -> None:
        """Ack live messages as docs/protocol.md recommends: within ACK_DELAY, one ack per room for whatever
        arrived meanwhile, riding with the next request if one goes first. (Backlog: `ack`, at once.)"""
        if seq > self._acks.get(room, 0):
            self._acks[room] = seq
            self._acks_due.set()

    def _take_acks(self) -> list[f.Frame]:
        acks: list[f.Frame] = [f.Ack(room=room, seq=seq) for room, seq in self._acks.items()]
        self._acks.clear()
        return acks

    async def _ack_flusher(self) -> None:
        while True:
            await self._acks_due.wait()
            await trio.sleep(ACK_DELAY)
            self._acks_due = trio.Event()
            if self._acks:
                try:
                    await self.send_frames([])
                except Disconnected:
                    return

    # ------------------------------------------------------------------ pushes

    async def next_push(self, timeout: float = 10.0) -> f.Frame:
        with trio.fail_after(timeout):
            return await self._receive_push()

    async def _receive_push(self) -> f.Frame:
        try:
            return await self._push_receive.receive()
        except trio.EndOfChannel:
            raise Disconnected(f"connection closed (code {self.close_code})") from None

    def pending_pushes(self) -> list[f.Frame]:
        out = []
        while True:
            try:
                out.append(self._push_receive.receive_nowait())
            except trio.WouldBlock:
                return out

    async def next_of(self, kind: type[F], timeout: float = 10.0) -> F:
        """The next pushed frame of this type (others are dropped)."""
        with trio.fail_after(timeout):
            while True:
                frame = await self._receive_push()
                if isinstance(frame, kind):
                    return frame

    async def collect(self, room: int, count: int, *, ack: bool = True, timeout: float = 20.0
                      ) -> list[f.Message]:
        """Receive pushed messages of `room` until `count` arrived, acking each `msgs` frame."""
        got: list[f.Message] = []
        with trio.fail_after(timeout):
            while len(got) < count:
                frame = await self._receive_push()
                if not isinstance(frame, f.Msgs):
                    continue
                got.extend(m for m in frame.messages if m.room == room)
                if ack:
                    await self.ack_frame(frame)
        return got

    async def ack_frame(self, frame: f.Msgs) -> None:
        top: dict[int, int] = {}
        for m in frame.messages:
            top[m.room] = max(top.get(m.room, 0), m.seq)
        for room, seq in top.items():
            await self.ack(room, seq)
