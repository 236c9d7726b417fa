"""A local file for an upload that must be worked on before it is stored (an image: its metadata is
stripped first, media/strip.py). Written through worker threads; removed when the context ends."""

from __future__ import annotations

import secrets
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

import trio


class StagedFile:
    def __init__(self, directory: Path) -> None:
        self.path = directory / f"{secrets.token_hex(16)}.part"  # .part: DiskStorage sweeps stale ones
        self.size = 0
        self._fh: BinaryIO | None = None

    async def __aenter__(self) -> StagedFile:
        def create() -> BinaryIO:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            return open(self.path, "xb")
        self._fh = await trio.to_thread.run_sync(create)
        return self

    async def write(self, data: bytes) -> None:
        assert self._fh is not None
        await trio.to_thread.run_sync(self._fh.write, data)
        self.size += len(data)

    async def close(self) -> None:
        """Finish writing (the file stays until the context ends)."""
        fh, self._fh = self._fh, None
        if fh is not None:
            await trio.to_thread.run_sync(fh.close)

    async def __aexit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        with trio.CancelScope(shield=True):
            await self.close()
            await trio.to_thread.run_sync(lambda: self.path.unlink(missing_ok=True))
