"""Other devices as this device knows them: the keys first seen for each (trust on first use), whether the
user verified it (SAS), whether it is still signed in, and whether its keys ever CHANGED.

A device's keys never change (e2ee.md §1: a client that loses its account signs in as a new device), so a
device id answered with other keys than before is an attack or a broken server: the record keeps the keys
first seen, sets `changed` (the UI shows it loudly) and the engine never encrypts to it again.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from typing import Any

from chatd.clients.sdk.crypto.store import CryptoStore
from chatd.clients.sdk.crypto.wire import DeviceKeyInfo, as_record, device_keys_statement, verify

log = logging.getLogger("chatd.clients.sdk.crypto")


@dataclass
class DeviceRecord:
    user: int
    device: str
    identity_key: str
    signing_key: str
    name: str | None = None
    verified: bool = False
    active: bool = True  # in the latest query_keys answer (False: signed out)
    changed: dict[str, str] | None = None  # the other keys it was answered with, once: never trusted again

    @property
    def usable(self) -> bool:
        """Whether keys may be sent to it: signed in and never seen with other keys."""
        return self.active and self.changed is None


@dataclass(frozen=True)
class IdentityChanged:
    """A device answered with other keys than the ones first seen: show it as a loud warning."""
    user: int
    device: str
    old_identity_key: str
    new_identity_key: str

    def __str__(self) -> str:
        return (f"WARNING: device {self.device} of user {self.user} now presents another identity key: "
                "nothing will be encrypted to it (someone may be impersonating it)")


@dataclass
class DeviceUpdate:
    """What one `update_devices` changed."""
    added: list[tuple[int, str]] = field(default_factory=list)
    removed: list[tuple[int, str]] = field(default_factory=list)
    changed: list[IdentityChanged] = field(default_factory=list)
    rejected: list[tuple[int, str, str]] = field(default_factory=list)  # (user, device, why)


class DeviceBook:
    """The device records in the store, and the index from identity key to device."""

    def __init__(self, store: CryptoStore) -> None:
        self.store = store

    def get(self, user: int, device: str) -> DeviceRecord | None:
        value = self.store.get("device", str(user), device)
        return None if value is None else DeviceRecord(**value)

    def of(self, user: int) -> list[DeviceRecord]:
        return sorted((DeviceRecord(**v) for v in self.store.values("device", str(user))), key=lambda r: r.device)

    def put(self, record: DeviceRecord) -> None:
        self.store.put("device", str(record.user), record.device, asdict(record))

    def owner(self, identity_key: str) -> DeviceRecord | None:
        """The device that first published `identity_key`."""
        where = self.store.get("owner", "", identity_key)
        return None if where is None else self.get(where["user"], where["device"])

    def update(self, user: int, infos: list[Any], skip: tuple[int, str] | None = None) -> DeviceUpdate:
        """Take a `query_keys` answer for `user`: check every signature, add new devices, flag changed keys,
        mark the devices left out as signed out. `skip`: this device itself."""
        report = DeviceUpdate()
        seen: set[str] = set()
        with self.store.transaction():
            for raw in infos:
                info = as_record(raw, DeviceKeyInfo)
                if info is None or info.user != user:
                    report.rejected.append((user, getattr(info, "device", "?"), "not a device of this user"))
                    continue
                if (info.user, info.device) == skip:
                    seen.add(info.device)
                    continue
                statement = device_keys_statement(info.user, info.device, info.identity_key, info.signing_key)
                if not verify(info.signing_key, statement, info.signature):
                    log.warning("crypto: device %s of user %s has a forged signature: ignored", info.device, user)
                    report.rejected.append((user, info.device, "signature does not verify"))
                    continue
                seen.add(info.device)
                known = self.get(user, info.device)
                if known is None:
                    self.put(DeviceRecord(user, info.device, info.identity_key, info.signing_key, info.name))
                    if self.store.get("owner", "", info.identity_key) is None:
                        self.store.put("owner", "", info.identity_key, {"user": user, "device": info.device})
                    report.added.append((user, info.device))
                elif (known.identity_key, known.signing_key) != (info.identity_key, info.signing_key):
                    if known.changed is None:
                        known.changed = {"identity_key": info.identity_key, "signing_key": info.signing_key}
                        self.put(known)
                    change = IdentityChanged(user, info.device, known.identity_key, info.identity_key)
                    log.warning("crypto: %s", change)
                    report.changed.append(change)
                elif not known.active or known.name != info.name:
                    if not known.active:
                        report.added.append((user, info.device))
                    known.active, known.name = True, info.name
                    self.put(known)
            for record in self.of(user):
                if record.device not in seen and record.active:
                    record.active = False
                    self.put(record)
                    report.removed.append((user, record.device))
        return report
