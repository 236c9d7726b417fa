"""File names: cleaning what a client sends, and the Content-Disposition header that gives it back."""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import quote

MAX_NAME = 255  # characters
_ATTR_CHARS = "!#$&+-.^_`|~"  # RFC 5987 attr-char, besides ALPHA / DIGIT
_ASCII_UNSAFE = re.compile(r'[^A-Za-z0-9 !#$&()+,\-.;=@\[\]^_`{}~]')


def clean_filename(raw: str | None) -> str | None:
    """A harmless display name from a client's file name, or None if nothing is left of it.

    Keeps the last path component, drops control and format characters (so a right-to-left override
    cannot disguise `gnp.exe` as `exe.png`), collapses white space, strips leading dots and spaces, and
    shortens it to MAX_NAME characters keeping the extension.
    """
    if not raw:
        return None
    name = unicodedata.normalize("NFC", raw).replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(" " if ch.isspace() else ch for ch in name
                   if ch.isspace() or unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Co", "Cn"))
    name = " ".join(name.split()).lstrip(". ").rstrip(" ")
    if len(name) > MAX_NAME:
        stem, dot, ext = name.rpartition(".")
        name = stem[:MAX_NAME - len(ext) - 1] + "." + ext if dot and 0 < len(ext) <= 16 else name[:MAX_NAME]
    return name or None


def content_disposition(inline: bool, filename: str) -> str:
    """`inline` or `attachment`, with an ASCII fallback name and the exact one (RFC 6266, RFC 5987)."""
    fallback = _ASCII_UNSAFE.sub("_", filename) or "file"
    exact = quote(filename, safe=_ATTR_CHARS)
    return f"{'inline' if inline else 'attachment'}; filename=\"{fallback}\"; filename*=UTF-8''{exact}"
