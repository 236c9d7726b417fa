"""Reactions (pure): what counts as a reaction key, the limits, and how a message's aggregate changes.

A reaction is an emoji (or another short symbol: a skin-tone or ZWJ sequence, a flag, "❤️‍🔥") that a
member puts on a message; one per (user, emoji). The message carries the aggregate, one entry per emoji
in the order each was first used, each with the users who hold it in the order they reacted. The server
stores each `react` / `unreact` as a `reaction_added` / `reaction_removed` event in the room's seq and
rewrites the aggregate in the same commit; clients apply the events to the copy they hold with `apply`'s
rule (docs/protocol.md, "Reactions").
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from typing import Any

MAX_EMOJI_LEN = 32  # code points: the longest ZWJ family sequences are 11
MAX_KINDS = 20  # distinct emoji on one message
MAX_PER_USER = 10  # distinct emoji one user holds on one message
KEYCAP = "\u20e3"
ZWJ = "\u200d"  # joins "👨‍👩‍👧"
TAGS = ("\U000e0020", "\U000e007f")  # subdivision flags ("🏴󠁧󠁢󠁳󠁣󠁴󠁿")

Aggregate = list[dict[str, Any]]  # [{"emoji": str, "users": [int, ...]}, ...]


def emoji_problem(emoji: str) -> str | None:
    """Why `emoji` cannot be a reaction, or None. Not a full emoji grammar: one short run of symbols with
    no letters, digits, spaces, control or formatting characters (bidi overrides), so a reaction is never a
    word or a message and cannot garble the text around it."""
    if not 1 <= len(emoji) <= MAX_EMOJI_LEN:
        return f"must be 1 to {MAX_EMOJI_LEN} characters"
    keycap = KEYCAP in emoji  # "1️⃣": a digit is part of the emoji
    for ch in emoji:
        category = unicodedata.category(ch)
        if (category[0] in "LZ" or category in ("Cc", "Cs", "Co", "Cn")
                or (category == "Cf" and ch != ZWJ and not TAGS[0] <= ch <= TAGS[1])  # no bidi overrides
                or (category[0] == "N" and not keycap)):
            name = unicodedata.name(ch, f"U+{ord(ch):04X}")
            return f"must be an emoji, not text ({name} is not allowed)"
    if not keycap and not any(unicodedata.category(ch) == "So" for ch in emoji):
        return "must contain an emoji symbol"
    return None


def holds(reactions: Sequence[dict[str, Any]] | None, user: int, emoji: str) -> bool:
    return any(r["emoji"] == emoji and user in r["users"] for r in reactions or ())


def limit_problem(reactions: Sequence[dict[str, Any]] | None, user: int, emoji: str) -> str | None:
    """Why `user` may not add `emoji` (which they do not hold yet) to a message with `reactions`, or None."""
    present = reactions or ()
    if not any(r["emoji"] == emoji for r in present) and len(present) >= MAX_KINDS:
        return f"a message holds at most {MAX_KINDS} different reactions"
    if sum(user in r["users"] for r in present) >= MAX_PER_USER:
        return f"you can put at most {MAX_PER_USER} different reactions on one message"
    return None


def apply(reactions: Sequence[dict[str, Any]] | None, user: int, emoji: str, add: bool) -> Aggregate | None:
    """The aggregate after `user` adds or removes `emoji` (None: no reactions left). Adding what is held
    or removing what is not changes nothing, so replaying events onto a newer copy ends where it should."""
    out = [{"emoji": r["emoji"], "users": list(r["users"])} for r in reactions or ()]
    entry = next((r for r in out if r["emoji"] == emoji), None)
    if add:
        if entry is None:
            out.append({"emoji": emoji, "users": [user]})
        elif user not in entry["users"]:
            entry["users"].append(user)
    elif entry is not None and user in entry["users"]:
        entry["users"].remove(user)
        if not entry["users"]:
            out.remove(entry)
    return out or None
