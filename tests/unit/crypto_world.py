"""An in-memory stand-in for the server side of docs/protocol.md §12 and devices driving CryptoMachines
through it, so the crypto tests exchange real envelopes between real engines without a network.

The fake server keeps what the real one keeps (published keys, one-time keys given out once, the fallback
key, to-device queues in order, the backup) and nothing else; it can be told to drop or hold messages.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chatd.clients.sdk.crypto import (
    BackupEntry,
    ClaimedKey,
    CryptoMachine,
    Decrypted,
    DeviceKeyInfo,
    Encrypted,
    ToDeviceOut,
    UnknownDevice,
    open_store,
)

PASSWORD = "correct horse battery staple"


@dataclass
class Server:
    keys: dict[int, dict[str, DeviceKeyInfo]] = field(default_factory=dict)
    otks: dict[tuple[int, str], list[ClaimedKey]] = field(default_factory=dict)
    fallback: dict[tuple[int, str], ClaimedKey] = field(default_factory=dict)
    inbox: dict[tuple[int, str], list[tuple[int, str, str]]] = field(default_factory=dict)
    backup_auth: str | None = None
    backup: dict[tuple[int, str], BackupEntry] = field(default_factory=dict)

    def query(self, user: int) -> list[DeviceKeyInfo]:
        return list(self.keys.get(user, {}).values())

    def claim(self, devices: list[tuple[int, str]]) -> list[ClaimedKey]:
        out = []
        for d in devices:
            if self.otks.get(d):
                out.append(self.otks[d].pop(0))
            elif d in self.fallback:
                out.append(self.fallback[d])
        return out

    def deliver(self, sender: Device, outs: list[ToDeviceOut]) -> None:
        for o in outs:
            self.inbox.setdefault((o.user, o.device), []).append((sender.user, sender.device, o.body))

    def sign_out(self, user: int, device: str) -> None:
        self.keys[user].pop(device)
        self.inbox.pop((user, device), None)


@dataclass
class Device:
    """One signed-in device of a user, with its engine."""
    server: Server
    user: int
    device: str
    machine: CryptoMachine
    received: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def new(cls, server: Server, user: int, path: Path | None = None, device: str | None = None,
            password: str = PASSWORD, publish: bool = True) -> Device:
        device = device or str(uuid.uuid4())
        machine = CryptoMachine(user, device, open_store(path, user, device, password))
        me = cls(server, user, device, machine)
        if publish:
            me.publish()
        return me

    def publish(self) -> None:
        m = self.machine
        keys = m.device_keys()
        self.server.keys.setdefault(self.user, {})[self.device] = DeviceKeyInfo(
            user=self.user, device=self.device, identity_key=keys.identity_key, signing_key=keys.signing_key,
            signature=keys.signature)
        held = self.server.otks.setdefault((self.user, self.device), [])
        held += [ClaimedKey(user=self.user, device=self.device, key_id=k.key_id, key=k.key, signature=k.signature)
                 for k in m.one_time_keys(len(held))]
        fb = m.fallback_key()
        self.server.fallback[(self.user, self.device)] = ClaimedKey(
            user=self.user, device=self.device, key_id=fb.key_id, key=fb.key, signature=fb.signature,
            fallback=True)
        m.mark_published()

    def refresh(self, *users: int) -> None:
        for u in users:
            self.machine.update_devices(u, self.server.query(u))

    def connect(self, *users: int) -> None:
        """Fetch `users`' devices and open Olm sessions to all of them (and to wedged devices)."""
        self.refresh(*users)
        self.machine.add_claimed(self.server.claim(self.machine.needs_claim(users)))
        self.flush()

    def flush(self) -> None:
        self.server.deliver(self, self.machine.take_outgoing())

    def sync(self) -> list[dict[str, Any]]:
        """Handle every to-device message waiting for this device, as the SDK would."""
        got = []
        queue = self.server.inbox.pop((self.user, self.device), [])
        for sender, sender_device, body in queue:
            try:
                plain = self.machine.decrypt_to_device(sender, sender_device, body)
            except UnknownDevice as exc:
                assert exc.user is not None
                self.refresh(exc.user)
                plain = self.machine.decrypt_to_device(sender, sender_device, body)
            if plain is not None:
                got.append(plain)
        self.flush()
        self.received += got
        return got

    def send(self, room: int, members: list[int], body: str) -> Encrypted:
        """What a client does to send: fresh device lists, sessions, key shares first, then the message."""
        self.connect(*members)
        encrypted, shares = self.machine.room_encrypt(room, members, {"kind": "text", "body": body})
        self.server.deliver(self, shares)
        self.machine.confirm_shared(room)  # the server stored them
        return encrypted

    def read(self, room: int, encrypted: Encrypted, sender: int | None = None,
             seq: int | None = None) -> Decrypted | None:
        return self.machine.room_decrypt(room, encrypted, sender, seq)

    def text(self, room: int, encrypted: Encrypted, sender: int | None = None) -> str | None:
        found = self.read(room, encrypted, sender)
        return None if found is None else found.content["body"]


def verify_pair(a: Device, b: Device) -> None:
    """Run SAS between two devices with sessions, both users confirming; leaves each verified by the other."""
    a.connect(b.user)
    b.connect(a.user)
    txn, out = a.machine.start_verification(b.user, b.device)
    a.server.deliver(a, out)
    b.sync()
    a.server.deliver(b, b.machine.accept_verification(txn))
    a.sync()  # ready -> start
    b.sync()  # start -> key
    a.sync()  # key: both show emoji
    a.server.deliver(a, a.machine.confirm_verification(txn))
    a.server.deliver(b, b.machine.confirm_verification(txn))
    a.sync()
    b.sync()
