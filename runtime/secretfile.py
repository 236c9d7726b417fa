"""Secrets kept in files of the data directory: made once, readable by their owner only (mode 0600).

The JWT secret, the VAPID key and the embedded Redis password live here. A secret is written to a
private draft and linked into place, so a file appears complete or not at all, and processes starting
together agree on the first one made.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

FILE_MODE = 0o600


def write_private(path: Path, text: str) -> None:
    """Write `text` to `path` with mode 0600 (set before a byte is written, whatever the umask)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0), FILE_MODE)
    with os.fdopen(fd, "w") as fh:
        os.fchmod(fd, FILE_MODE)  # an existing file keeps its old mode through O_CREAT
        fh.write(text)


def kept_secret(directory: Path, name: str, make: Callable[[], str]) -> str:
    """The value kept in directory/name, made with `make` first if absent."""
    path = directory / name
    if not path.exists():
        directory.mkdir(parents=True, exist_ok=True)
        draft = directory / f".{name}.{os.getpid()}.{secrets.token_hex(4)}"
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
        with os.fdopen(fd, "w") as fh:
            fh.write(make())
        with contextlib.suppress(FileExistsError):  # another process made it first: theirs it is
            os.link(draft, path)  # appears complete or not at all
        draft.unlink()
    return path.read_text().strip()


def redacted(url: str) -> str:
    """`url` with any password replaced by `***`, for logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = f"{parts.username}:***" if parts.username else ":***"
    return urlunsplit(parts._replace(netloc=f"{user}@{parts.hostname}{f':{parts.port}' if parts.port else ''}"))
