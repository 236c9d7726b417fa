"""The HTTP side's one answer to a refusal, and answering one before the request body has been read.

Every endpoint is wrapped in `guarded`: a Refusal it raises becomes `{"code", "message"}` with the HTTP
status of its code (or the status the refusal names: 408, 415) and `Retry-After` when it has a wait. The
exceptions that are not refusals become one here, at this one boundary: the database being unavailable
(503 `retry`), a device signed out while its request ran (401), and anything else (500 `internal`, logged).

An upload may be refused before its body is read (bad token, too large). Hypercorn hands the body to the app
through a short queue, and it can finish a response (and then close a connection whose request was not read
to the end) only once that queue has room: so while the refusal is sent, what arrives of the body is read
and thrown away (`draining`), until the connection closes or the client stops sending.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import trio
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

from chatd.gateway.sessions import SIGNED_OUT
from chatd.persistence.errors import DeviceSignedOut, StoreUnavailable
from chatd.protocol.errors import ErrorCode, Refusal

log = logging.getLogger("chatd.http")

DRAIN_IDLE_SECONDS = 10.0  # stop draining when the client sends nothing for this long
STATUS = {ErrorCode.BAD_REQUEST: 400, ErrorCode.UNAUTHORIZED: 401, ErrorCode.FORBIDDEN: 403,
          ErrorCode.NOT_FOUND: 404, ErrorCode.CONFLICT: 409, ErrorCode.TOO_LARGE: 413,
          ErrorCode.RANGE_NOT_SATISFIABLE: 416, ErrorCode.RATE_LIMITED: 429, ErrorCode.TOO_MANY_UPLOADS: 429,
          ErrorCode.QUOTA_EXCEEDED: 429, ErrorCode.RETRY: 503, ErrorCode.INTERNAL: 500}

Endpoint = Callable[[Request], Awaitable[Response]]


def refusal_response(refusal: Refusal) -> JSONResponse:
    """The one JSON shape of a refusal: `{"code", "message"}`."""
    headers = dict(refusal.headers or {})
    if refusal.retry_after:
        headers["Retry-After"] = str(max(1, round(refusal.retry_after)))
    return JSONResponse({"code": refusal.code.value, "message": refusal.message},
                        status_code=refusal.status or STATUS.get(refusal.code, 400), headers=headers or None)


def as_refusal(exc: Exception) -> Refusal | None:
    """What a failure that is not a refusal tells the client, if it is one the HTTP side expects."""
    if isinstance(exc, Refusal):
        return exc
    if isinstance(exc, StoreUnavailable):
        return Refusal(ErrorCode.RETRY, "the database is unavailable, try again shortly", retry_after=1.0)
    if isinstance(exc, DeviceSignedOut):
        return Refusal(ErrorCode.UNAUTHORIZED, SIGNED_OUT)
    return None


def guarded(endpoint: Endpoint) -> Endpoint:
    """`endpoint`, with whatever it raises answered as a refusal."""
    async def run(request: Request) -> Response:
        try:
            return await endpoint(request)
        except Exception as exc:
            refusal = as_refusal(exc)
            if refusal is None:
                log.exception("%s %s failed", request.method, request.url.path)
                refusal = Refusal(ErrorCode.INTERNAL, "the server failed to handle this request")
            return refusal_response(refusal)
    return run


def draining(endpoint: Endpoint, body_read: Callable[[Request], bool]) -> Endpoint:
    """`endpoint`, whose answer to a POST whose body it did not read (a refusal) drains the rest of the body."""
    async def run(request: Request) -> Response:
        answer = await endpoint(request)
        return ThenDrain(answer) if request.method == "POST" and not body_read(request) else answer
    return run


class ThenDrain(Response):
    """Send `inner` while reading and discarding the rest of the request body (none of it is stored)."""

    def __init__(self, inner: Response) -> None:
        self.inner = inner
        self.status_code = inner.status_code
        self.background = None
        self.raw_headers = inner.raw_headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._drain, receive)  # hypercorn finishes the response only once it can
            await self.inner(scope, receive, send)

    @staticmethod
    async def _drain(receive: Receive) -> None:
        while True:
            with trio.move_on_after(DRAIN_IDLE_SECONDS):
                message = await receive()
                if message["type"] == "http.disconnect" or not message.get("more_body", False):
                    return
                continue
            return
