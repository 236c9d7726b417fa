"""What a request handler works with: the request context (the connection it came on), and the handler type.

A handler is a function `handler(cx, req, reply)`: `cx` says who asks (the connection's device, session and
client address) and holds the node's services; `req` is the decoded frame; `reply` is the request's one-shot
reply handle (actors/reply.py). The handler answers `reply` (`reply.send(frame)`), or puts it into the mailbox
item of the actor that will answer, or raises a Refusal (the connection answers with it). gateway/registry.py
says which handler serves which frame type, and whether the frame needs a `hello` first.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from chatd.actors.device import Device
from chatd.actors.reply import Reply
from chatd.gateway.services import Services
from chatd.protocol.session import Session


@dataclass(eq=False, slots=True)
class Context:
    """One connection, as its requests' handlers see it (one per connection, not per request)."""

    services: Services
    session: Session
    device: Device
    address: str  # the client's limit key (runtime/client_address.py: an IPv6 client's /64)
    on_authenticated: Callable[[float], None]  # a token expiring at this time was accepted (hello, auth)

    @property
    def me(self) -> int:
        """The user the connection said hello as (only handlers of frames that need hello ask)."""
        assert self.session.user_id is not None
        return self.session.user_id


Handler = Callable[[Context, Any, Reply], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Route:
    """How the gateway serves one client frame type."""

    handler: Handler
    needs_hello: bool = True  # refused `unauthorized` before a successful hello (docs/protocol.md section 2)
