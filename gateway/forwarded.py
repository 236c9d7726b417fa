"""The client address of a websocket handshake or an HTTP request, by the configuration (both sides call this).

runtime/client_address.py decides, purely; this adds the one thing an operator needs to hear: a trusted
proxy that sends the forwarding header CHAT_FORWARDED_HEADER does not name makes every client look like
the proxy, so every per-address budget is shared by everyone. That is logged once per process.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from chatd.runtime.client_address import client_address, ignored_header
from chatd.runtime.config import Config

log = logging.getLogger("chatd.gateway")

_warned = False


def client_of(peer: str, headers: Iterable[tuple[bytes, bytes]], config: Config) -> str:
    global _warned
    headers = list(headers)
    if not _warned and config.trusted_proxies:
        other = ignored_header(peer, headers, config.trusted_networks, config.forwarded_header)
        if other is not None:
            _warned = True
            log.warning("trusted proxy %s sends %s but CHAT_FORWARDED_HEADER is %s: every client counts as the "
                        "proxy for per-address limits; set CHAT_FORWARDED_HEADER=%s if that is what it writes",
                        peer, other, config.forwarded_header, other)
    return client_address(peer, headers, config.trusted_networks, config.forwarded_header)
