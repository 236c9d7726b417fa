"""Who may see which profile field (docs/protocol.md 7.1): the one place that decides it, pure.

Levels per field: `everyone`, `contacts` (people who currently share a room with the owner) or `nobody`.
The owner always sees everything. Online state follows the level of `last_seen`, as in common messengers.
Text a user puts in a profile field is checked here too (lengths are checked by the frame schema).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from typing import TypeGuard, get_args

from chatd.protocol.people import DEFAULT_VISIBILITY, PROFILE_FIELDS, Level, ProfileField

LEVELS: frozenset[str] = frozenset(get_args(Level))
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f")


def levels(chosen: Mapping[str, str | None]) -> dict[ProfileField, Level]:
    """Every field's level: what the owner chose, else the server default."""
    out: dict[ProfileField, Level] = {}
    for name in PROFILE_FIELDS:
        level = chosen.get(name)
        out[name] = level if is_level(level) else DEFAULT_VISIBILITY[name]
    return out


def is_level(value: object) -> TypeGuard[Level]:
    return value in LEVELS


def may_see(level: Level, *, own: bool, contact: bool) -> bool:
    return own or level == "everyone" or (level == "contacts" and contact)


def text_problem(name: str, value: str) -> str | None:
    """Why `value` cannot be profile field `name`, or None. "" (clear the field) is always fine."""
    if value == "":
        return None
    if name == "about":
        if any(unicodedata.category(c) == "Cc" and c not in "\n\t" for c in value):
            return "about must not contain control characters (newlines and tabs are fine)"
        return None
    if any(unicodedata.category(c) == "Cc" for c in value):
        return f"{name} must not contain control characters such as newlines"
    if name == "display_name":
        if not value.strip():
            return 'display_name must not be only spaces (send "" to clear it)'
        if any(c in BIDI_CONTROLS for c in value):
            return "display_name must not contain bidirectional control characters"
    if name == "avatar" and any(c.isspace() for c in value):
        return "avatar must not contain spaces"
    return None
