"""Blob storage for media: content-addressed by sha256, so identical bytes are stored once.

`BlobStorage` is what the HTTP side uses; `DiskStorage` keeps blobs under a directory, and an
S3-compatible store could take its place (a multipart upload for the writer, ranged GETs for reading,
a temporary download for `local_file`). Every file operation runs in a worker thread: the trio loop
never blocks on the disk.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import secrets
import time
from collections.abc import AsyncGenerator, AsyncIterator
from pathlib import Path
from types import TracebackType
from typing import BinaryIO, Protocol

import trio

log = logging.getLogger("chatd.media")

READ_CHUNK = 256 * 1024  # bytes per read when serving a blob
WRITE_BUFFER = 256 * 1024  # bytes gathered before one write (one thread hop) when storing
STALE_SECONDS = 24 * 3600  # temporary files older than this are left over from a crash
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class BlobWriter(Protocol):
    """One upload in progress. Use it as `async with`: leaving without `commit` discards what was written."""

    @property
    def size(self) -> int: ...
    async def write(self, data: bytes) -> None: ...
    async def commit(self) -> str:
        """Make the bytes durable and readable under their sha256 (returned); identical bytes are reused."""
        ...
    async def abort(self) -> None:
        """Discard what was written (nothing after `commit`); safe to call twice."""
        ...
    async def __aenter__(self) -> BlobWriter: ...
    async def __aexit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None: ...


class BlobStorage(Protocol):
    async def open_writer(self) -> BlobWriter: ...
    def read_range(self, sha256: str, start: int, stop: int) -> AsyncGenerator[bytes, None]:
        """Bytes [start, stop) of a blob, in chunks; close the generator (aclose) if you stop early."""
        ...
    async def exists(self, sha256: str) -> bool: ...
    async def size(self, sha256: str) -> int | None:
        """The blob's size in bytes, None if there is no such blob."""
        ...
    def local_file(self, sha256: str) -> contextlib.AbstractAsyncContextManager[Path]:
        """A local file holding the blob, for as long as the context lasts (for decoders that need a file)."""
        ...
    async def delete(self, sha256: str) -> None:
        """Remove a blob (nothing if there is none). Only the media collector calls this (media/collector.py)."""
        ...
    async def blobs_older_than(self, seconds: float) -> list[str]:
        """The sha256 of every blob last written more than `seconds` ago (the collector's sweep for blobs that
        lost their rows: an upload whose database write failed after its bytes were stored)."""
        ...


class DiskWriter:
    def __init__(self, storage: DiskStorage, temp: Path, fh: BinaryIO) -> None:
        self._storage = storage
        self._temp = temp
        self._fh: BinaryIO | None = fh
        self._hash = hashlib.sha256()
        self._pending: list[bytes] = []
        self._pending_bytes = 0
        self._size = 0
        self._done = False

    @property
    def size(self) -> int:
        return self._size

    async def __aenter__(self) -> DiskWriter:
        return self

    async def __aexit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.abort()

    async def write(self, data: bytes) -> None:
        if self._done:
            raise RuntimeError("this writer is closed")
        self._pending.append(data)
        self._pending_bytes += len(data)
        self._size += len(data)
        if self._pending_bytes >= WRITE_BUFFER:
            await self._flush()

    async def _flush(self) -> None:
        data, self._pending, self._pending_bytes = b"".join(self._pending), [], 0
        fh = self._fh
        assert fh is not None
        def write() -> None:
            self._hash.update(data)  # hashlib drops the GIL for large buffers
            fh.write(data)
        await trio.to_thread.run_sync(write)

    async def commit(self) -> str:
        await self._flush()
        fh, self._fh, self._done = self._fh, None, True
        assert fh is not None
        sha = self._hash.hexdigest()
        final = self._storage.path_of(sha)
        size = self._size

        def finish() -> None:
            try:
                fh.flush()
                os.fsync(fh.fileno())
            finally:
                fh.close()
            final.parent.mkdir(parents=True, exist_ok=True)
            try:
                same = final.stat().st_size == size
            except FileNotFoundError:
                same = False
            if same:
                self._temp.unlink()  # already stored: keep the one blob
            else:
                os.replace(self._temp, final)  # atomic: readers see all of it or nothing
        try:
            with trio.CancelScope(shield=True):
                await trio.to_thread.run_sync(finish)
        except BaseException:
            await self._remove_temp()
            raise
        return sha

    async def abort(self) -> None:
        if self._done and self._fh is None:
            return
        self._done = True
        fh, self._fh = self._fh, None
        with trio.CancelScope(shield=True):
            if fh is not None:
                await trio.to_thread.run_sync(fh.close)
            await self._remove_temp()

    async def _remove_temp(self) -> None:
        with trio.CancelScope(shield=True):
            await trio.to_thread.run_sync(lambda: self._temp.unlink(missing_ok=True))


class DiskStorage:
    """Blobs at ROOT/ab/cd/<sha256>; uploads in progress at ROOT/tmp/<random>.part (same file system)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.temp_dir = root / "tmp"
        self._swept = False

    def path_of(self, sha256: str) -> Path:
        if not _SHA256.match(sha256):
            raise ValueError(f"not a sha256 hex digest: {sha256!r}")
        return self.root / sha256[:2] / sha256[2:4] / sha256

    async def open_writer(self) -> DiskWriter:
        temp = self.temp_dir / f"{secrets.token_hex(16)}.part"

        def create() -> BinaryIO:
            self.temp_dir.mkdir(parents=True, exist_ok=True)
            return open(temp, "xb")  # closed by the writer
        if not self._swept:
            self._swept = True
            await trio.to_thread.run_sync(self._sweep_stale)
        fh = await trio.to_thread.run_sync(create)
        return DiskWriter(self, temp, fh)

    def _sweep_stale(self) -> None:
        """Remove temporary files a crashed process left behind (in a worker thread)."""
        cutoff = time.time() - STALE_SECONDS
        with contextlib.suppress(FileNotFoundError):
            for entry in self.temp_dir.iterdir():
                with contextlib.suppress(OSError):
                    if entry.suffix == ".part" and entry.stat().st_mtime < cutoff:
                        entry.unlink()
                        log.info("removed a stale upload %s", entry)

    async def read_range(self, sha256: str, start: int, stop: int) -> AsyncGenerator[bytes, None]:
        async with await trio.open_file(self.path_of(sha256), "rb") as fh:  # closing is shielded
            await fh.seek(start)
            remaining = stop - start
            while remaining > 0:
                data = await fh.read(min(READ_CHUNK, remaining))
                if not data:
                    raise OSError(f"blob {sha256} ended {remaining} bytes early")
                remaining -= len(data)
                yield data

    async def exists(self, sha256: str) -> bool:
        return await self.size(sha256) is not None

    async def size(self, sha256: str) -> int | None:
        try:
            return (await trio.Path(self.path_of(sha256)).stat()).st_size
        except FileNotFoundError:
            return None

    @contextlib.asynccontextmanager
    async def local_file(self, sha256: str) -> AsyncIterator[Path]:
        yield self.path_of(sha256)

    async def delete(self, sha256: str) -> None:
        await trio.Path(self.path_of(sha256)).unlink(missing_ok=True)

    async def blobs_older_than(self, seconds: float) -> list[str]:
        def walk() -> list[str]:
            cutoff, found = time.time() - seconds, []
            for path in self.root.glob("[0-9a-f][0-9a-f]/[0-9a-f][0-9a-f]/*"):
                with contextlib.suppress(OSError):  # deleted meanwhile
                    if _SHA256.match(path.name) and path.stat().st_mtime < cutoff:
                        found.append(path.name)
            return found
        return await trio.to_thread.run_sync(walk)
