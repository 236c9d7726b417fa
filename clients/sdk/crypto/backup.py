"""Key backup crypto (e2ee.md §4): the recovery key, its base58 display, the keys HKDF derives from it, the
`auth` check value and the sealing of one entry. Pure functions: the engine decides what to back up.

Exact choices the web client must share:
- base58 is Bitcoin's alphabet, big-endian, each leading zero byte written as "1"; the display is that
  string in groups of four separated by single spaces. Parsing ignores all whitespace (base58 is
  case-sensitive, so case is never "corrected").
- HKDF-SHA256 with an empty salt (the same as RFC 5869's default of 32 zero bytes) and infos
  "chatd-backup-v1:enc" / "chatd-backup-v1:check", 32 bytes each.
- `auth` = unpadded base64 of HMAC-SHA256(check key, "chatd-backup").
- entry `data` = unpadded base64 of nonce(12) || AES-256-GCM(JSON), additional data "<room>:<session_id>",
  the JSON `{room, session_id, sender_key, session_key}` (session_key: a vodozemac ExportedSessionKey).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from typing import Any

import msgspec
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from chatd.clients.sdk.crypto.wire import BackupEntry, b64decode, b64encode

ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
RECOVERY_KEY_BYTES = 32


class BadRecoveryKey(ValueError):
    """The recovery key typed is not one (wrong characters or length) or not this backup's."""


def base58_encode(data: bytes) -> str:
    number = int.from_bytes(data, "big")
    digits = []
    while number:
        number, rest = divmod(number, 58)
        digits.append(ALPHABET[rest])
    zeros = len(data) - len(data.lstrip(b"\0"))
    return "1" * zeros + "".join(reversed(digits))


def base58_decode(text: str) -> bytes:
    number = 0
    for char in text:
        index = ALPHABET.find(char)
        if index < 0:
            raise BadRecoveryKey(f"{char!r} is not a recovery key character (0, O, I and l never appear)")
        number = number * 58 + index
    zeros = len(text) - len(text.lstrip("1"))
    body = number.to_bytes((number.bit_length() + 7) // 8, "big") if number else b""
    return b"\0" * zeros + body


def new_recovery_key() -> bytes:
    """32 random bytes: the backup's secret, which only the user keeps."""
    return os.urandom(RECOVERY_KEY_BYTES)


def display_recovery_key(key: bytes) -> str:
    """The recovery key as shown once to the user: base58 in groups of four (`EsTc LW2K ...`)."""
    text = base58_encode(key)
    return " ".join(text[i:i + 4] for i in range(0, len(text), 4))


def parse_recovery_key(text: str) -> bytes:
    """The 32 bytes a typed recovery key stands for; BadRecoveryKey with what is wrong otherwise."""
    key = base58_decode("".join(text.split()))
    if len(key) != RECOVERY_KEY_BYTES:
        raise BadRecoveryKey("that is not a whole recovery key: check for a missing or extra group")
    return key


def _hkdf(key: bytes, info: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info.encode()).derive(key)


def encryption_key(recovery_key: bytes) -> bytes:
    return _hkdf(recovery_key, "chatd-backup-v1:enc")


def backup_auth(recovery_key: bytes) -> str:
    """The backup's `auth` string: lets a device tell a mistyped recovery key at once."""
    check = _hkdf(recovery_key, "chatd-backup-v1:check")
    return b64encode(hmac.new(check, b"chatd-backup", hashlib.sha256).digest())


def matches_auth(recovery_key: bytes, auth: str) -> bool:
    return hmac.compare_digest(backup_auth(recovery_key), auth)


class BackedUpKey(msgspec.Struct, frozen=True):
    """The JSON sealed in one backup entry."""
    room: int
    session_id: str
    sender_key: str
    session_key: str


def seal_entry(recovery_key: bytes, key: BackedUpKey) -> BackupEntry:
    nonce = os.urandom(12)
    aad = f"{key.room}:{key.session_id}".encode()
    plain = json.dumps(msgspec.to_builtins(key), separators=(",", ":")).encode()
    sealed = AESGCM(encryption_key(recovery_key)).encrypt(nonce, plain, aad)
    return BackupEntry(room=key.room, session_id=key.session_id, data=b64encode(nonce + sealed))


def open_entry(recovery_key: bytes, entry: Any) -> BackedUpKey | None:
    """The key in a backup entry, or None when it does not decrypt for its room and session (forged,
    moved to another room or session, or sealed under another recovery key)."""
    try:
        record = msgspec.convert(entry, BackupEntry) if not isinstance(entry, BackupEntry) else entry
        raw = b64decode(record.data)
        aad = f"{record.room}:{record.session_id}".encode()
        plain = AESGCM(encryption_key(recovery_key)).decrypt(raw[:12], raw[12:], aad)
        key = msgspec.json.decode(plain, type=BackedUpKey)
    except (InvalidTag, ValueError, TypeError):  # msgspec's errors are ValueErrors
        return None
    if key.room != record.room or key.session_id != record.session_id:
        return None
    return key
