"""A streamed response from blob storage: chunks are read as they are sent, never the whole file at once.

The read stops (and the file is closed) as soon as the client goes away, and a HEAD request reads nothing.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator, Mapping

import trio
from starlette.responses import Response
from starlette.types import Receive, Scope, Send


class BlobResponse(Response):
    def __init__(self, chunks: AsyncGenerator[bytes, None], *, status_code: int, headers: Mapping[str, str],
                 media_type: str) -> None:
        self.chunks = chunks
        self.status_code = status_code
        self.media_type = media_type
        self.background = None
        self.init_headers(headers)  # the caller sets Content-Length

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async with contextlib.aclosing(self.chunks) as chunks:
            await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
            if scope["method"] == "HEAD":
                await send({"type": "http.response.body", "body": b"", "more_body": False})
                return
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._cancel_on_disconnect, receive, nursery.cancel_scope)
                async for chunk in chunks:
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
                await send({"type": "http.response.body", "body": b"", "more_body": False})
                nursery.cancel_scope.cancel()

    @staticmethod
    async def _cancel_on_disconnect(receive: Receive, scope: trio.CancelScope) -> None:
        await until_disconnect(receive)
        scope.cancel()


async def until_disconnect(receive: Receive) -> None:
    """Return once the client goes away: once the request body is read, the only ASGI message that can come
    is `http.disconnect` (Starlette's `is_disconnected` cannot tell under trio: its receive is cancelled
    before it looks)."""
    while (await receive())["type"] != "http.disconnect":
        pass
