"""One authenticated connection kept alive: reconnect with back-off, hello with the cache's cursors,
in-band token refresh, every push handed on, and requests retried across drops when that is safe."""

from __future__ import annotations

import collections
import math
from collections.abc import Awaitable, Callable
from typing import Any

import trio
from trio_websocket import ConnectionClosed, HandshakeError

from chatd.clients.sdk.backoff import Backoff
from chatd.clients.sdk.tokens import NotSignedIn, TokenKeeper
from chatd.clients.ws import ChatClient, ChatError, Disconnected
from chatd.protocol import frames as f
from chatd.protocol.errors import CloseCode

TRANSIENT = (OSError, HandshakeError, ConnectionClosed, Disconnected, trio.TooSlowError, trio.BrokenResourceError)
RESEND = ("rate_limited",)  # the frame was dropped unread: sending it again is always safe
RETRY = ("retry",)  # the server may or may not have acted: only idempotent requests go again
# closes after which reconnecting would loop: the client sent something too large, the account was disabled or
# deleted, this device was signed out (docs/protocol.md, "Close codes")
NO_RECONNECT_CLOSES = (CloseCode.TOO_BIG, CloseCode.DISABLED, CloseCode.SIGNED_OUT)


def unwrap(exc: BaseException) -> BaseException:
    """The single exception inside (nested) one-member exception groups, as trio nurseries wrap them."""
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return exc


class LinkFailed(Exception):
    """The link stopped for good (credentials refused); ``cause`` says why."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__(str(cause))
        self.cause = cause


class ClosedForGood(Exception):
    """The server closed the connection with a code that says not to reconnect (NO_RECONNECT_CLOSES)."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(f"server closed the connection with {code}" + (f": {reason}" if reason else ""))
        self.code = code
        self.reason = reason


# what a request through the link may raise: refused (ChatError), the session over for good (LinkFailed),
# a non-idempotent request cut off or unanswered (Disconnected, TooSlowError), a local file or socket (OSError)
REQUEST_ERRORS = (ChatError, LinkFailed, Disconnected, trio.TooSlowError, OSError)


class Link:
    def __init__(self, url: str, tokens: TokenKeeper, cursors: Callable[[], Awaitable[dict[int, int]]],
                 on_push: Callable[[f.Frame], Awaitable[None]], on_state: Callable[[bool, str], None],
                 request_timeout: float = 10.0) -> None:
        self.url = url
        self.tokens = tokens
        self.cursors = cursors
        self.on_push = on_push
        self.on_state = on_state
        self.request_timeout = request_timeout
        self.client: ChatClient | None = None
        self.welcome: f.Welcome | None = None  # of the latest hello (names this device)
        self.failure: LinkFailed | None = None
        self.connects = 0  # successful hellos
        self.sent_counts: collections.Counter[str] = collections.Counter()  # frames sent, by type, all connections
        self._changed = trio.Event()
        self.backoff = Backoff()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = trio.Event()

    # ------------------------------------------------------------------ the connection loop

    async def run(self) -> None:
        """Connect, and reconnect after every drop, until cancelled or the credentials are refused."""
        self.failure = None
        while True:
            reason, wait = await self._session()
            if self.failure is not None:
                self.on_state(False, reason)
                return
            self.on_state(False, reason)
            await trio.sleep(self.backoff.next(at_least=wait))

    async def _session(self) -> tuple[str, float]:
        """One connection from connect to close: (why it ended, the least wait before the next)."""
        try:
            async with ChatClient.connect(self.url) as client:
                client.sent_counts = self.sent_counts
                await self._hello(client)
                self.backoff.reset()
                self.connects += 1
                self.client = client
                self._notify()
                self.on_state(True, "connected")
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(self.tokens.keep_fresh, client)
                    await self._pump(client)
                    nursery.cancel_scope.cancel()
                code = client.close_code
                if code in NO_RECONNECT_CLOSES:
                    self.failure = LinkFailed(ClosedForGood(code, client.close_reason))
                return f"closed ({code})", 0.0
        except Exception as group:
            exc = unwrap(group)
            if isinstance(exc, ChatError) and exc.code in RETRY + RESEND:
                return exc.code, exc.error.retry_after or 0.0
            if isinstance(exc, ChatError | NotSignedIn):
                self.failure = LinkFailed(exc)
                return str(exc), 0.0
            if isinstance(exc, TRANSIENT):
                return f"{type(exc).__name__}: {exc}", 0.0
            raise
        finally:
            self.client = None
            self._notify()

    async def _hello(self, client: ChatClient) -> None:
        token = await self.tokens.access(client)
        cursors = await self.cursors()
        try:
            self.welcome = await client.hello(token, cursors or None)
        except ChatError as exc:
            if exc.code != "unauthorized" or self.tokens.tokens is None:
                raise
            await self.tokens.refresh(client)  # our clock said the token was fine; the server's did not
            self.welcome = await client.hello(self.tokens.tokens.access_token, cursors or None)

    async def _pump(self, client: ChatClient) -> None:
        try:
            while True:
                await self.on_push(await client.next_push(math.inf))
        except Disconnected:
            return

    # ------------------------------------------------------------------ requests

    async def ready(self) -> ChatClient:
        """The live, authenticated connection, waiting for one if there is none right now."""
        while True:
            if self.failure is not None:
                raise self.failure
            if self.client is not None and not self.client.closed.is_set():
                return self.client
            await self._changed.wait()

    async def call(self, kind: type[f.Frame], /, *, idempotent: bool, **fields: Any) -> Any:
        """Send a request on the live connection and return its reply; ChatError for a refusal.

        Dropped frames (`rate_limited`) are resent after `retry_after`. When `idempotent`, `retry` errors,
        timeouts and lost connections are retried too, with back-off, on whichever connection is live.
        """
        backoff = Backoff()
        while True:
            client = await self.ready()
            try:
                reply = await client.request(kind, self.request_timeout, **fields)
            except (Disconnected, trio.TooSlowError):
                if not idempotent:
                    raise
                await trio.sleep(backoff.next())
                continue
            if isinstance(reply, f.Error) and (reply.code in RESEND or (idempotent and reply.code in RETRY)):
                await trio.sleep(backoff.next(at_least=reply.retry_after or 0.0))
                continue
            if isinstance(reply, f.Error):
                raise ChatError(reply)
            return reply

    def ack_soon(self, room: int, seq: int) -> None:
        """Ack live messages within a moment, with the next request if one goes first (ChatClient.ack_soon);
        dropped when offline, like every ack (hello's cursors resume from what the cache holds)."""
        if self.client is not None:
            self.client.ack_soon(room, seq)

    async def send_quietly(self, frame: f.Frame) -> bool:
        """Send a frame that has no reply (ack, read, typing) if connected; False if it could not go."""
        client = self.client
        if client is None:
            return False
        try:
            await client.send_frame(frame)
        except Disconnected:
            return False
        return True
