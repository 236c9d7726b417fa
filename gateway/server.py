"""The websocket listener: handshake checks (Origin allow-list, per-address cap, cap on connections that
have not said hello), then a Connection.

The client's address comes from runtime/client_address.py (forwarding headers only from
CHAT_TRUSTED_PROXIES); the cap and every per-address limit count its limit key (an IPv6 client's /64).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from urllib.parse import urlsplit

import trio
from trio_websocket import WebSocketRequest, WebSocketServer

from chatd.actors.device import Device
from chatd.gateway.connection import Connection
from chatd.gateway.forwarded import client_of
from chatd.gateway.services import Services
from chatd.runtime.client_address import limit_key
from chatd.runtime.notifier import Notifier
from chatd.runtime.sockets import shared_port_socket

log = logging.getLogger("chatd.gateway")

HARD_FRAME_LIMIT_FACTOR = 4  # frames above max_frame_bytes get an error; above this many times, close 1009


class Gateway:
    def __init__(self, services: Services, http_port: Callable[[], int | None] = lambda: None) -> None:
        self.s = services
        self.port: int | None = None
        self.per_address: Counter[str] = Counter()  # open connections per limit key
        self.connections = 0
        self.http_port = http_port  # the HTTP side serving the web client: its port once it listens
        self.connections_changed = Notifier()  # a device joined `devices`, or a connection ended (drain waits)
        self.devices: set[Device] = set()  # every open connection's device (admin: disconnect, drain)
        self.open: set[Connection] = set()  # for the stall watchdog
        self.accepting = True  # False while the node drains: handshakes are refused with 503
        self.prehello = 0  # open connections that have not said hello yet (CHAT_MAX_PREHELLO_CONNECTIONS)
        self.prehello_per_address: Counter[str] = Counter()  # the same per limit key (CHAT_PREHELLO_PER_ADDRESS)

    async def serve(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        async with trio.open_nursery() as handlers:
            server = await handlers.start(self._serve, handlers)
            self.port = server.port
            task_status.started()
            await self._watch_stalls()

    async def _watch_stalls(self) -> None:
        """Close connections whose socket has not taken a message within CHAT_SEND_TIMEOUT (4008)."""
        period = min(1.0, self.s.config.send_timeout / 4)
        while True:
            await trio.sleep(period)
            now = trio.current_time()
            for connection in list(self.open):
                connection.stalled(now)

    async def _serve(self, handler_nursery: trio.Nursery, *, task_status: trio.TaskStatus[WebSocketServer]) -> None:
        cfg = self.s.config
        listeners: list[trio.SocketListener]
        if cfg.reuse_port:  # several processes share the port (runtime/sockets.py)
            listeners = [trio.SocketListener(trio.socket.from_stdlib_socket(shared_port_socket(cfg.host, cfg.port)))]
        else:
            listeners = await trio.open_tcp_listeners(cfg.port, host=cfg.host)
        server = WebSocketServer(
            self._handle, listeners, handler_nursery=handler_nursery,
            max_message_size=cfg.max_frame_bytes * HARD_FRAME_LIMIT_FACTOR, message_queue_size=8,
            connect_timeout=cfg.handshake_timeout, disconnect_timeout=5)
        await server.run(task_status=task_status)

    def _origin_allowed(self, request: WebSocketRequest) -> bool:
        origins = [v.decode("latin-1") for k, v in request.headers if k.lower() == b"origin"]
        if not origins:
            return True  # not a browser: browsers always send Origin
        allowed = self.s.config.allowed_origins
        return "*" in allowed or all(o in allowed or self._own_http_origin(o, request) for o in origins)

    def _own_http_origin(self, origin: str, request: WebSocketRequest) -> bool:
        """The HTTP side's own pages (the web client): same host as this request, the HTTP side's port."""
        host = str(getattr(getattr(request, "_event", None), "host", ""))  # wsproto keeps Host out of headers
        try:
            parts, own = urlsplit(origin), urlsplit(f"//{host}")
            http_port = self.http_port()
            return (http_port is not None and parts.scheme in ("http", "https") and parts.port == http_port
                    and parts.hostname is not None and parts.hostname == own.hostname)
        except ValueError:
            return False

    async def _handle(self, request: WebSocketRequest) -> None:
        remote = request.remote
        address = client_of(str(getattr(remote, "address", remote)), request.headers, self.s.config)
        key = limit_key(address)
        if not self.accepting:
            await reject(request, 503, b"this node is draining; connect to another node")
            return
        if not self._origin_allowed(request):
            log.warning("refused websocket from %s: Origin not allowed", address)
            await reject(request, 403, b"Origin not allowed; see CHAT_ALLOWED_ORIGINS")
            return
        if self.per_address[key] >= self.s.config.max_connections_per_address:
            await reject(request, 429, b"too many connections from this address")
            return
        if self.prehello_per_address[key] >= self.s.config.prehello_per_address:
            await reject(request, 429, b"too many connections from this address waiting for hello")
            return
        if self.prehello >= self.s.config.max_prehello_connections:
            await reject(request, 503, b"too many connections waiting for hello; retry later")
            return
        self.per_address[key] += 1
        self.connections += 1
        self.prehello += 1
        self.prehello_per_address[key] += 1
        waiting = True

        def said_hello() -> None:
            nonlocal waiting
            if waiting:
                waiting = False
                self.prehello -= 1
                self.prehello_per_address[key] -= 1
                if not self.prehello_per_address[key]:
                    del self.prehello_per_address[key]
        try:
            ws = await request.accept()
            connection = Connection(self.s, ws, key, said_hello)
            self.devices.add(connection.device)
            self.open.add(connection)
            self.connections_changed.notify()
            try:
                await connection.run()
            finally:
                self.devices.discard(connection.device)
                self.open.discard(connection)
        except Exception:  # a bug in one connection must not take the listener (and everyone) down
            log.exception("connection from %s failed", address)
        finally:
            said_hello()  # or closed without
            self.connections -= 1
            self.per_address[key] -= 1
            if not self.per_address[key]:
                del self.per_address[key]
            self.connections_changed.notify()


async def reject(request: WebSocketRequest, status: int, body: bytes) -> None:
    """Refuse the handshake with an HTTP status, then close the TCP connection.

    trio-websocket 0.12 keeps a refused socket open until the client closes it, so a client that never
    does would hold a task forever; its private stream attribute is the only way to close it from here.
    """
    await request.reject(status, body=body)
    stream = getattr(getattr(request, "_connection", None), "_stream", None)
    if isinstance(stream, trio.abc.AsyncResource):
        await trio.aclose_forcefully(stream)
