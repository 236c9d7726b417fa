"""A stand-in push service on 127.0.0.1 and a browser's side of a subscription, for tests/test_push.py.

The service records every request and answers 201, or what it was told for that path (500, 410...).
The browser holds a real P-256 key pair and auth secret and decrypts what reaches it (aes128gcm).
"""

from __future__ import annotations

import base64
import json
import os
import uuid
from dataclasses import dataclass
from typing import Any

import http_ece
import trio
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from chatd.httpapi.server import HttpServer


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]  # lower-case names
    body: bytes
    answered: int


class PushService:
    def __init__(self) -> None:
        self.received: list[Received] = []
        self.answers: dict[str, list[int]] = {}  # path -> statuses for its next requests (then 201)
        self._changed = trio.Event()
        self.server: HttpServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None and self.server.url is not None
        return self.server.url.rstrip("/")

    async def start(self, nursery: trio.Nursery) -> PushService:
        async def push(request: Request) -> Response:
            path = request.url.path
            queued = self.answers.get(path)
            status = queued.pop(0) if queued else 201
            self.received.append(Received(path, {k.lower(): v for k, v in request.headers.items()},
                                          await request.body(), status))
            self._changed.set()
            self._changed = trio.Event()
            return Response(b"" if status < 300 else b"nope", status_code=status)

        self.server = HttpServer(Starlette(routes=[Route("/push/{name}", push, methods=["POST"])]), "127.0.0.1", 0)
        await nursery.start(self.server.run)
        return self

    def to(self, path: str) -> list[Received]:
        return [r for r in self.received if r.path == path]

    async def wait_for(self, path: str, count: int, timeout: float = 10.0) -> list[Received]:
        """The first `count` requests to `path`, once they have arrived."""
        with trio.fail_after(timeout):
            while len(self.to(path)) < count:
                await self._changed.wait()
        return self.to(path)[:count]


class Browser:
    """One browser profile's push subscription: its endpoint on the test service and its keys."""

    def __init__(self, service: PushService | None = None) -> None:
        self.path = f"/push/{uuid.uuid4().hex}"
        self.endpoint = (service.url if service else "https://fcm.googleapis.com") + self.path
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.auth = os.urandom(16)

    def subscription(self) -> dict[str, Any]:
        point = self.key.public_key().public_bytes(serialization.Encoding.X962,
                                                   serialization.PublicFormat.UncompressedPoint)
        return {"endpoint": self.endpoint, "expirationTime": None,
                "keys": {"p256dh": b64url(point), "auth": b64url(self.auth)}}

    def decrypt(self, received: Received) -> dict[str, Any]:
        assert received.headers["content-encoding"] == "aes128gcm"
        plain = http_ece.decrypt(received.body, private_key=self.key, auth_secret=self.auth, version="aes128gcm")
        return json.loads(plain)  # type: ignore[no-any-return]
