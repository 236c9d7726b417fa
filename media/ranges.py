"""Range and conditional requests (RFC 9110 sections 13 and 14), for one representation of known size.

Decisions where the RFC leaves a choice:
- one range per request: a Range with several ranges is ignored (200 with the whole file), as is one that
  does not parse or uses another unit; a server MAY ignore Range.
- a syntactically valid range that starts at or past the end (or a zero-length suffix) is 416.
- If-Range is honoured with our strong ETag; a date (we send no Last-Modified) never matches, so the
  whole file is sent, which is always correct.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_SPEC = re.compile(r"^(\d{0,18})-(\d{0,18})$")


@dataclass(frozen=True, slots=True)
class ByteRange:
    start: int  # first byte
    stop: int  # one past the last byte

    @property
    def length(self) -> int:
        return self.stop - self.start

    def content_range(self, size: int) -> str:
        return f"bytes {self.start}-{self.stop - 1}/{size}"


class RangeNotSatisfiable(Exception):
    """The range is valid but selects nothing of the file: answer 416 with `Content-Range: bytes */size`."""


def parse_range(header: str | None, size: int) -> ByteRange | None:
    """The one range asked for; None to send the whole file. Raises RangeNotSatisfiable."""
    if header is None:
        return None
    unit, eq, spec = header.partition("=")
    if not eq or unit.strip().lower() != "bytes" or "," in spec:
        return None
    m = _SPEC.match(spec.strip())
    if m is None or m.group(1) == m.group(2) == "":
        return None
    first, last = m.group(1), m.group(2)
    if first == "":  # suffix: the last n bytes
        n = int(last)
        if n == 0 or size == 0:
            raise RangeNotSatisfiable
        return ByteRange(max(0, size - n), size)
    start = int(first)
    if last != "" and int(last) < start:
        return None  # invalid, so ignored
    if start >= size:
        raise RangeNotSatisfiable
    return ByteRange(start, min(int(last) + 1, size) if last != "" else size)


def _tags(header: str) -> list[str]:
    return [tag.strip() for tag in header.split(",") if tag.strip()]


def none_match(header: str | None, etag: str) -> bool:
    """Whether If-None-Match matches (weak comparison): the client's copy is current, answer 304."""
    if header is None:
        return False
    def opaque(tag: str) -> str:
        return tag[2:] if tag.startswith("W/") else tag
    return any(tag == "*" or opaque(tag) == opaque(etag) for tag in _tags(header))


def if_range_holds(header: str | None, etag: str) -> bool:
    """Whether a Range may be honoured given If-Range (strong comparison; absent: yes)."""
    return header is None or header.strip() == etag
