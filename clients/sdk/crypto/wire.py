"""What crosses the wire in docs/e2ee.md: unpadded base64, the signed statements (§1), and the records the
engine takes from and hands to the network client.

The records of the server's frames (device keys, claimed keys, to-device messages, the `encrypted` map,
backup entries) and the signed statements are the protocol's own (protocol/e2ee.py, protocol/keysign.py),
re-exported here; the Olm envelope and plaintext are the clients' (e2ee.md §2). `parse_json` is the one way
a peer-controlled JSON string becomes a record: anything malformed is None, never an exception.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any, Literal, TypeVar

import msgspec

from chatd.protocol.e2ee import BackupKey as BackupEntry
from chatd.protocol.e2ee import ClaimedKey, DeviceKeyInfo, DeviceKeys, OneTimeKey, ToDeviceOut
from chatd.protocol.frames import Encrypted
from chatd.protocol.keysign import device_statement as device_keys_statement
from chatd.protocol.keysign import otk_statement, verifies

OLM_ALGORITHM = "olm.v1"
MEGOLM_ALGORITHM: Literal["megolm.v1"] = "megolm.v1"

T = TypeVar("T")


def b64encode(data: bytes) -> str:
    """Unpadded standard base64: what vodozemac and libolm print (e2ee.md §1)."""
    return base64.b64encode(data).decode("ascii").rstrip("=")


def b64decode(text: str) -> bytes:
    """Unpadded (or padded) standard base64 to bytes; ValueError on anything else."""
    if not isinstance(text, str):
        raise ValueError("base64 must be a string")
    stripped = text.rstrip("=")
    try:
        return base64.b64decode(stripped + "=" * (-len(stripped) % 4), validate=True)
    except binascii.Error as exc:
        raise ValueError(f"not base64: {exc}") from None


class Record(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """A record of the clients' own (an Olm envelope or plaintext): immutable, keyword-built."""


def verify(signing_key: str, statement: bytes, signature: str) -> bool:
    """Whether `signature` (base64) over `statement` is by the Ed25519 key `signing_key` (base64); a malformed
    key or signature is simply False (the server's own check, protocol/keysign.py)."""
    return verifies(signing_key, signature, statement)


class OlmEnvelope(Record, frozen=True):
    """The JSON of a to-device `body` (e2ee.md §2)."""
    algorithm: str
    sender_key: str
    type: Literal[0, 1]
    ciphertext: str


class OlmPlaintext(Record, frozen=True):
    """The JSON inside an Olm message (e2ee.md §2)."""
    type: str
    sender: int
    sender_device: str
    recipient: int
    recipient_device: str
    recipient_key: str
    sender_signing_key: str
    content: dict[str, Any]


def to_json(record: Any) -> str:
    """Compact JSON of a record or plain value."""
    return json.dumps(msgspec.to_builtins(record), separators=(",", ":"), ensure_ascii=False)


def parse_json(text: str | bytes, cls: type[T]) -> T | None:
    """`text` decoded as a `cls`, or None when it is not JSON of that shape (peer input never raises)."""
    try:
        return msgspec.json.decode(text, type=cls)
    except (msgspec.DecodeError, msgspec.ValidationError, TypeError):
        return None


def as_record(value: Any, cls: type[T]) -> T | None:
    """A decoded frame field (a dict) or a record already as a `cls`, or None when it is not one."""
    if isinstance(value, cls):
        return value
    try:
        return msgspec.convert(value, cls)
    except (msgspec.ValidationError, TypeError):
        return None


__all__ = ["BackupEntry", "ClaimedKey", "DeviceKeyInfo", "DeviceKeys", "Encrypted", "OneTimeKey", "ToDeviceOut",
           "device_keys_statement", "otk_statement"]
