"""One websocket connection: a reader task (decode -> check -> handle) and a writer task (outbox -> socket).

Nothing a client sends can crash its connection or an actor: undecodable or refused frames get an
`error` frame and the connection goes on. The connection closes (with a code from docs/protocol.md)
when the client is too slow to take frames, does not say hello in time, or its token expires without
an in-band `auth` refresh.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable

import trio
from trio_websocket import ConnectionClosed, WebSocketConnection

from chatd.actors.device import Device
from chatd.actors.items import Detach
from chatd.actors.reply import Reply, refuse_once
from chatd.gateway.context import Context
from chatd.gateway.ratelimit import TokenBucket
from chatd.gateway.registry import ROUTES
from chatd.gateway.services import Services
from chatd.persistence import StoreUnavailable
from chatd.protocol import Session, bundle, decode_bundle, encode
from chatd.protocol import frames as f
from chatd.protocol.codec import MAX_BUNDLE_FRAMES
from chatd.protocol.errors import CloseCode, ErrorCode, Refusal
from chatd.protocol.session import CLIENT_FRAMES

log = logging.getLogger("chatd.gateway")

BUNDLE_BYTES = 256 * 1024  # a bundle stops growing past this (clients accept 1 MiB messages by default)


class Connection:
    def __init__(self, services: Services, ws: WebSocketConnection, address: str,
                 on_hello: Callable[[], None] = lambda: None) -> None:
        self.s = services
        self._on_hello = on_hello  # called once, at the first successful hello
        self.prehello_frames = 0  # frames received before a successful hello
        self.ws = ws
        self.address = address  # the client's limit key (runtime/client_address.py): what address limits count
        self.session = Session()
        cfg = services.config
        # unbounded for replies only (actors/device.py bounds the rest at CHAT_OUTBOX_FRAMES): the reader stops
        # reading at half that, so replies can only come from requests already under way, which the rate
        # limit bounds (its burst, then its rate times how long a commit takes)
        outbox, self._outbox_receive = trio.open_memory_channel[f.Frame](math.inf)
        self.device = Device(0, outbox, cfg.outbox_frames)
        self._resume_reading = trio.Event()  # set by the writer once the outbox is below half full again
        self.bucket = TokenBucket(cfg.rate_per_second, cfg.rate_burst)
        self.deadline = trio.CancelScope(deadline=trio.current_time() + cfg.auth_timeout)
        self.expiry_reason = f"no hello within {cfg.auth_timeout:g} seconds"
        self.context = Context(services, self.session, self.device, address, self._authenticated)  # for handlers
        self.sending_since = math.inf  # when the message being written started waiting for the socket
        self._writing = trio.CancelScope()  # the writer's: cancelled when it stalls (see `stalled`)

    def _authenticated(self, expires_at: float) -> None:
        """Close the connection when the access token expires, unless `auth` brings a newer one."""
        self.deadline.deadline = trio.current_time() + max(0.0, expires_at - time.time())
        self.expiry_reason = "access token expired; send auth with a fresh token before it does"

    async def run(self) -> None:
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._writer)
                with self.deadline:
                    await self._reader()
                if self.deadline.cancelled_caught:
                    self.device.kill(CloseCode.AUTH, self.expiry_reason)
                else:
                    self.device.kill(CloseCode.NORMAL, "")
        finally:
            self.session.closing()
            self.device.kill(CloseCode.NORMAL, "")
            if self.session.user_id is not None:
                self.s.users.offer(self.session.user_id, Detach(self.device))
                self.s.presence.disconnected(self.device)

    async def _reader(self) -> None:
        max_bytes = self.s.config.max_frame_bytes
        while not self.device.closed:
            try:
                data = await self.ws.get_message()
            except ConnectionClosed:
                return
            for frame in decode_bundle(data, max_bytes, CLIENT_FRAMES):  # first: a refusal echoes the id
                if self.device.half_full:
                    await self._outbox_drained()
                if self.device.closed:  # an earlier frame of the bundle ended the connection
                    return
                if self.session.user_id is None and self._prehello_spent():
                    return
                wait = self.bucket.take()
                if wait is not None:
                    req_id = frame.id if isinstance(frame, Refusal) else getattr(frame, "id", None)
                    refuse_once(self.device, Refusal(ErrorCode.RATE_LIMITED, "too many frames, slow down", req_id,
                                                     round(wait, 3)))
                elif isinstance(frame, Refusal):  # undecodable: the codec's refusal, echoing the id it found
                    refuse_once(self.device, frame)
                else:
                    await self._dispatch(frame)

    def _prehello_spent(self) -> bool:
        """Count a frame before hello; past CHAT_PREHELLO_FRAMES the connection closes (1008): an anonymous
        socket gets a few signup/login/refresh/hello tries, not a stream of password guesses."""
        self.prehello_frames += 1
        limit = self.s.config.prehello_frames
        if self.prehello_frames <= limit:
            return False
        self.device.kill(CloseCode.POLICY, f"more than {limit} frames before hello")
        return True

    async def _outbox_drained(self) -> None:
        """Stop reading requests until the client has taken its replies: a flood from a client that reads
        is paced by its own reading (and the rate limit), never closed for a full outbox."""
        while self.device.half_full and not self.device.closed:
            self._resume_reading = trio.Event()
            await self._resume_reading.wait()

    async def _dispatch(self, frame: f.Frame) -> None:
        """Run the frame's handler (gateway/registry.py) with the request's reply handle; a refusal answers the
        handle, and so does a failure (`retry` for the database, else `internal`) unless the handler answered
        before it failed."""
        reply = Reply(self.device, getattr(frame, "id", None))
        route = ROUTES[type(frame)]
        refused = self.session.check(frame, route.needs_hello)
        if refused is not None:
            reply.refuse(refused)
            return
        was_authed = self.session.user_id is not None
        try:
            await route.handler(self.context, frame, reply)
        except Refusal as exc:
            if not reply.fail(exc):  # the handler had answered (or handed the reply on) before it refused
                log.error("handler for %s refused after answering: %s", frame.type, exc.message)
            return
        except StoreUnavailable as exc:
            log.warning("database unavailable during %s: %s", frame.type, exc)
            reply.fail(Refusal(ErrorCode.RETRY, "database unavailable, retry later", retry_after=1.0))
            return
        except Exception:
            log.exception("handler for %s failed", frame.type)
            reply.fail(Refusal(ErrorCode.INTERNAL, f"internal error while handling {frame.type}"))
            return
        if not was_authed and self.session.user_id is not None:
            self._on_hello()
            await self.s.presence.connected(self.device)

    def stalled(self, now: float) -> bool:
        """Close the connection if one websocket message has been waiting for the socket longer than the send
        timeout (the gateway's watchdog asks every so often; a deadline per message cost a cancel scope)."""
        if now - self.sending_since <= self.s.config.send_timeout:
            return False
        self.device.kill(CloseCode.TOO_SLOW, f"too slow: a frame was not taken within {self.s.config.send_timeout:g}s")
        self._writing.cancel()
        return True

    async def _writer(self) -> None:
        """Send what actors queue. To a client of protocol version 2, whatever is queued when the socket is
        free goes as one websocket message (a bundle, up to MAX_BUNDLE_FRAMES frames or BUNDLE_BYTES): a
        sender's `sent` and `status`, a member's `msgs` and `counts` cost one message, not several."""
        outbox = self._outbox_receive
        written = self.s.metrics.frame_written
        try:
            with self._writing:
                async for first in outbox:
                    frame: f.Frame | None = first
                    while frame is not None:
                        data = encode(frame)
                        written(frame)
                        frame = _next_queued(outbox)
                        taken = 1
                        if frame is not None and self.session.bundles:
                            parts, size = [data], len(data)
                            while frame is not None and len(parts) < MAX_BUNDLE_FRAMES and size < BUNDLE_BYTES:
                                parts.append(encode(frame))
                                size += len(parts[-1])
                                written(frame)
                                frame = _next_queued(outbox)
                            taken = len(parts)
                            data = bundle(parts)
                        self.device.taken(taken)
                        self.sending_since = trio.current_time()
                        try:
                            await self.ws.send_message(data)
                        finally:
                            self.sending_since = math.inf
                        if not self.device.half_full:
                            self._resume_reading.set()
        except ConnectionClosed:
            self.device.kill(CloseCode.LOST, "connection lost")
            return
        finally:
            self._resume_reading.set()  # a reader waiting for room sees the device closed
        with trio.move_on_after(2):
            try:
                await self.ws.aclose(self.device.close_code, self.device.close_reason)
            except ConnectionClosed:
                pass


def _next_queued(outbox: trio.MemoryReceiveChannel[f.Frame]) -> f.Frame | None:
    """The next frame already in the outbox, or None (also at its end: the `async for` then stops)."""
    try:
        return outbox.receive_nowait()
    except (trio.WouldBlock, trio.EndOfChannel):
        return None
