"""What crosses the wire in docs/e2ee.md: unpadded base64, the signed statements (§1), and the records the
engine takes from and hands to the network client.

Every record here is a msgspec Struct, so the SDK can decode a server frame's field straight into it
(`msgspec.convert(frame_field, DeviceKeyInfo)`) and encode one into a frame. `parse_json` is the one way
a peer-controlled JSON string becomes a record: anything malformed is None, never an exception.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any, Literal, TypeVar

import msgspec
import vodozemac

OLM_ALGORITHM = "olm.v1"
MEGOLM_ALGORITHM = "megolm.v1"

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


def device_keys_statement(user: int, device: str, identity_key: str, signing_key: str) -> bytes:
    """What a device signs to publish its keys (e2ee.md §1)."""
    return f"chatd-device-keys:v1:{user}:{device}:{identity_key}:{signing_key}".encode()


def otk_statement(user: int, device: str, key_id: str, key: str) -> bytes:
    """What a device signs for each one-time or fallback key (e2ee.md §1)."""
    return f"chatd-otk:v1:{user}:{device}:{key_id}:{key}".encode()


def verify(signing_key: str, statement: bytes, signature: str) -> bool:
    """Whether `signature` (base64) over `statement` is by the Ed25519 key `signing_key` (base64). Any
    malformed key or signature is simply False."""
    try:
        vodozemac.Ed25519PublicKey.from_base64(signing_key).verify_signature(
            statement, vodozemac.Ed25519Signature.from_base64(signature))
    except (ValueError, TypeError):  # vodozemac's Key/Signature/DecodeExceptions are ValueErrors
        return False
    return True


class Record(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """A wire record: immutable, keyword-built, defaults left out when encoded."""


class DeviceKeys(Record, frozen=True):
    """`upload_keys.device_keys` (protocol.md §12.1)."""
    identity_key: str
    signing_key: str
    signature: str


class OneTimeKey(Record, frozen=True):
    """One entry of `upload_keys.one_time_keys`, or its `fallback_key`."""
    key_id: str
    key: str
    signature: str


class DeviceKeyInfo(Record, frozen=True):
    """One device of a `device_keys` answer (`query_keys`)."""
    user: int
    device: str
    identity_key: str
    signing_key: str
    signature: str
    name: str | None = None


class ClaimedKey(Record, frozen=True):
    """One key of a `claimed_keys` answer (`claim_keys`)."""
    user: int
    device: str
    key_id: str
    key: str
    signature: str
    fallback: bool = False


class ToDeviceOut(Record, frozen=True):
    """One message of `send_to_device.messages`: `body` is the Olm envelope, a JSON string."""
    user: int
    device: str
    body: str


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


class Encrypted(Record, frozen=True):
    """A room message's `encrypted` map (e2ee.md §3, protocol.md §12.4)."""
    algorithm: str
    ciphertext: str
    session_id: str
    sender_key: str
    device: str


class BackupEntry(Record, frozen=True):
    """One key of `put_backup_keys` / `backup_keys` (protocol.md §12.5)."""
    room: int
    session_id: str
    data: str


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
