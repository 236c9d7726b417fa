"""A TCP proxy between the server and a real Postgres or Redis, with a switch that cuts it.

Fault tests put this in front of the real service and point the node at the proxy. ``cut()`` closes
every open connection abruptly and refuses new ones, as a crashed or unreachable database does;
``restore()`` lets connections through again. The service itself is real and untouched: no mock.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from urllib.parse import parse_qs, urlsplit, urlunsplit

import trio


def target_of(url: str, default_port: int) -> tuple[str, int, str | None]:
    """(host, port, unix socket path or None) that a postgres:// or redis:// URL points at."""
    parts = urlsplit(url)
    host = parts.hostname or parse_qs(parts.query).get("host", ["127.0.0.1"])[0]
    port = parts.port or default_port
    if host.startswith("/"):  # libpq style: a directory holding .s.PGSQL.<port>
        return host, port, f"{host}/.s.PGSQL.{port}"
    return host, port, None


def via(url: str, proxy_port: int) -> str:
    """`url` rewritten to reach the same database through 127.0.0.1:proxy_port."""
    parts = urlsplit(url)
    query = "&".join(p for p in parts.query.split("&") if p and not p.startswith("host="))
    userinfo = parts.netloc.rpartition("@")[0]
    netloc = f"{userinfo}@127.0.0.1:{proxy_port}" if userinfo else f"127.0.0.1:{proxy_port}"
    return urlunsplit(parts._replace(netloc=netloc, query=query))


class FaultProxy:
    def __init__(self, url: str, default_port: int) -> None:
        self.host, self.port, self.unix_path = target_of(url, default_port)
        self.url = url
        self.listen_port = 0
        self.up = True
        self._links: set[trio.CancelScope] = set()
        self.connections = 0

    @property
    def proxied_url(self) -> str:
        return via(self.url, self.listen_port)

    def cut(self) -> None:
        """Drop every open connection and refuse new ones until restore()."""
        self.up = False
        for scope in list(self._links):
            scope.cancel()

    def restore(self) -> None:
        self.up = True

    async def _upstream(self) -> trio.SocketStream:
        if self.unix_path:
            return await trio.open_unix_socket(self.unix_path)
        return await trio.open_tcp_stream(self.host, self.port)

    async def _handle(self, client: trio.SocketStream) -> None:
        async with client:
            if not self.up:
                return
            try:
                upstream = await self._upstream()
            except OSError:
                return
            self.connections += 1
            async with upstream:
                with trio.CancelScope() as scope:
                    self._links.add(scope)
                    try:
                        async with trio.open_nursery() as n:
                            n.start_soon(_pipe, client, upstream, n.cancel_scope)
                            n.start_soon(_pipe, upstream, client, n.cancel_scope)
                    finally:
                        self._links.discard(scope)

    async def serve(self, *, task_status: trio.TaskStatus[FaultProxy] = trio.TASK_STATUS_IGNORED) -> None:
        listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
        self.listen_port = listeners[0].socket.getsockname()[1]
        async with trio.open_nursery() as n:
            n.start_soon(trio.serve_listeners, self._handle, listeners)
            task_status.started(self)


async def _pipe(source: trio.SocketStream, sink: trio.SocketStream, done: trio.CancelScope) -> None:
    with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
        while data := await source.receive_some(65536):
            await sink.send_all(data)
    done.cancel()


@contextlib.asynccontextmanager
async def fault_proxy(url: str, default_port: int) -> AsyncIterator[FaultProxy]:
    async with trio.open_nursery() as n:
        proxy = await n.start(FaultProxy(url, default_port).serve)
        try:
            yield proxy
        finally:
            n.cancel_scope.cancel()
