"""The HTTP side's client address: the TCP peer, or what a trusted proxy forwarded (gateway/client_address.py).

Hypercorn reports the TCP peer as it is (no proxy-header middleware rewrites it); only this decides.
"""

from __future__ import annotations

from starlette.requests import Request

from chatd.config import Config
from gateway.forwarded import client_of


def request_address(request: Request, config: Config) -> str:
    """The client behind this request, for logs; gateway.client_address.limit_key of it for limits."""
    peer = request.client.host if request.client else "unknown"
    return client_of(peer, request.headers.raw, config)
