"""One load-generator connection (asyncio + websockets + msgpack), shared by every scenario.

A Conn speaks the chatd frames the benchmarks need (signup, hello, create_group, open_direct, send, ack,
history) and, with the same frames, the bench relays. Its reader:

- matches replies to requests by id (a `sent` reply of a fire-and-forget send is counted, not awaited);
- checks every received message: per room the seqs must rise, a seq seen twice is a duplicate;
- acks what it received (cumulative, highest seq per room) as docs/protocol.md recommends: a backlog
  batch at once, live messages within ACK_DELAY, riding in the same bundle as the next request when one
  goes first (chatd only; the relays have no acks);
- records, per bench body kind, how many messages arrived and the latency since the body's due time.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from bench import wire

MAX_INCOMING = 1 << 24
PASSWORD = "bench-password-1"
ACK_DELAY = 0.1  # seconds a live ack may wait for more messages or for a request to ride with


class RequestFailed(Exception):
    pass


@dataclass
class RecvStats:
    """What one connection received; reset between measured steps."""
    delivered: dict[str, int] = field(default_factory=dict)  # body kind -> count
    latencies: list[float] = field(default_factory=list)  # seconds, for the kinds being measured
    duplicates: int = 0
    out_of_order: int = 0
    last_at: float = 0.0
    frames: int = 0  # `msgs` frames
    status: int = 0  # `status` frames (delivery ticks chatd pushes to the other members)
    ws_in: int = 0  # websocket messages received (a bundle of frames is one)
    ws_out: int = 0  # websocket messages sent


@dataclass
class SendStats:
    sent: dict[int, int] = field(default_factory=dict)  # room -> messages confirmed stored/relayed
    duplicate_replies: int = 0
    errors: dict[str, int] = field(default_factory=dict)  # error code -> count
    outstanding: int = 0


Responder = Callable[["Conn", dict[str, Any], str], Awaitable[None]]


class Conn:
    def __init__(self, key: int, ws: ClientConnection, measure: frozenset[str], acks: bool = True) -> None:
        self.key = key
        self.acks = acks  # chatd needs acks; the relays have none, so they are not sent there
        self.ws = ws
        self.measure = measure
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._sends: set[int] = set()  # request ids of fire-and-forget sends
        self.last_seq: dict[int, int] = {}
        self.seen: dict[int, set[int]] = {}
        self.recv = RecvStats()
        self.sends = SendStats()
        self.responder: Responder | None = None
        self.on_delivered: Callable[[int], None] = lambda n: None
        self.on_change: Callable[[], None] = lambda: None  # after every frame and at close: waiters re-check
        self.user_id: int | None = None
        self.username = ""
        self.token = ""
        self.closed = asyncio.Event()
        self.close_code: int | None = None
        self._acks: dict[int, int] = {}  # room -> highest seq received and not acked yet
        self._ack_timer: asyncio.TimerHandle | None = None
        self._reader = asyncio.get_running_loop().create_task(self._read_loop())

    @classmethod
    async def open(cls, url: str, key: int, source: str, measure: frozenset[str], acks: bool = True) -> Conn:
        ws = await connect(url, max_size=MAX_INCOMING, compression=None, ping_interval=None, open_timeout=30,
                           close_timeout=2, max_queue=64, local_addr=(source, 0))
        return cls(key, ws, measure, acks)

    # ------------------------------------------------------------------ requests

    async def _send(self, frame: dict[str, Any]) -> None:
        """Send a frame, with the pending acks riding in the same websocket message (a bundle)."""
        acks = self._take_acks()
        self.recv.ws_out += 1
        await self.ws.send(wire.pack_bundle([*acks, frame]) if acks else wire.pack(frame))

    def _take_acks(self) -> list[dict[str, Any]]:
        if self._ack_timer is not None:
            self._ack_timer.cancel()
            self._ack_timer = None
        acks = [{"t": "ack", "room": room, "seq": seq} for room, seq in self._acks.items()]
        self._acks.clear()
        return acks

    async def flush_acks(self) -> None:
        acks = self._take_acks()
        if acks:
            self.recv.ws_out += 1
            with contextlib.suppress(ConnectionClosed):
                await self.ws.send(wire.pack_bundle(acks) if len(acks) > 1 else wire.pack(acks[0]))

    def _ack_later(self, top: dict[int, int], now: bool) -> None:
        for room, seq in top.items():
            if seq > self._acks.get(room, 0):
                self._acks[room] = seq
        if now:
            asyncio.get_running_loop().create_task(self.flush_acks())
        elif self._ack_timer is None and self._acks:
            loop = asyncio.get_running_loop()
            self._ack_timer = loop.call_later(ACK_DELAY, lambda: loop.create_task(self.flush_acks()))

    async def request(self, frame: dict[str, Any], timeout: float = 30.0) -> dict[str, Any]:
        req_id = next(self._ids)
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[req_id] = fut
        await self._send({**frame, "id": req_id})
        try:
            reply = await asyncio.wait_for(fut, timeout)
        finally:
            self._waiting.pop(req_id, None)
        if reply.get("t") == "error":
            raise RequestFailed(f"{frame.get('t')}: {reply.get('code')}: {reply.get('message')}")
        return reply

    async def signup(self, username: str) -> None:
        auth = await self.request({"t": "signup", "username": username, "email": f"{username}@bench.example.com",
                                   "password": PASSWORD, "device": "bench"}, timeout=60)
        self.token, self.user_id, self.username = auth["access_token"], auth["user_id"], username

    async def hello(self, token: str | None = None, cursors: dict[int, int] | None = None) -> None:
        frame: dict[str, Any] = {"t": "hello", "version": 2 if self.acks else 1, "token": token or self.token}
        if cursors:
            frame["cursors"] = cursors
        await self.request(frame, timeout=60)

    async def send_text(self, room: int, text: str) -> None:
        """Send without waiting for the reply; the reader counts `sent` (or the error) when it comes."""
        req_id = next(self._ids)
        self._sends.add(req_id)
        self.sends.outstanding += 1
        await self._send({"t": "send", "id": req_id, "room": room, "client_id": str(uuid.uuid4()), "body": text})

    async def close(self) -> None:
        if self._ack_timer is not None:
            self._ack_timer.cancel()
        try:
            await self.ws.close()
        finally:
            self._reader.cancel()

    # ------------------------------------------------------------------ receiving

    async def _read_loop(self) -> None:
        try:
            async for data in self.ws:
                self.recv.ws_in += 1
                for frame in wire.unpack(data):
                    await self._on_frame(frame)
        except ConnectionClosed as exc:
            self.close_code = exc.rcvd.code if exc.rcvd else None
        finally:
            self.closed.set()
            self.on_change()
            for fut in self._waiting.values():
                if not fut.done():
                    fut.set_exception(RequestFailed(f"connection closed ({self.close_code})"))

    async def _on_frame(self, frame: dict[str, Any]) -> None:
        kind = frame.get("t")
        if kind == "msgs":
            self.recv.frames += 1
            await self._on_msgs(frame["messages"], bool(frame.get("backlog")))
            self.on_change()
            return
        req_id = frame.get("id")
        if req_id in self._sends:
            self._on_send_reply(req_id, frame)
            self.on_change()
            return
        if kind == "status":
            self.recv.status += 1
            return
        fut = self._waiting.pop(req_id, None) if req_id is not None else None
        if fut is not None and not fut.done():
            fut.set_result(frame)
        elif kind == "error":
            code = str(frame.get("code"))
            self.sends.errors[code] = self.sends.errors.get(code, 0) + 1

    def _on_send_reply(self, req_id: int, frame: dict[str, Any]) -> None:
        self._sends.discard(req_id)
        self.sends.outstanding -= 1
        if frame.get("t") == "sent":
            if frame.get("duplicate"):
                self.sends.duplicate_replies += 1
            else:
                room = frame["room"]
                self.sends.sent[room] = self.sends.sent.get(room, 0) + 1
        else:
            code = str(frame.get("code"))
            self.sends.errors[code] = self.sends.errors.get(code, 0) + 1

    async def _on_msgs(self, messages: list[dict[str, Any]], backlog: bool) -> None:
        now = time.monotonic()
        stats = self.recv
        top: dict[int, int] = {}
        texts: list[tuple[dict[str, Any], str]] = []
        for m in messages:
            room, seq = m["room"], m["seq"]
            seen = self.seen.get(room)
            if seen is None:
                seen = self.seen[room] = set()
            if seq in seen:
                stats.duplicates += 1
                continue
            seen.add(seq)
            if seq < self.last_seq.get(room, 0):
                stats.out_of_order += 1
            else:
                self.last_seq[room] = seq
            if seq > top.get(room, 0):
                top[room] = seq
            parsed = wire.parse_body(m.get("body"))
            if parsed is None:
                continue
            kind, due = parsed
            stats.delivered[kind] = stats.delivered.get(kind, 0) + 1
            if kind in self.measure:
                stats.latencies.append(now - due)
            texts.append((m, kind))
        stats.last_at = now
        if texts:
            self.on_delivered(len(texts))
        if self.acks:
            self._ack_later(top, now=backlog)  # the next backlog batch waits for this ack
        if self.responder is not None:
            for m, kind in texts:
                await self.responder(self, m, kind)

    def take_recv(self) -> RecvStats:
        stats, self.recv = self.recv, RecvStats()
        return stats

    def take_sends(self) -> SendStats:
        stats, self.sends = self.sends, SendStats(outstanding=self.sends.outstanding)
        return stats
