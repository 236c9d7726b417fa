"""The HTTP side's client address: the TCP peer, or what a trusted proxy forwarded (runtime/client_address.py).

Hypercorn reports the TCP peer as it is (no proxy-header middleware rewrites it); only this decides.
"""

from __future__ import annotations

from starlette.requests import Request

from chatd.gateway.forwarded import client_of
from chatd.runtime.config import Config


def request_address(request: Request, config: Config) -> str:
    """The client behind this request, for logs; runtime.client_address.limit_key of it for limits."""
    peer = request.client.host if request.client else "unknown"
    return client_of(peer, request.headers.raw, config)
