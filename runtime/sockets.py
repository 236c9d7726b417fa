"""Listening sockets that several chatd processes on one machine can share (SO_REUSEPORT, issue 9).

With `CHAT_REUSE_PORT=true` every process binds the same websocket and HTTP ports and the kernel spreads
new connections over them; a process that dies stops getting new connections at once, and its clients
reconnect to the survivors. Linux and the BSDs have SO_REUSEPORT; elsewhere use a load balancer in front.
"""

from __future__ import annotations

import socket


class ReusePortUnavailable(RuntimeError):
    pass


def shared_port_socket(host: str, port: int, backlog: int = 1024) -> socket.socket:
    """A listening TCP socket on (host, port) with SO_REUSEPORT set, non-blocking."""
    if not hasattr(socket, "SO_REUSEPORT"):
        raise ReusePortUnavailable("reuse_port: this platform has no SO_REUSEPORT; put a load balancer in front")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((host, port))
        sock.listen(backlog)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock
