"""Serve the HTTP app with hypercorn's trio worker, in the node's own trio loop."""

from __future__ import annotations

import logging

import trio
from hypercorn.config import Config as HypercornConfig
from hypercorn.trio import serve
from starlette.applications import Starlette

from chatd.runtime.sockets import shared_port_socket

log = logging.getLogger("chatd.http")


class HttpServer:
    def __init__(self, app: Starlette, host: str, port: int, reuse_port: bool = False) -> None:
        self.app = app
        self.host = host
        self.port = port  # 0: any free port; the bound one is known once started
        self.reuse_port = reuse_port  # share the port with other processes (runtime/sockets.py)
        self.url: str | None = None

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        config = HypercornConfig()
        host = f"[{self.host}]" if ":" in self.host else self.host
        config.bind = [f"{host}:{self.port}"]
        if self.reuse_port:  # hypercorn takes over a socket we made (and closes it when done)
            config.bind = [f"fd://{shared_port_socket(self.host, self.port).detach()}"]
        config.accesslog = None
        config.errorlog = logging.getLogger("chatd.http.hypercorn")
        config.graceful_timeout = 2.0
        async with trio.open_nursery() as nursery:
            binds = await nursery.start(serve, self.app, config)  # type: ignore[arg-type]
            self.url = binds[0].rstrip("/") + "/"
            self.port = int(self.url.rsplit(":", 1)[1].strip("/"))
            log.info("HTTP side on %s", self.url)
            task_status.started()
