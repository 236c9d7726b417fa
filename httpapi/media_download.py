"""GET /api/media/{id}: the bytes of a media item the requester may read, streamed, with Range and ETag."""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import Response

from chatd.httpapi.blob_response import BlobResponse
from chatd.media.names import content_disposition
from chatd.media.ranges import ByteRange, RangeNotSatisfiable, if_range_holds, none_match, parse_range
from chatd.media.sniff import EXTENSIONS, shown_inline
from chatd.media.storage import BlobStorage
from chatd.persistence.media import StoredMedia
from chatd.protocol.errors import ErrorCode, Refusal

log = logging.getLogger("chatd.media")

CACHE_CONTROL = "private, max-age=86400"  # the bytes behind an id never change; only this user may reuse them


def common_headers(stored: StoredMedia, cache_seconds: int | None = None) -> dict[str, str]:
    info = stored.info
    name = info.filename or f"{info.id}{EXTENSIONS.get(info.mime, '.bin')}"
    return {
        "ETag": f'"{stored.sha256}"',
        "Accept-Ranges": "bytes",
        "Cache-Control": CACHE_CONTROL if cache_seconds is None else f"private, max-age={max(0, cache_seconds)}",
        "Content-Disposition": content_disposition(shown_inline(info.mime), name),
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'; sandbox",  # even if opened as a page, nothing runs
    }


async def serve(request: Request, stored: StoredMedia, storage: BlobStorage,
                cache_seconds: int | None = None) -> Response:
    """`cache_seconds`: how long the browser may keep the answer (default CACHE_CONTROL's day)."""
    info = stored.info
    headers = common_headers(stored, cache_seconds)
    etag = headers["ETag"]
    if none_match(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    if await storage.size(stored.sha256) != info.size:
        log.error("media %s: blob %s is missing or has the wrong size", info.id, stored.sha256)
        raise Refusal(ErrorCode.INTERNAL, "the content of this media item is missing on the server")
    part: ByteRange | None = None
    if if_range_holds(request.headers.get("if-range"), etag):
        try:
            part = parse_range(request.headers.get("range"), info.size)
        except RangeNotSatisfiable:
            raise Refusal(ErrorCode.RANGE_NOT_SATISFIABLE, f"the range is outside the file's {info.size} bytes",
                          headers={"Content-Range": f"bytes */{info.size}", "Accept-Ranges": "bytes"}) from None
    status = 206 if part is not None else 200
    if part is None:
        part = ByteRange(0, info.size)
    else:
        headers["Content-Range"] = part.content_range(info.size)
    headers["Content-Length"] = str(part.length)
    return BlobResponse(storage.read_range(stored.sha256, part.start, part.stop), status_code=status,
                        headers=headers, media_type=info.mime)
