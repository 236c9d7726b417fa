"""QR device login (docs/protocol.md 3.9): a new device shows a one-time code, a signed-in device approves it.

The new device talks HTTP (no token yet): `POST /api/qr/start` answers a `QrStarted` (the public `code` to show,
the private `secret` only it keeps) and `POST /api/qr/wait` (or `/api/auth/qr/wait` for the web client) long-polls
with both until the request is approved, declined or gone. The signed-in device sends the websocket frames below:
`qr_login_preview` (who asks, from where) and `qr_login_answer` (approve or decline).

Pure: the code's alphabet and form, and reading a code out of whatever was scanned or pasted.
"""

from __future__ import annotations

import re
import secrets
from typing import Annotated

from chatd.protocol.frames import Frame, Nat, ReqId, frame
from chatd.protocol.schema import Record, text

# Crockford's base32: no I, L, O or U, so a code read aloud or typed from a screen has no look-alikes
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_CHARS = 20  # 100 bits: not guessable within a request's lifetime, whatever the rate
GROUP = 5  # shown as XXXXX-XXXXX-XXXXX-XXXXX
CODE_RE = f"[{ALPHABET}]{{{CODE_CHARS}}}"
LINK_PATH = "/qr/"  # the QR holds <web client origin>/qr/<code>: a phone's camera app opens the web client there
_LOOKALIKES = str.maketrans({"O": "0", "I": "1", "L": "1"})
MAX_USER_AGENT = 256


def new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_CHARS))


def new_secret() -> str:
    """The poll secret: only the device that started the request holds it (it never appears in the QR)."""
    return secrets.token_urlsafe(32)


def shown(code: str) -> str:
    """The code as people read it: groups of five joined by '-'."""
    return "-".join(code[i:i + GROUP] for i in range(0, len(code), GROUP))


def link(base_url: str, code: str) -> str:
    """What the QR holds: the web client's page for this code."""
    return f"{base_url.rstrip('/')}{LINK_PATH}{code}"


def code_of(text: str) -> str | None:
    """The code in a scanned link (`.../qr/<code>`) or a pasted code (any case, with or without dashes or
    spaces, O/I/L read as 0/1); None when it holds none."""
    text = text.strip()
    if LINK_PATH in text:
        text = text.rsplit(LINK_PATH, 1)[1].split("?", 1)[0].split("#", 1)[0]
    candidate = re.sub(r"[\s-]", "", text).upper().translate(_LOOKALIKES)
    return candidate if re.fullmatch(CODE_RE, candidate) else None


# --------------------------------------------------------------------------- the new device (HTTP bodies)

class QrStart(Record, frozen=True):
    """`POST /api/qr/start`: `device` labels the device-to-be, as `login.device` does."""

    device: Annotated[str, text(max_len=64)] | None = None


class QrStarted(Record, frozen=True):
    code: Annotated[str, text(pattern=CODE_RE)]  # public: shown in the QR and as text
    secret: Annotated[str, text(min_len=1, max_len=128)]  # private: only the new device, which polls with it
    expires_in: Nat  # seconds


class QrWait(Record, frozen=True):
    """`POST /api/qr/wait`: the request and the secret that proves this is the device that started it."""

    code: Annotated[str, text(min_len=1, max_len=64)]
    secret: Annotated[str, text(min_len=1, max_len=128)]


# --------------------------------------------------------------------------- the approving device (websocket)

@frame
class QrLoginPreview(Frame, frozen=True, tag="qr_login_preview"):
    """Who asks to sign in with this code: answered by `qr_login_request`."""

    id: ReqId
    code: Annotated[str, text(min_len=1, max_len=200)]  # the code, pasted in any form, or the scanned link


@frame
class QrLoginRequest(Frame, frozen=True, tag="qr_login_request"):
    id: ReqId
    code: Annotated[str, text(pattern=CODE_RE)]
    address: Annotated[str, text(max_len=64)]  # the new device's client address, as the server saw it
    expires_in: Nat  # seconds left to answer
    device: Annotated[str, text(max_len=64)] | None = None  # the label the new device gave
    user_agent: Annotated[str, text(max_len=MAX_USER_AGENT)] | None = None  # its HTTP User-Agent


@frame
class QrLoginAnswer(Frame, frozen=True, tag="qr_login_answer"):
    """Approve (sign the new device in to this account, as a device of its own) or decline."""

    id: ReqId
    code: Annotated[str, text(min_len=1, max_len=200)]
    approve: bool  # required: true approves, false declines


REQUESTS: frozenset[type[Frame]] = frozenset({QrLoginPreview, QrLoginAnswer})

__all__ = ["ALPHABET", "CODE_RE", "LINK_PATH", "REQUESTS", "QrLoginAnswer", "QrLoginPreview", "QrLoginRequest",
           "QrStart", "QrStarted", "QrWait", "code_of", "link", "new_code", "new_secret", "shown"]
