"""POST /api/media: the request body is the file, streamed into blob storage as it arrives.

The size limit is enforced while streaming (413 the moment the body passes it, and the partial file is
deleted), the sha256 is computed on the way, and the content type is sniffed from the first bytes.
Images then get their dimensions and a thumbnail, stored as a media item of its own.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from urllib.parse import unquote

import trio
from starlette.requests import ClientDisconnect, Request

from httpapi.refused import Refused
from media.images import Picture, examine
from media.names import clean_filename
from media.sniff import IMAGES, SNIFF_BYTES, sniff
from media.storage import BlobStorage
from persistence.media import NewMedia, new_media_id

IDLE_SECONDS = 60.0  # an upload that sends nothing for this long is dropped (408)


@dataclass(frozen=True, slots=True)
class Received:
    item: NewMedia
    thumbnail: NewMedia | None


def check_headers(request: Request, limit: int) -> None:
    """Refuse before reading a byte what the headers already rule out."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind.startswith("multipart/"):
        raise Refused(415, "bad_request", "send the file's bytes as the request body, not as a multipart form")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise Refused(413, "too_large", f"the file is over the limit of {limit} bytes")


def filename_of(request: Request) -> str | None:
    """?filename=... (URL-encoded), else an X-Filename header (percent-encoded UTF-8); cleaned."""
    raw = request.query_params.get("filename") or unquote(request.headers.get("x-filename", ""))
    return clean_filename(raw)


def body_read(request: Request) -> bool:
    """Whether the whole request body has been read (or the client went away)."""
    return bool(getattr(request.state, "media_body_read", False))


async def _chunks(request: Request) -> AsyncGenerator[bytes, None]:
    """The body's chunks; Refused(408) if the client stalls, Refused(400) if it goes away."""
    stream = request.stream().__aiter__()
    while True:
        with trio.move_on_after(IDLE_SECONDS) as idle:
            try:
                chunk = await anext(stream, None)
            except ClientDisconnect:
                request.state.media_body_read = True
                raise Refused(400, "bad_request", "the upload was cut off") from None
        if idle.cancelled_caught:
            raise Refused(408, "bad_request", f"the upload sent nothing for {IDLE_SECONDS:.0f} seconds")
        if chunk is None:
            request.state.media_body_read = True
            return
        if chunk:
            yield chunk


async def receive(request: Request, storage: BlobStorage, limit: int, images: trio.CapacityLimiter) -> Received:
    """Store the body as a blob (and an image's thumbnail as another); the rows are the caller's."""
    check_headers(request, limit)
    filename = filename_of(request)
    head = b""
    async with await storage.open_writer() as writer, contextlib.aclosing(_chunks(request)) as chunks:
        async for chunk in chunks:
            if writer.size + len(chunk) > limit:
                raise Refused(413, "too_large", f"the file is over the limit of {limit} bytes")
            if len(head) < SNIFF_BYTES:
                head += chunk[:SNIFF_BYTES - len(head)]
            await writer.write(chunk)
        if writer.size == 0:
            raise Refused(400, "bad_request", "the body is empty: send the file's bytes as the request body")
        size = writer.size
        sha = await writer.commit()
    mime = sniff(head)
    picture: Picture | None = None
    if mime in IMAGES:
        async with storage.local_file(sha) as path:
            picture = await trio.to_thread.run_sync(examine, path, limiter=images)
    item = NewMedia(id=new_media_id(), sha256=sha, mime=mime, size=size, filename=filename,
                    width=picture.width if picture else None, height=picture.height if picture else None)
    thumbnail = None
    if picture is not None and picture.thumbnail is not None:
        thumb = picture.thumbnail
        async with await storage.open_writer() as writer:
            await writer.write(thumb.data)
            thumb_sha = await writer.commit()
        thumbnail = NewMedia(id=new_media_id(), sha256=thumb_sha, mime=thumb.mime, size=len(thumb.data),
                             width=thumb.width, height=thumb.height)
    return Received(item, thumbnail)
