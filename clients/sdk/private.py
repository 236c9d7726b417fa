"""The cache holds the account's refresh token and its conversations: only its owner may read it.

Directories the SDK creates get mode 0700 and the cache file 0600, whatever the umask (created with
``os.open`` / ``mkdir`` and then set, so no moment exists when they are readable by others). A file left
readable by an older client is tightened when it is opened, and so are SQLite's side files (``-wal``,
``-shm``, ``-journal``), which SQLite otherwise creates with the database file's mode.
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600
SIDE_FILES = ("-wal", "-shm", "-journal")


def private_dir(path: Path, *, tighten: bool = False) -> None:
    """Make `path` and its missing parents, each with mode 0700; `tighten`: set 0700 on `path` even if it
    was there already (for a directory that is the client's own, never for one a caller chose)."""
    missing: list[Path] = []
    here = path
    while not here.exists():
        missing.append(here)
        here = here.parent
    for directory in reversed(missing):
        try:
            directory.mkdir(mode=DIR_MODE)
        except FileExistsError:  # made meanwhile by someone else: theirs to set
            continue
        os.chmod(directory, DIR_MODE)  # mkdir's mode went through the umask
    if tighten and stat.S_IMODE(path.stat().st_mode) != DIR_MODE:
        os.chmod(path, DIR_MODE)


def private_file(path: Path) -> None:
    """Create `path` empty with mode 0600 if it is missing, else set its mode (and its side files') to 0600."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)
    finally:
        os.close(fd)
    for suffix in SIDE_FILES:
        with contextlib.suppress(FileNotFoundError):
            os.chmod(path.with_name(path.name + suffix), FILE_MODE)
