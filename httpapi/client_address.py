"""The HTTP side's client address: the TCP peer, or what a trusted proxy forwarded (gateway/client_address.py).

Hypercorn reports the TCP peer as it is (no proxy-header middleware rewrites it); only this decides.
"""

from __future__ import annotations

from starlette.requests import Request

from chatd.config import Config
from gateway.client_address import client_address


def request_address(request: Request, config: Config) -> str:
    """The client behind this request, for logs; gateway.client_address.limit_key of it for limits."""
    peer = request.client.host if request.client else "unknown"
    return client_address(peer, request.headers.raw, config.trusted_networks, config.forwarded_header)
