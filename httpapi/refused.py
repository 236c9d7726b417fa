"""Refusals for the media endpoints, and answering one before the request body has been read.

The media endpoints answer with statuses the websocket's error codes have no counterpart for (408, 415,
416). An upload may be refused before its body is read (bad token, too large). Hypercorn hands the body
to the app through a short queue, and it can finish a response (and then close a connection whose
request was not read to the end) only once that queue has room: so while the refusal is sent, what
arrives of the body is read and thrown away, until the connection closes or the client stops sending.
"""

from __future__ import annotations

import trio
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

DRAIN_IDLE_SECONDS = 10.0  # stop draining when the client sends nothing for this long


class Refused(Exception):
    """Answer `status` with `{"code", "message"}` (and `headers`)."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.headers = headers

    def response(self) -> JSONResponse:
        return JSONResponse({"code": self.code, "message": str(self)}, status_code=self.status, headers=self.headers)


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
