"""The input line's commands, parsed (pure): what the user typed after `/`, or a CommandError saying how
to write it. A name with spaces goes in quotes where more words follow (`/group "Team Rocket" bob`);
where it is the last thing on the line it needs none (`/open Team Rocket`)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from chatd.protocol.reactions import emoji_problem

USAGE = {
    "dm": "/dm USER [--encrypted]",
    "group": '/group NAME USER... [--encrypted]  (a name with spaces in quotes: /group "Team Rocket" bob carol)',
    "open": "/open ROOM NAME",
    "invite": "/invite",
    "join": "/join LINK",
    "file": "/file PATH [caption]",
    "edit": "/edit NEW TEXT",
    "delete": "/delete",
    "reply": "/reply TEXT",
    "react": "/react EMOJI",
    "unreact": "/unreact EMOJI",
    "approve": "/approve CODE  (sign another device in by its QR login code)",
    "encrypt": "/encrypt  (turn end-to-end encryption on for the open room, for good)",
    "unlock": "/unlock  (type your password to read and send encrypted messages on this device)",
    "backup": "/backup  (back up your message keys; shows a recovery key once)",
    "restore": "/restore RECOVERY KEY  (read your encrypted history on this device from the key backup)",
    "devices": "/devices USER  (their devices, and which ones you verified)",
    "verify": "/verify USER [DEVICE] · /verify accept · /verify confirm · /verify cancel  (compare emoji)",
    "older": "/older",
    "help": "/help",
}
KEYS = "Keys: Up selects a message (then Up/Down); on it e edit · d delete · r reply · + react; Esc back; Ctrl+O older"
HELP = "\n".join([*USAGE.values(), KEYS])


class CommandError(ValueError):
    """The line is not a command we know, or not written as its usage says (the message says how)."""


@dataclass(frozen=True)
class Command:
    name: str  # "dm", "group", ... (the keys of USAGE)
    words: tuple[str, ...] = ()  # user names, a path, a link, a group name: each one argument
    text: str = ""  # free text: a caption, an edit's new body, a room name
    encrypted: bool = False  # /dm and /group with --encrypted: the room is made end-to-end encrypted


ENCRYPTED_FLAGS = ("--encrypted", "-e")  # never a user name (those are letters, digits, _ and .)
VERIFY_STEPS = ("accept", "confirm", "cancel")  # /verify STEP acts on the verification under way


def first_word(text: str) -> tuple[str, str]:
    """The first argument of `text` (quoted with " or ' when it holds spaces) and what follows it."""
    text = text.lstrip()
    if text[:1] in ('"', "'"):
        end = text.find(text[0], 1)
        if end < 0:
            raise CommandError(f"no closing {text[0]} after {text}")
        return text[1:end], text[end + 1:].strip()
    word, _, rest = text.partition(" ")
    return word.strip(), rest.strip()


def parse(line: str) -> Command:
    """`line` starts with "/"."""
    name, rest = first_word(line[1:])
    name = name.lower()
    if name not in USAGE:
        raise CommandError(f"unknown command /{name}: /help lists the commands")
    usage = CommandError(f"usage: {USAGE[name]}")
    if name == "dm":
        words = [w for w in rest.split() if w not in ENCRYPTED_FLAGS]
        if len(words) != 1:
            raise usage
        return Command(name, (words[0],), encrypted=len(words) < len(rest.split()))
    if name in ("join", "devices"):
        word, more = first_word(rest)
        if not word or more:
            raise usage
        return Command(name, (word,))
    if name == "group":
        group, more = first_word(rest)
        if not group.strip() or group in ENCRYPTED_FLAGS:
            raise usage
        members = [m for m in re.split(r"[\s,]+", more) if m]
        flagged = [m for m in members if m in ENCRYPTED_FLAGS]
        return Command(name, (group, *[m for m in members if m not in ENCRYPTED_FLAGS]), encrypted=bool(flagged))
    if name == "verify":
        words = rest.split()
        if not 1 <= len(words) <= 2 or (words[0] in VERIFY_STEPS and len(words) > 1):
            raise usage
        return Command(name, tuple(words), text="step" if words[0] in VERIFY_STEPS else "")
    if name == "file":
        path, caption = first_word(rest)
        if not path:
            raise usage
        return Command(name, (path,), caption)
    if name in ("react", "unreact"):
        emoji, more = first_word(rest)
        if not emoji or more:
            raise usage
        if (problem := emoji_problem(emoji)) is not None:
            raise CommandError(f"/{name}: the reaction {problem}")
        return Command(name, (emoji,))
    if name in ("open", "edit", "reply", "approve", "restore"):
        if not rest:
            raise usage
        return Command(name, (), rest)
    if rest:
        raise usage
    return Command(name)
