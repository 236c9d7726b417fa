"""End-to-end encryption for the SDK (docs/e2ee.md): Olm between devices, Megolm in rooms, key backup, SAS.

Needs the `e2ee` extra (vodozemac). The engine is `CryptoMachine`, kept in a `CryptoStore` opened with the
user's password (`open_store`); it never touches the network: the client feeds it frames and sends what it
returns.
"""

from chatd.clients.sdk.crypto.backup import BadRecoveryKey
from chatd.clients.sdk.crypto.devices import DeviceRecord, DeviceUpdate, IdentityChanged
from chatd.clients.sdk.crypto.machine import CryptoMachine, Decrypted, KeyRequest, UnknownDevice
from chatd.clients.sdk.crypto.sas import Verification
from chatd.clients.sdk.crypto.store import CryptoStore, StoreCorrupt, StoreError, WrongPassword, open_store
from chatd.clients.sdk.crypto.wire import (
    BackupEntry,
    ClaimedKey,
    DeviceKeyInfo,
    DeviceKeys,
    Encrypted,
    OneTimeKey,
    ToDeviceOut,
)

__all__ = [
    "BackupEntry", "BadRecoveryKey", "ClaimedKey", "CryptoMachine", "CryptoStore", "Decrypted", "DeviceKeyInfo",
    "DeviceKeys", "DeviceRecord", "DeviceUpdate", "Encrypted", "IdentityChanged", "KeyRequest", "OneTimeKey",
    "StoreCorrupt", "StoreError", "ToDeviceOut", "UnknownDevice", "Verification", "WrongPassword", "open_store",
]
