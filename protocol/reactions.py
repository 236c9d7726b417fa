"""Reactions (pure): what counts as a reaction key, the limits, and how a message's aggregate changes.

A reaction is an emoji (or another short symbol: a skin-tone or ZWJ sequence, a flag, "❤️‍🔥") that a
member puts on a message; one per (user, emoji). The message carries the aggregate, one entry per emoji
in the order each was first used, each with the users who hold it in the order they reacted. The server
stores each `react` / `unreact` as a `reaction_added` / `reaction_removed` event in the room's seq and
rewrites the aggregate in the same commit; clients apply the events to the copy they hold with `apply`'s
rule (docs/protocol.md 3.4, `react`).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from typing import Any

MAX_EMOJI_LEN = 32  # code points: the longest ZWJ family sequences are 11
MAX_KINDS = 20  # distinct emoji on one message
MAX_PER_USER = 10  # distinct emoji one user holds on one message
ZWJ = "\u200d"  # joins "👨‍👩‍👧"
TAGS = ("\U000e0020", "\U000e007f")  # subdivision flags ("🏴󠁧󠁢󠁳󠁣󠁴󠁿")

Aggregate = list[dict[str, Any]]  # [{"emoji": str, "users": [int, ...]}, ...]


def emoji_problem(emoji: str) -> str | None:
    """Why `emoji` cannot be a reaction, or None. A reaction is one emoji: a symbol with at most a
    variation selector and a skin tone, such elements joined by ZWJ ("👨‍👩‍👧"), a flag (two regional
    indicators, or the black flag with tags), or a keycap ("1️⃣"). So it is never a word or a message,
    cannot garble the text around it (no bidi overrides, no stacked combining marks), and one that looks
    like 👍 is 👍 (no invisible characters or repeated selectors making a second entry)."""
    if not 1 <= len(emoji) <= MAX_EMOJI_LEN:
        return f"must be 1 to {MAX_EMOJI_LEN} characters"
    if _KEYCAP_RE.fullmatch(emoji):
        return None
    for ch in emoji:
        category = unicodedata.category(ch)
        if (category[0] in "LNZ" or category in ("Cc", "Cs", "Co", "Cn")
                or (category == "Cf" and ch != ZWJ and not TAGS[0] <= ch <= TAGS[1])):  # no bidi overrides
            name = unicodedata.name(ch, f"U+{ord(ch):04X}")
            return f"must be an emoji, not text ({name} is not allowed)"
    if not _one_emoji(emoji):
        return "must be one emoji (a symbol with its skin tone, a ZWJ sequence, a flag or a keycap)"
    return None


_KEYCAP_RE = re.compile("[0-9#*]\ufe0f?\u20e3")
_SELECTORS = ("\ufe0e", "\ufe0f")
_SKIN = ("\U0001f3fb", "\U0001f3ff")
_INDICATORS = ("\U0001f1e6", "\U0001f1ff")
_BLACK_FLAG, _CANCEL_TAG = "\U0001f3f4", "\U000e007f"
_BLANKS = frozenset("\u2800")  # a symbol by category that shows nothing


def _one_emoji(s: str) -> bool:
    if len(s) == 2 and all(_INDICATORS[0] <= c <= _INDICATORS[1] for c in s):
        return True  # a flag: "🇫🇷"
    if len(s) > 2 and s[0] == _BLACK_FLAG and s[-1] == _CANCEL_TAG:  # "🏴󠁧󠁢󠁳󠁣󠁴󠁿"
        return all(TAGS[0] <= c < _CANCEL_TAG for c in s[1:-1])
    return all(_element(part) for part in s.split(ZWJ))


def _element(part: str) -> bool:
    """One symbol, then at most a variation selector, a skin tone and a variation selector, in that order."""
    if not part or unicodedata.category(part[0]) != "So" or part[0] in _BLANKS:
        return False
    if _INDICATORS[0] <= part[0] <= _INDICATORS[1]:
        return False  # a lone regional indicator is half a flag
    rest, i = part[1:], 0
    for allowed in (lambda c: c in _SELECTORS, lambda c: _SKIN[0] <= c <= _SKIN[1], lambda c: c in _SELECTORS):
        if i < len(rest) and allowed(rest[i]):
            i += 1
    return i == len(rest)


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
