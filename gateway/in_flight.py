"""How many of something one key (a client address) has under way on this process, capped.

`InFlight.hold(key, most)` counts one more for `key` for the length of a `with` block, or raises TooManyInFlight
when `key` already has `most`. The count goes down when the block ends however it ends (an error, a
cancellation), so a client cannot leak its budget away.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


class TooManyInFlight(Exception):
    """The key already has as many under way as it may."""


class InFlight:
    def __init__(self) -> None:
        self._counts: dict[str, int] = {}

    def count(self, key: str) -> int:
        return self._counts.get(key, 0)

    @contextmanager
    def hold(self, key: str, most: int) -> Iterator[None]:
        n = self._counts.get(key, 0)
        if n >= most:
            raise TooManyInFlight(f"{key} already has {n} under way")
        self._counts[key] = n + 1
        try:
            yield
        finally:
            left = self._counts[key] - 1
            if left:
                self._counts[key] = left
            else:
                del self._counts[key]  # a key with nothing under way holds no memory
