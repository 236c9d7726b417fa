"""A websocket-level fault injector for SDK tests: a TCP proxy (tests/faultproxy.py) that can also
swallow everything the server sends, so a request reaches the server while its reply is lost."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import trio

from tests.faultproxy import FaultProxy


class ReplyEater(FaultProxy):
    def __init__(self, url: str) -> None:
        super().__init__(url, 80)
        self.eat_replies = False

    async def _handle(self, client: trio.SocketStream) -> None:
        async with client:
            if not self.up:
                return
            async with await trio.open_tcp_stream(self.host, self.port) as upstream, trio.open_nursery() as n:
                self._links.add(n.cancel_scope)
                n.start_soon(self._pipe, client, upstream, n.cancel_scope, False)
                n.start_soon(self._pipe, upstream, client, n.cancel_scope, True)
            self._links.discard(n.cancel_scope)

    async def _pipe(self, source: trio.SocketStream, sink: trio.SocketStream, done: trio.CancelScope,
                    downstream: bool) -> None:
        with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
            while data := await source.receive_some(65536):
                if not (downstream and self.eat_replies):
                    await sink.send_all(data)
        done.cancel()


@contextlib.asynccontextmanager
async def reply_eater(url: str) -> AsyncIterator[ReplyEater]:
    async with trio.open_nursery() as n:
        proxy = await n.start(ReplyEater(url).serve)
        try:
            yield proxy
        finally:
            n.cancel_scope.cancel()
