"""Frames of end-to-end encryption (docs/protocol.md §12): device keys, to-device messages, key backup.

The server checks shapes here and signatures in protocol/keysign.py; it never holds a key that decrypts
anything. Keys are unpadded base64: 43 characters for a Curve25519 or Ed25519 key, 86 for a signature.
Registered in FRAME_TYPES like every frame; `REQUESTS` is what protocol/session.py adds to its frames.
"""

from __future__ import annotations

from typing import Annotated

from chatd.protocol.frames import UUID_RE, Frame, Nat, Pos, ReqId, RoomId, frame
from chatd.protocol.schema import Record, SchemaError, always, size, text

B64 = r"[A-Za-z0-9+/]"
Key = Annotated[str, text(pattern=f"^{B64}{{43}}$")]
Signature = Annotated[str, text(pattern=f"^{B64}{{86}}$")]
DeviceId = Annotated[str, text(pattern=UUID_RE)]
KeyId = Annotated[str, text(min_len=1, max_len=32, pattern=r"^[A-Za-z0-9_+/=-]+$")]
SessionId = Annotated[str, text(min_len=1, max_len=64)]

MAX_UPLOAD_KEYS = 100  # one-time keys per upload_keys
MAX_HELD_KEYS = 200  # unclaimed one-time keys a device may hold
MAX_TO_DEVICE = 1000  # messages per send_to_device
MAX_TO_DEVICE_BODY = 65536
MAX_BACKUP_PAGE = 1000


# --------------------------------------------------------------------------- device keys

class DeviceKeys(Record, frozen=True):
    identity_key: Key  # Curve25519
    signing_key: Key  # Ed25519
    signature: Signature  # by signing_key, of protocol/keysign.device_statement(...)


class OneTimeKey(Record, frozen=True):
    key_id: KeyId
    key: Key  # Curve25519
    signature: Signature  # by the device's signing key, of protocol/keysign.otk_statement(...)


@frame
class UploadKeys(Frame, frozen=True, tag="upload_keys"):
    id: ReqId
    device_keys: DeviceKeys | None = None
    one_time_keys: Annotated[list[OneTimeKey], size(max_len=MAX_UPLOAD_KEYS)] | None = None
    fallback_key: OneTimeKey | None = None

    def __post_init__(self) -> None:
        seen = set()
        for i, k in enumerate(self.one_time_keys or ()):
            if k.key_id in seen:
                raise SchemaError(f"field 'one_time_keys[{i}].key_id' repeats {k.key_id!r}")
            seen.add(k.key_id)


@frame
class KeyCounts(Frame, frozen=True, tag="key_counts"):
    id: ReqId
    one_time_keys: Nat = always(0)  # unclaimed one-time keys the server holds for this device
    fallback: bool = always(False)


class DeviceKeyInfo(Record, frozen=True):
    user: Pos
    device: DeviceId
    identity_key: Key
    signing_key: Key
    signature: Signature
    name: Annotated[str, text(max_len=64)] | None = None


@frame
class QueryKeys(Frame, frozen=True, tag="query_keys"):
    id: ReqId
    users: Annotated[list[Pos], size(min_len=1, max_len=1000)]


@frame
class DeviceKeysList(Frame, frozen=True, tag="device_keys"):
    id: ReqId
    devices: Annotated[list[DeviceKeyInfo], size(max_len=100_000)]


class DeviceRef(Record, frozen=True):
    user: Pos
    device: DeviceId


@frame
class ClaimKeys(Frame, frozen=True, tag="claim_keys"):
    id: ReqId
    devices: Annotated[list[DeviceRef], size(min_len=1, max_len=1000)]


class ClaimedKey(Record, frozen=True):
    user: Pos
    device: DeviceId
    key_id: KeyId
    key: Key
    signature: Signature
    fallback: bool = always(False)  # the device had no one-time key left: its fallback key


@frame
class ClaimedKeys(Frame, frozen=True, tag="claimed_keys"):
    id: ReqId
    keys: Annotated[list[ClaimedKey], size(max_len=1000)]


@frame
class DevicesChanged(Frame, frozen=True, tag="devices_changed"):
    """Server push: a device of `user` published keys or was signed out (query_keys again, rotate)."""

    user: Pos


# --------------------------------------------------------------------------- to-device messages

class ToDeviceOut(Record, frozen=True):
    user: Pos
    device: DeviceId
    body: Annotated[str, text(min_len=1, max_len=MAX_TO_DEVICE_BODY)]


@frame
class SendToDevice(Frame, frozen=True, tag="send_to_device"):
    """Stored before `ok`; `txn` makes a retry store nothing twice."""

    id: ReqId
    txn: Annotated[str, text(pattern=UUID_RE)]
    messages: Annotated[list[ToDeviceOut], size(min_len=1, max_len=MAX_TO_DEVICE)]


class ToDeviceIn(Record, frozen=True):
    id: Pos  # this device's stream position: ack_to_device {upto: id}
    sender: Pos
    sender_device: DeviceId
    body: Annotated[str, text(min_len=1, max_len=MAX_TO_DEVICE_BODY)]


@frame
class ToDevice(Frame, frozen=True, tag="to_device"):
    """Server push: this device's to-device messages in order; the next frame comes after the ack."""

    messages: Annotated[list[ToDeviceIn], size(min_len=1, max_len=100)]


@frame
class AckToDevice(Frame, frozen=True, tag="ack_to_device"):
    """Cumulative: delete this device's to-device messages up to `upto`. No reply."""

    upto: Pos


# --------------------------------------------------------------------------- key backup

Auth = Annotated[str, text(min_len=1, max_len=1024)]


@frame
class CreateBackup(Frame, frozen=True, tag="create_backup"):
    id: ReqId
    auth: Auth  # opaque to the server: the clients' check of the recovery key (docs/e2ee.md §4)


@frame
class GetBackup(Frame, frozen=True, tag="get_backup"):
    id: ReqId


@frame
class Backup(Frame, frozen=True, tag="backup"):
    id: ReqId
    version: Pos
    auth: Auth


class BackupKey(Record, frozen=True):
    room: RoomId
    session_id: SessionId
    data: Annotated[str, text(min_len=1, max_len=8192)]


@frame
class PutBackupKeys(Frame, frozen=True, tag="put_backup_keys"):
    id: ReqId
    version: Pos
    keys: Annotated[list[BackupKey], size(min_len=1, max_len=MAX_BACKUP_PAGE)]

    def __post_init__(self) -> None:
        seen = set()
        for i, k in enumerate(self.keys):
            if (k.room, k.session_id) in seen:
                raise SchemaError(f"field 'keys[{i}]' repeats room {k.room} session {k.session_id!r}")
            seen.add((k.room, k.session_id))


class StoredBackupKey(BackupKey, frozen=True):
    """A BackupKey as the server sends it back (its own name: the schema keeps what each side sends apart)."""


class BackupPosition(Record, frozen=True):
    room: RoomId
    session_id: SessionId


@frame
class GetBackupKeys(Frame, frozen=True, tag="get_backup_keys"):
    id: ReqId
    version: Pos
    after: BackupPosition | None = None


@frame
class BackupKeys(Frame, frozen=True, tag="backup_keys"):
    id: ReqId
    keys: Annotated[list[StoredBackupKey], size(max_len=MAX_BACKUP_PAGE)]
    more: bool = always(False)


REQUESTS: frozenset[type[Frame]] = frozenset({
    UploadKeys, QueryKeys, ClaimKeys, SendToDevice, AckToDevice, CreateBackup, GetBackup, PutBackupKeys,
    GetBackupKeys})

__all__ = ["REQUESTS", "AckToDevice", "Backup", "BackupKey", "BackupKeys", "BackupPosition", "ClaimKeys",
           "ClaimedKey", "ClaimedKeys", "CreateBackup", "DeviceKeyInfo", "DeviceKeys", "DeviceKeysList", "DeviceRef",
           "DevicesChanged", "GetBackup", "GetBackupKeys", "KeyCounts", "OneTimeKey", "PutBackupKeys",
           "QueryKeys", "SendToDevice", "StoredBackupKey", "ToDevice", "ToDeviceIn", "ToDeviceOut", "UploadKeys"]
