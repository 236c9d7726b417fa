"""The SDK's end-to-end encryption, on the network: what `Chat` does with its `CryptoMachine` (docs/e2ee.md).

`Chat.enable_encryption(password)` opens the device's crypto store (its pickles are encrypted under a key
derived from the password) and keeps the device's keys published. From then on:

- `to_device` pushes are decrypted (room keys imported, verification steps and key requests answered), and
  acked only once what they carried is in the store: a key is never lost between the server and the disk.
- `send` in an encrypted room claims what sessions it lacks, shares the room key with every current member
  device (own other devices included) and waits for the server to store the shares before the message goes.
- Incoming encrypted messages are decrypted as they arrive (`NewMessage.decrypted`). One whose key is not
  here yet waits; when the key comes (to-device, backup, or one of my own devices answering a key request)
  a `MessageDecrypted` event hands it over. Only a message still waiting after all three is reported as
  `UnableToDecrypt`.
"""

from __future__ import annotations

import contextlib
import logging
import math
import uuid
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import trio

from chatd.clients.sdk.crypto import (
    CryptoMachine,
    Decrypted,
    KeyRequest,
    ToDeviceOut,
    UnknownDevice,
    Verification,
    open_store,
)
from chatd.clients.sdk.events import DevicesAdded, MessageDecrypted, UnableToDecrypt, VerificationChanged
from chatd.clients.sdk.link import REQUEST_ERRORS
from chatd.clients.ws import ChatError
from chatd.protocol import e2ee as e
from chatd.protocol import frames as f

if TYPE_CHECKING:
    from chatd.clients.sdk.link import Link

log = logging.getLogger("chatd.sdk.e2ee")
T = TypeVar("T")

ASK_AFTER = 2.0  # seconds a message waits for its key before the backup and my other devices are asked
GIVE_UP_AFTER = 30.0  # ... and before it is reported unable to decrypt
MEMBER_EVENTS = {"created", "member_added", "member_removed", "member_left", "member_banned", "member_joined"}


class Encryption:
    """One device's end-to-end encryption over the SDK's link (see the module docstring)."""

    def __init__(self, link: Link, machine: CryptoMachine, emit: Callable[[object], None]) -> None:
        self.link = link
        self.machine = machine
        self.emit = emit
        self.members: dict[int, tuple[list[int], int]] = {}  # room -> (current members, members_seq)
        self.pending: dict[tuple[int, str], list[tuple[f.Message, float]]] = {}  # (room, session) -> waiting
        self.backup_version: int | None = None
        self._room_locks: dict[int, trio.Lock] = {}
        self._wake = trio.Event()

    @classmethod
    async def open(cls, link: Link, path: Path | str | None, user: int, device: str, password: str,
                   emit: Callable[[object], None]) -> Encryption:
        store = await trio.to_thread.run_sync(open_store, path, user, device, password)  # scrypt: ~0.1 s
        return cls(link, CryptoMachine(user, device, store), emit)

    # ------------------------------------------------------------------ keys

    async def publish(self) -> None:
        """Publish this device's keys (once) and keep its one-time keys topped up (at every connect). The device
        lists of everyone known are fetched again before the next send: a `devices_changed` push missed
        while offline or while this program was not running (pushes are best-effort) costs nothing then."""
        self.machine.forget_fetched()
        counts: e.KeyCounts = await self._call(e.UploadKeys, device_keys=self.machine.device_keys())
        extra = self.machine.one_time_keys(held_by_server=counts.one_time_keys)
        fallback = None if counts.fallback else self.machine.fallback_key()
        if extra or fallback:
            await self._call(e.UploadKeys, one_time_keys=extra or None, fallback_key=fallback)
        self.machine.mark_published()
        await self._backup_up()

    async def refresh(self, users: Iterable[int]) -> None:
        """Fetch these users' devices now (a device list shown to a person must be the server's latest, its
        keys checked against what this device saw before)."""
        for user in users:
            self.machine.devices_changed(user)
        await self._refresh(users)

    async def _refresh(self, users: Iterable[int]) -> None:
        users = set(users)
        known_before = {u for u in users if self.machine.devices.of(u)}
        stale = self.machine.outdated_users(users)
        if stale:
            found: e.DeviceKeysList = await self._call(e.QueryKeys, users=sorted(set(stale)))
            for user in stale:
                update = self.machine.update_devices(user, [d for d in found.devices if d.user == user])
                for changed in update.changed:
                    self.emit(changed)  # an identity key changed: shown loudly, never encrypted to
                if user in known_before and update.added:
                    self.emit(DevicesAdded(user, [device for _, device in update.added]))

    async def _sessions_with(self, users: Iterable[int]) -> None:
        users = list(users)
        await self._refresh(users)
        need = [e.DeviceRef(user=u, device=d) for u, d in self.machine.needs_claim(users)]
        for batch in self._batches(need, lambda _: 64, 1000):
            claimed: e.ClaimedKeys = await self._call(e.ClaimKeys, devices=batch)
            self.machine.add_claimed(claimed.keys)
        await self._send_to_devices(self.machine.take_outgoing())

    async def _send_to_devices(self, messages: list[ToDeviceOut]) -> None:
        for batch in self._batches(messages, lambda m: len(m.body) + len(m.device) + 32, e.MAX_TO_DEVICE):
            await self._call(e.SendToDevice, txn=str(uuid.uuid4()), messages=batch)

    def _batches(self, items: list[T], size: Callable[[T], int], most: int) -> Iterator[list[T]]:
        """`items` in requests that fit the server's frame limit (welcome.max_frame_bytes, with room to spare)
        and its count limit `most`: a big group's key shares or a big backup go in several requests."""
        welcome = self.link.welcome
        budget = (welcome.max_frame_bytes if welcome else 65536) * 3 // 4
        batch: list[T] = []
        used = 0
        for item in items:
            cost = size(item)
            if batch and (used + cost > budget or len(batch) == most):
                yield batch
                batch, used = [], 0
            batch.append(item)
            used += cost
        if batch:
            yield batch

    # ------------------------------------------------------------------ sending

    async def encrypt(self, room: int, content: dict[str, Any]) -> tuple[f.Encrypted, int]:
        """The `encrypted` map of `content` for `room`, once its key is stored for every member device, and the
        `members_seq` of the member list it was shared with (the server refuses the send if that is stale:
        then `stale(room)` and encrypt again)."""
        lock = self._room_locks.setdefault(room, trio.Lock())
        async with lock:  # a second message must not overtake the key shares of the first
            members, members_seq = await self._members(room)
            await self._sessions_with(members)
            encrypted, shares = self.machine.room_encrypt(room, members, content)
            try:
                await self._send_to_devices(shares)
            except BaseException:
                self.machine.rotate(room)  # some devices may not have this session's key: never use it again
                raise
            self.machine.confirm_shared(room)
        await self._backup_up()
        return encrypted, members_seq

    def stale(self, room: int) -> None:
        """The room's members changed since they were looked up: look again before the next message."""
        self.members.pop(room, None)

    async def _members(self, room: int) -> tuple[list[int], int]:
        if room not in self.members:
            info: f.Room = await self._call(f.GetRoom, room=room)
            self.members[room] = ([m.user for m in info.room.members], info.room.members_seq)
        return self.members[room]

    # ------------------------------------------------------------------ receiving

    async def on_to_device(self, frame: e.ToDevice) -> None:
        """Decrypt and act on each message, send what the engine answers, then ack (the store has them).
        Runs in one task (Chat's to-device worker), one frame at a time: the server sends the next after the ack."""
        keys_came = False
        for message in frame.messages:
            plain = await self._decrypt_to_device(message)
            if plain is None:
                continue
            kind = plain.get("type", "")
            keys_came |= kind in ("room_key", "forwarded_room_key")
            if kind.startswith("verification."):
                txn = plain.get("content", {}).get("txn")
                flow = self.machine.verification(txn) if isinstance(txn, str) else None
                if flow is not None:
                    self.emit(VerificationChanged(flow))
        # what the engine answers (SAS steps, dummies, forwarded keys) is best-effort: the keys this frame
        # brought are in the store already, so the ack goes even when a refusal stops the rest
        with self._refusals_logged("answering to-device messages"):
            await self._send_to_devices(self.machine.take_outgoing())
        await self.link.send_quietly(e.AckToDevice(upto=frame.messages[-1].id))
        with self._refusals_logged("after to-device messages"):
            if any('"type":0' in m.body for m in frame.messages):  # a pre-key message used a one-time key
                await self.publish()
            elif keys_came:
                await self._backup_up()
            if keys_came:
                await self.retry_pending()

    @contextlib.contextmanager
    def _refusals_logged(self, what: str) -> Iterator[None]:
        """A refusal here must not end the connection (this runs in the push loop): log it and go on."""
        try:
            yield
        except REQUEST_ERRORS as exc:
            log.warning("%s: %s", what, exc)

    async def _decrypt_to_device(self, message: e.ToDeviceIn) -> dict[str, Any] | None:
        """Decrypt one message once: whether it was handled is kept in the same store transaction as what it
        brought, so one sent again (after a reconnect before our ack, or a crash) is skipped, not decrypted
        twice (which would break a healthy Olm session)."""
        try:
            return self._decrypt_once(message)
        except UnknownDevice:  # nothing consumed: fetch the sender's devices and try again
            self.machine.devices_changed(message.sender)
            with self._refusals_logged("fetching a sender's devices"):
                await self._refresh([message.sender])
            try:
                return self._decrypt_once(message)
            except UnknownDevice:
                log.warning("to-device message from an unknown device of user %s: dropped", message.sender)
                with self.machine.store.transaction():
                    self._mark_done(message.id)
                return None

    def _decrypt_once(self, message: e.ToDeviceIn) -> dict[str, Any] | None:
        with self.machine.store.transaction():
            if message.id <= (self.machine.store.get("meta", "", "to_device_done") or 0):
                return None  # handled before
            plain = self.machine.decrypt_to_device(message.sender, message.sender_device, message.body)
            self._mark_done(message.id)
            return plain

    def _mark_done(self, message_id: int) -> None:
        self.machine.store.put("meta", "", "to_device_done", message_id)

    def on_message(self, message: f.Message) -> Decrypted | None:
        """A room message arrived: the membership cache follows its events; an encrypted one is decrypted now,
        or kept until its key comes."""
        if message.kind == "system" and message.event and message.event.get("type") in MEMBER_EVENTS:
            self.members.pop(message.room, None)
        if message.kind != "encrypted" or message.encrypted is None:
            return None
        found = self.decrypt(message)
        if found is None and self.machine.missing_key(message.room, message.encrypted) is not None:
            waiting = self.pending.setdefault((message.room, message.encrypted.session_id), [])
            waiting.append((message, trio.current_time()))
            self._wake.set()
        return found

    def decrypt(self, message: f.Message) -> Decrypted | None:
        """The plaintext of an encrypted message, if this device has its key (history pages use this)."""
        if message.encrypted is None:
            return None
        try:
            return self.machine.room_decrypt(message.room, message.encrypted, sender=message.sender, seq=message.seq)
        except UnknownDevice:
            if message.sender is not None:
                self.machine.devices_changed(message.sender)
            return None  # retried by retry_pending once the sender's devices are fetched

    async def read(self, message: f.Message) -> Decrypted | None:
        """`decrypt`, fetching the sender's devices first when they are not known here yet."""
        found = self.decrypt(message)
        if found is None and message.sender is not None and self.machine.outdated_users([message.sender]):
            await self._refresh([message.sender])
            found = self.decrypt(message)
        return found

    async def retry_pending(self) -> None:
        """Decrypt what waits for keys that may have come; hand over each one that now reads."""
        senders = {m.sender for waiting in self.pending.values() for m, _ in waiting if m.sender is not None}
        if senders:
            await self._refresh(senders)
        for key, waiting in list(self.pending.items()):
            still = []
            for message, since in waiting:
                found = self.decrypt(message)
                if found is not None:
                    self.emit(MessageDecrypted(message, found))
                else:
                    still.append((message, since))
            if still:
                self.pending[key] = still
            else:
                del self.pending[key]

    async def watch_pending(self) -> None:
        """Runs while encryption is on. A key a message has waited ASK_AFTER for is asked of the backup and my
        other devices (once per session); a message still waiting GIVE_UP_AFTER is reported unable to decrypt
        (once; it still becomes a MessageDecrypted if its key comes later)."""
        asked: set[tuple[int, str]] = set()
        reported: set[tuple[int, int]] = set()
        while True:
            now = trio.current_time()
            deadlines = [since + (GIVE_UP_AFTER if key in asked else ASK_AFTER)
                         for key, waiting in self.pending.items() for m, since in waiting
                         if (m.room, m.seq) not in reported]
            with trio.move_on_at(min(deadlines, default=math.inf)):
                await self._wake.wait()
            self._wake = trio.Event()
            now = trio.current_time()
            for key, waiting in list(self.pending.items()):
                if key not in asked and now - waiting[0][1] >= ASK_AFTER:
                    asked.add(key)
                    with self._refusals_logged("asking for a missing key"):
                        await self._ask_for(key[0], waiting[0][0])
            with self._refusals_logged("retrying messages that wait for keys"):
                await self.retry_pending()
            now = trio.current_time()
            for key, waiting in self.pending.items():
                for message, since in waiting:
                    if key in asked and now - since >= GIVE_UP_AFTER and (message.room, message.seq) not in reported:
                        reported.add((message.room, message.seq))
                        self.emit(UnableToDecrypt(message))

    async def _ask_for(self, room: int, message: f.Message) -> None:
        assert message.encrypted is not None
        missing: KeyRequest | None = self.machine.missing_key(room, message.encrypted)
        if missing is None:
            return
        if self.machine.has_recovery_key:
            await self.restore_backup_entries()
        await self._sessions_with([self.machine.user_id])
        await self._send_to_devices(self.machine.request_key(missing))

    # ------------------------------------------------------------------ key backup

    async def create_backup(self) -> str:
        """A new recovery key (returned to show the user once) and a backup of every key this device holds."""
        shown, auth = self.machine.new_backup()
        backup: e.Backup = await self._call(e.CreateBackup, auth=auth)
        self.backup_version = backup.version
        await self._backup_up()
        return shown

    async def restore_backup(self, recovery_key: str) -> int:
        """Open the backup with the recovery key the user typed (BadRecoveryKey: mistyped) and import every
        key in it; returns how many were new. From then on this device backs up its keys too."""
        backup: e.Backup = await self._call(e.GetBackup)
        self.machine.use_recovery_key(recovery_key, backup.auth)
        self.backup_version = backup.version
        imported = await self.restore_backup_entries()
        await self._backup_up()
        return imported

    async def restore_backup_entries(self) -> int:
        version = await self._version()
        if version is None:
            return 0
        imported, after = 0, None
        while True:
            page: e.BackupKeys = await self._call(e.GetBackupKeys, version=version, after=after)
            imported += self.machine.import_backup(page.keys)
            if not page.more or not page.keys:
                break
            after = e.BackupPosition(room=page.keys[-1].room, session_id=page.keys[-1].session_id)
        await self.retry_pending()
        return imported

    async def _version(self) -> int | None:
        """The current backup's version, if the recovery key this device knows opens it. A backup replaced
        under another recovery key (made on another device) is never written with the old key: the key is
        forgotten and this device stops backing up until the user types the new one (restore_backup)."""
        if self.backup_version is None and self.machine.has_recovery_key:
            try:
                backup: e.Backup = await self._call(e.GetBackup)
            except ChatError as exc:
                if exc.code != "not_found":
                    raise
                return None
            if not self.machine.backup_opens(backup.auth):
                log.warning("the key backup was replaced under another recovery key: not backing up to it")
                self.machine.forget_recovery_key()
                return None
            self.backup_version = backup.version
        return self.backup_version

    async def _backup_up(self) -> None:
        """Upload the keys not backed up yet (only a device that knows the recovery key can)."""
        if not self.machine.has_recovery_key or await self._version() is None:
            return
        while entries := self.machine.backup_entries():
            for batch in self._batches(entries, lambda k: len(k.data) + len(k.session_id) + 32, e.MAX_BACKUP_PAGE):
                try:
                    await self._call(e.PutBackupKeys, version=self.backup_version, keys=batch)
                except ChatError as exc:
                    if exc.code not in ("conflict", "not_found"):
                        raise
                    self.backup_version = None  # replaced or deleted: look again (and check it is still ours)
                    if await self._version() is None:
                        return
                    break
                self.machine.mark_backed_up(batch)

    # ------------------------------------------------------------------ verification

    async def start_verification(self, user: int, device: str) -> Verification:
        await self._sessions_with([user])
        txn, outs = self.machine.start_verification(user, device)
        await self._send_to_devices(outs)
        flow = self.machine.verification(txn)
        assert flow is not None
        return flow

    async def step(self, outs: list[ToDeviceOut]) -> None:
        await self._send_to_devices(outs)

    async def _call(self, kind: type[f.Frame], /, **fields: Any) -> Any:
        return await self.link.call(kind, idempotent=True, **fields)
