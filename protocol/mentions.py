"""@mentions in message text (pure): which usernames a body names.

A mention is `@` + a username (3-32 of letters, digits, `_` and `.`), not preceded by a word character
or another `@` (so e-mail addresses are not mentions). Dots at the end are sentence punctuation, not part
of the name ("thanks @bob." mentions bob). Matching is case-insensitive, like usernames.
"""

from __future__ import annotations

import functools
import re

MENTION_RE = re.compile(r"(?<![\w@])@([A-Za-z0-9_.]{3,40})")
MAX_MENTIONS = 50  # per message; more is spam, the rest are ignored


def mentioned(body: str | None) -> frozenset[str]:
    """The lower-cased usernames `body` mentions (at most MAX_MENTIONS)."""
    if not body or "@" not in body:
        return frozenset()
    return _mentioned_short(body) if len(body) <= 1024 else _mentioned(body)


@functools.lru_cache(maxsize=4096)  # a message fanned out to a room is checked once per member (<= 4 MiB held)
def _mentioned_short(body: str) -> frozenset[str]:
    return _mentioned(body)


def _mentioned(body: str) -> frozenset[str]:
    found: set[str] = set()
    for match in MENTION_RE.finditer(body):
        name = match.group(1).rstrip(".").lower()
        if 3 <= len(name) <= 32:
            found.add(name)
            if len(found) >= MAX_MENTIONS:
                break
    return frozenset(found)


def mentions_user(body: str | None, username: str) -> bool:
    return username.lower() in mentioned(body)
