"""POST /api/media: the request body is the file, streamed into blob storage as it arrives.

The size limit and the user's daily quota are enforced while streaming (the moment the body passes one,
the answer is a refusal and the partial file is deleted), the content type is sniffed from the first
bytes. Images are staged locally, stripped of their metadata (EXIF, GPS, XMP, ...) with their
orientation applied, then stored, so their sha256 is that of the stored bytes; they get their
dimensions and a thumbnail, stored as a media item of its own. Other files stream straight to storage.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from urllib.parse import unquote

import trio
from starlette.requests import ClientDisconnect, Request

from chatd.media.images import Picture, examine
from chatd.media.names import clean_filename
from chatd.media.sniff import IMAGES, SNIFF_BYTES, sniff
from chatd.media.staging import StagedFile
from chatd.media.storage import READ_CHUNK, BlobStorage, BlobWriter
from chatd.media.strip import strip_metadata
from chatd.persistence.media import NewMedia, new_media_id
from chatd.protocol.errors import ErrorCode, Refusal

IDLE_SECONDS = 60.0  # an upload that sends nothing for this long is dropped (408)
STRIPPED = frozenset({"image/jpeg", "image/png", "image/webp"})  # stored without their metadata (EXIF, GPS, ...)


@dataclass(frozen=True, slots=True)
class Received:
    item: NewMedia
    thumbnail: NewMedia | None
    received: int  # bytes of the request body (what the quota counts; an image stored stripped is smaller)


def check_headers(request: Request, limit: int) -> None:
    """Refuse before reading a byte what the headers already rule out."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind.startswith("multipart/"):
        raise Refusal(ErrorCode.BAD_REQUEST, "send the file's bytes as the request body, not as a multipart form",
                      status=415)
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise Refusal(ErrorCode.TOO_LARGE, f"the file is over the limit of {limit} bytes")


def filename_of(request: Request) -> str | None:
    """?filename=... (URL-encoded), else an X-Filename header (percent-encoded UTF-8); cleaned."""
    raw = request.query_params.get("filename") or unquote(request.headers.get("x-filename", ""))
    return clean_filename(raw)


def body_read(request: Request) -> bool:
    """Whether the whole request body has been read (or the client went away)."""
    return bool(getattr(request.state, "media_body_read", False))


async def _chunks(request: Request) -> AsyncGenerator[bytes, None]:
    """The body's chunks; a Refusal (408) if the client stalls, (400) if it goes away."""
    stream = request.stream().__aiter__()
    while True:
        with trio.move_on_after(IDLE_SECONDS) as idle:
            try:
                chunk = await anext(stream, None)
            except ClientDisconnect:
                request.state.media_body_read = True
                raise Refusal(ErrorCode.BAD_REQUEST, "the upload was cut off") from None
        if idle.cancelled_caught:
            raise Refusal(ErrorCode.BAD_REQUEST, f"the upload sent nothing for {IDLE_SECONDS:.0f} seconds", status=408)
        if chunk is None:
            request.state.media_body_read = True
            return
        if chunk:
            yield chunk


class Allowance(Protocol):
    async def admit(self, total: int) -> None:
        """The upload is about to hold `total` bytes: go on, or raise a Refusal (httpapi/upload_limits.py)."""
        ...


async def receive(request: Request, storage: BlobStorage, limit: int, images: trio.CapacityLimiter,
                  allowance: Allowance, staging: Path) -> Received:
    """Store the body as a blob (and an image's thumbnail as another); the rows are the caller's.

    Images are staged in a local file under `staging` first: their metadata is stripped and what is left
    is stored (and hashed). Everything else streams straight into the blob store.
    """
    check_headers(request, limit)
    filename = filename_of(request)
    declared = request.headers.get("content-length", "")
    if declared.isdigit():
        await allowance.admit(int(declared))
    async with contextlib.AsyncExitStack() as stack:
        chunks = await stack.enter_async_context(contextlib.aclosing(_chunks(request)))
        size, head, pending = 0, b"", []
        sink: BlobWriter | StagedFile | None = None
        async for chunk in chunks:
            size += len(chunk)
            if size > limit:
                raise Refusal(ErrorCode.TOO_LARGE, f"the file is over the limit of {limit} bytes")
            await allowance.admit(size)
            if sink is None:  # until the type is known
                pending.append(chunk)
                head = (head + chunk)[:SNIFF_BYTES]
                if len(head) < SNIFF_BYTES:
                    continue
                sink = await _open_sink(stack, storage, sniff(head), staging)
                for data in pending:
                    await sink.write(data)
                pending = []
            else:
                await sink.write(chunk)
        if size == 0:
            raise Refusal(ErrorCode.BAD_REQUEST, "the body is empty: send the file's bytes as the request body")
        mime = sniff(head)
        if sink is None:
            sink = await _open_sink(stack, storage, mime, staging)
            for data in pending:
                await sink.write(data)
        if isinstance(sink, StagedFile):
            await sink.close()
            return await _store_image(storage, sink.path, mime, filename, size, images)
        sha = await sink.commit()
    return Received(NewMedia(id=new_media_id(), sha256=sha, mime=mime, size=size, filename=filename), None, size)


async def _open_sink(stack: contextlib.AsyncExitStack, storage: BlobStorage, mime: str, staging: Path
                     ) -> BlobWriter | StagedFile:
    if mime in IMAGES:
        return await stack.enter_async_context(StagedFile(staging))
    return await stack.enter_async_context(await storage.open_writer())


def _prepare(src: Path, clean: Path, mime: str) -> tuple[Path, Picture | None]:
    """The file to store (`clean` when metadata was stripped into it, else `src`) and its picture. Blocking."""
    chosen = clean if mime in STRIPPED and strip_metadata(src, clean) else src
    return chosen, examine(chosen)


async def _store_image(storage: BlobStorage, src: Path, mime: str, filename: str | None, received: int,
                       images: trio.CapacityLimiter) -> Received:
    clean = src.with_suffix(".clean.part")
    try:
        chosen, picture = await trio.to_thread.run_sync(_prepare, src, clean, mime, limiter=images)
        async with await storage.open_writer() as writer:
            async with await trio.open_file(chosen, "rb") as fh:
                while data := await fh.read(READ_CHUNK):
                    await writer.write(data)
            size = writer.size
            sha = await writer.commit()
    finally:
        with trio.CancelScope(shield=True):
            await trio.to_thread.run_sync(lambda: clean.unlink(missing_ok=True))
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
    return Received(item, thumbnail, received)
