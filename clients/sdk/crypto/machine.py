"""The end-to-end encryption engine of one device: `CryptoMachine` (docs/e2ee.md is the contract).

It is pure: it never touches the network. The SDK's client feeds it what the server sent (device lists,
claimed keys, to-device bodies, room messages, backup entries) and sends what it returns (key payloads,
`ToDeviceOut` lists, `Encrypted` maps, backup entries). Everything it must remember is in its
`CryptoStore`, so a restart with the same password carries on where it stopped.

Rules it keeps so the caller does not have to:
- a device whose keys changed is never encrypted to; forged signatures are ignored;
- a to-device plaintext whose sender/recipient fields or keys do not match the envelope is dropped;
- a Megolm session rotates when the room's device set changes, after 100 messages and after a week, and its
  key goes to every current device (own other devices included) *before* the message (`room_encrypt`
  returns the key shares with the message: send them first);
- keys are only forwarded to, and accepted from, this user's own verified devices.

Replies the engine makes on its own (a `dummy` to unwedge a session, a forwarded key, the next SAS step)
collect in an outbox: call `take_outgoing()` after `decrypt_to_device` and `add_claimed` and send them.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import vodozemac

from chatd.clients.sdk.crypto import backup as bk
from chatd.clients.sdk.crypto.devices import DeviceBook, DeviceRecord, DeviceUpdate
from chatd.clients.sdk.crypto.megolm import GroupKeys, InboundKey
from chatd.clients.sdk.crypto.sas import Verification
from chatd.clients.sdk.crypto.store import CryptoStore
from chatd.clients.sdk.crypto.wire import (
    MEGOLM_ALGORITHM,
    OLM_ALGORITHM,
    BackupEntry,
    ClaimedKey,
    DeviceKeys,
    Encrypted,
    OlmEnvelope,
    OlmPlaintext,
    OneTimeKey,
    ToDeviceOut,
    as_record,
    b64decode,
    b64encode,
    device_keys_statement,
    otk_statement,
    parse_json,
    to_json,
    verify,
)

log = logging.getLogger("chatd.clients.sdk.crypto")

ROTATE_MESSAGES = 100
ROTATE_SECONDS = 7 * 24 * 3600
ONE_TIME_KEYS_TARGET = 25  # kept on the server: half of what a vodozemac account holds (it drops the oldest)
Device = tuple[int, str]


class UnknownDevice(Exception):
    """A message names a device whose keys this device has not fetched yet: `query_keys` for `user`, give
    the answer to `update_devices`, then hand the same message in again (nothing was consumed)."""

    def __init__(self, user: int | None, device: str) -> None:
        super().__init__(f"unknown device {device} of user {user}: query its keys and retry")
        self.user, self.device = user, device


@dataclass(frozen=True)
class Decrypted:
    """A decrypted room message. `content` is the Megolm plaintext (`room`, `kind`, `body`, ...); `user` and
    `device` the device whose session it is; `verified` whether that device was verified by SAS;
    `forwarded` whether the key came from a backup or another device rather than from the sender."""
    content: dict[str, Any]
    user: int | None
    device: str
    verified: bool
    forwarded: bool
    index: int


@dataclass(frozen=True)
class KeyRequest:
    """What is missing to decrypt a message: ask the backup, then own devices (`request_key`)."""
    room: int
    session_id: str
    sender_key: str


class CryptoMachine:
    """The crypto of `user_id`'s device `device_id`, kept in `store` (see `open_store`).

    Creates the device's Olm account on first use. `clock` (seconds) is for tests of rotation by age.
    """

    def __init__(self, user_id: int, device_id: str, store: CryptoStore, *,
                 clock: Callable[[], float] = time.time) -> None:
        self.user_id, self.device_id, self.store, self.clock = user_id, device_id, store, clock
        self.devices = DeviceBook(store)
        self.groups = GroupKeys(store)
        self._key = store.pickle_key
        self._outbox: list[ToDeviceOut] = []
        self._verifications: dict[str, Verification] = {}
        self._in_backup: dict[tuple[int, str], str] = {}  # the last backup_entries: (room, session) -> sender key
        saved = store.get("account", "", "")
        if saved is None:
            self._account = vodozemac.Account()
            self._save_account()
        else:
            self._account = vodozemac.Account.from_pickle(saved["pickle"], self._key)

    # ================================================================ own keys (upload_keys)
    @property
    def identity_key(self) -> str:
        return self._account.curve25519_key.to_base64()

    @property
    def signing_key(self) -> str:
        return self._account.ed25519_key.to_base64()

    def _save_account(self) -> None:
        self.store.put("account", "", "", {"pickle": self._account.pickle(self._key)})

    def _sign(self, statement: bytes) -> str:
        return self._account.sign(statement).to_base64()

    def device_keys(self) -> DeviceKeys:
        """`upload_keys.device_keys`: this device's identity and signing keys, signed."""
        ik, sk = self.identity_key, self.signing_key
        return DeviceKeys(identity_key=ik, signing_key=sk,
                          signature=self._sign(device_keys_statement(self.user_id, self.device_id, ik, sk)))

    def _signed(self, key_id: str, key: vodozemac.Curve25519PublicKey) -> OneTimeKey:
        k = key.to_base64()
        return OneTimeKey(key_id=key_id, key=k, signature=self._sign(otk_statement(self.user_id, self.device_id,
                                                                                 key_id, k)))

    def one_time_keys(self, held_by_server: int = 0) -> list[OneTimeKey]:
        """`upload_keys.one_time_keys`: the signed one-time keys to upload so the server holds 25, given
        how many it holds now (`key_counts.one_time_keys`); keys made earlier and not yet marked published
        come again. Call `mark_published` once the server answered. (A vodozemac account keeps the private
        halves of 50 keys and drops the oldest beyond: uploading more would make claims of old keys fail.)"""
        unpublished = len(self._account.one_time_keys)
        wanted = max(0, ONE_TIME_KEYS_TARGET - max(0, held_by_server) - unpublished)
        if wanted:
            self._account.generate_one_time_keys(wanted)
            self._save_account()
        return [self._signed(i, k) for i, k in sorted(self._account.one_time_keys.items())]

    def fallback_key(self) -> OneTimeKey:
        """`upload_keys.fallback_key`: a new signed fallback key (used when the one-time keys run out)."""
        account: Any = self._account  # the stubs of vodozemac 0.10 leave out its fallback key calls
        if not account.fallback_key:
            account.generate_fallback_key()
            self._save_account()
        key_id, key = next(iter(account.fallback_key.items()))
        return self._signed(key_id, key)

    def mark_published(self) -> None:
        """The server stored the keys returned so far (`key_counts` came back)."""
        self._account.mark_keys_as_published()
        self._save_account()

    # ================================================================ devices (query_keys, devices_changed)
    def update_devices(self, user: int, infos: Iterable[Any]) -> DeviceUpdate:
        """Take `user`'s devices from a `device_keys` answer (DeviceKeyInfo records or their dicts): forged
        ones are rejected, new ones recorded, a device whose keys CHANGED is reported in `.changed` (show
        it loudly) and never encrypted to, devices left out are treated as signed out."""
        with self.store.transaction():
            self.store.put("fetched", "", str(user), True)
            return self.devices.update(user, list(infos), skip=(self.user_id, self.device_id))

    def devices_changed(self, user: int) -> None:
        """A `devices_changed` push for `user`: its device list is stale until the next `update_devices`."""
        self.store.put("fetched", "", str(user), False)

    def outdated_users(self, users: Iterable[int]) -> list[int]:
        """Which of `users` to `query_keys` before encrypting to them: never fetched, or changed since."""
        return [u for u in sorted(set(users)) if not self.store.get("fetched", "", str(u))]

    def device(self, user: int, device: str) -> DeviceRecord | None:
        return self.devices.get(user, device)

    def _targets(self, users: Iterable[int]) -> list[Device]:
        """Every usable device of `users` but this one."""
        return [(r.user, r.device) for u in sorted(set(users)) for r in self.devices.of(u)
                if r.usable and (r.user, r.device) != (self.user_id, self.device_id)]

    # ================================================================ Olm sessions (claim_keys)
    def _sessions(self, identity_key: str) -> list[dict[str, Any]]:
        """Stored Olm sessions with `identity_key`, the one to encrypt with first."""
        return sorted(self.store.values("olm", identity_key), key=lambda s: s["last_used"], reverse=True)

    def _save_session(self, identity_key: str, session: vodozemac.Session) -> None:
        self.store.put("olm", identity_key, session.session_id,
                       {"pickle": session.pickle(self._key), "last_used": time.time()})

    def _wedged(self) -> list[Device]:
        return [(w["user"], w["device"]) for w in self.store.values("wedged", "")]

    def needs_claim(self, users: Iterable[int]) -> list[Device]:
        """The devices of `users` (and this user's other devices) with no Olm session yet, plus every device
        whose session is wedged: send them in `claim_keys` and give the answer to `add_claimed`."""
        wanted = [d for d in self._targets({*users, self.user_id}) if not self._sessions(self._record(d).identity_key)]
        return sorted(set(wanted) | {d for d in self._wedged() if self._usable(d)})

    def _record(self, d: Device) -> DeviceRecord:
        record = self.devices.get(*d)
        if record is None:
            raise UnknownDevice(*d)
        return record

    def _usable(self, d: Device) -> bool:
        record = self.devices.get(*d)
        return record is not None and record.usable

    def add_claimed(self, keys: Iterable[Any]) -> list[Device]:
        """Open an Olm session with each device of a `claimed_keys` answer whose key is signed by that
        device; returns the devices now reachable. A wedged device gets a `dummy` (in the outbox) on its new
        session so it replaces the broken one."""
        opened: list[Device] = []
        for raw in keys:
            key = as_record(raw, ClaimedKey)
            record = None if key is None else self.devices.get(key.user, key.device)
            if key is None or record is None or not record.usable:
                continue
            if not verify(record.signing_key, otk_statement(key.user, key.device, key.key_id, key.key),
                          key.signature):
                log.warning("crypto: claimed key of %s/%s has a forged signature: ignored", key.user, key.device)
                continue
            try:
                session = self._account.create_outbound_session(
                    vodozemac.Curve25519PublicKey.from_base64(record.identity_key),
                    vodozemac.Curve25519PublicKey.from_base64(key.key))
            except (ValueError, TypeError):
                continue
            d = (key.user, key.device)
            with self.store.transaction():
                self._save_session(record.identity_key, session)
                if self.store.get("wedged", "", f"{d[0]}:{d[1]}") is not None:
                    self.store.delete("wedged", "", f"{d[0]}:{d[1]}")
                    self._outbox += self.encrypt_to_device("dummy", {}, [d])
            opened.append(d)
        return opened

    # ================================================================ to-device (send_to_device, to_device)
    def encrypt_to_device(self, kind: str, content: dict[str, Any], devices: Iterable[Device]) -> list[ToDeviceOut]:
        """One Olm message of `kind` with `content` for each of `devices` that is usable and has a session
        (others are left out: `needs_claim` first). The bodies go in `send_to_device.messages`."""
        out: list[ToDeviceOut] = []
        for d in devices:
            record = self.devices.get(*d)
            if record is None or not record.usable:
                continue
            sessions = self._sessions(record.identity_key)
            if not sessions:
                continue
            session = vodozemac.Session.from_pickle(sessions[0]["pickle"], self._key)
            plaintext = OlmPlaintext(type=kind, sender=self.user_id, sender_device=self.device_id,
                                     recipient=record.user, recipient_device=record.device,
                                     recipient_key=record.signing_key, sender_signing_key=self.signing_key,
                                     content=content)
            message_type, ciphertext = session.encrypt(to_json(plaintext).encode()).to_parts()
            self.store.put("olm", record.identity_key, session.session_id,
                           {"pickle": session.pickle(self._key), "last_used": sessions[0]["last_used"]})
            envelope = OlmEnvelope(algorithm=OLM_ALGORITHM, sender_key=self.identity_key,
                                   type=message_type, ciphertext=b64encode(ciphertext))  # type: ignore[arg-type]
            out.append(ToDeviceOut(user=record.user, device=record.device, body=to_json(envelope)))
        return out

    def decrypt_to_device(self, sender: int, sender_device: str, body: str) -> dict[str, Any] | None:
        """Decrypt one pushed to-device message (its `sender`, `sender_device`, `body`) and act on it: a
        room key is imported, a key request from an own verified device answered, a verification step
        taken (replies go to the outbox). Returns the Olm plaintext (`type`, `content`, ...), or None when
        it is dropped (forged, not for this device, or undecryptable: then the session is marked wedged and
        `needs_claim` names the device). Raises UnknownDevice, consuming nothing, when the sender's keys
        are not known yet."""
        with self.store.transaction():  # the ratcheted session and what the message brought: both or neither
            return self._decrypt_to_device(sender, sender_device, body)

    def _decrypt_to_device(self, sender: int, sender_device: str, body: str) -> dict[str, Any] | None:
        envelope = parse_json(body, OlmEnvelope)
        if envelope is None or envelope.algorithm != OLM_ALGORITHM:
            return None
        record = self.devices.get(sender, sender_device)
        if record is None:
            raise UnknownDevice(sender, sender_device)
        # a device signed out since (not `active`) is still believed for what it sent before: the server
        # refuses sends from a signed-out device, so this was stored while it was signed in
        if record.changed is not None or envelope.sender_key != record.identity_key:
            log.warning("crypto: to-device message from %s/%s with a key it did not publish: dropped",
                        sender, sender_device)
            return None
        raw = self._olm_decrypt(record, envelope)
        if raw is None:
            self.store.put("wedged", "", f"{sender}:{sender_device}", {"user": sender, "device": sender_device})
            return None
        plaintext = parse_json(raw, OlmPlaintext)
        if plaintext is None or (plaintext.sender, plaintext.sender_device, plaintext.sender_signing_key,
                                 plaintext.recipient, plaintext.recipient_device, plaintext.recipient_key) != (
                sender, sender_device, record.signing_key, self.user_id, self.device_id, self.signing_key):
            log.warning("crypto: to-device plaintext from %s/%s not addressed as sent: dropped",
                        sender, sender_device)
            return None
        self._act(record, plaintext)
        return json.loads(raw)  # type: ignore[no-any-return]

    def _olm_decrypt(self, record: DeviceRecord, envelope: OlmEnvelope) -> bytes | None:
        try:
            message = vodozemac.AnyOlmMessage.from_parts(envelope.type, b64decode(envelope.ciphertext))
        except ValueError:
            return None
        sender_key = record.identity_key
        pre_key = message.to_pre_key() if envelope.type == 0 else None
        for stored in self._sessions(sender_key):
            session = vodozemac.Session.from_pickle(stored["pickle"], self._key)
            if pre_key is not None and not session.session_matches(pre_key):
                continue
            try:
                plain = session.decrypt(message)
            except ValueError:
                continue
            self._save_session(sender_key, session)
            return plain
        if pre_key is None:
            return None
        try:
            session, plain = self._account.create_inbound_session(
                vodozemac.Curve25519PublicKey.from_base64(sender_key), pre_key)
        except ValueError:
            return None
        with self.store.transaction():  # the one-time key is gone from the account with the session saved
            self._save_account()
            self._save_session(sender_key, session)
        return plain

    def _act(self, record: DeviceRecord, plaintext: OlmPlaintext) -> None:
        kind, content = plaintext.type, plaintext.content
        own_verified = record.user == self.user_id and record.verified
        if kind == "room_key":
            self.groups.add(content.get("room"), content.get("session_id"), content.get("session_key"),
                            record.identity_key, (record.user, record.device), exported=False)
        elif kind == "forwarded_room_key" and own_verified and isinstance(content.get("sender_key"), str):
            self.groups.add(content.get("room"), content.get("session_id"), content.get("session_key"),
                            content["sender_key"], None, exported=True)
        elif kind == "room_key_request" and own_verified:
            self._answer_key_request(record, content)
        elif kind.startswith("verification."):
            self._on_verification(record, kind, content)

    def take_outgoing(self) -> list[ToDeviceOut]:
        """The to-device messages the engine made on its own since the last call: send them."""
        out, self._outbox = self._outbox, []
        return out

    # ================================================================ Megolm (rooms)
    def _new_outbound(self, room: int, targets: list[Device]) -> dict[str, Any]:
        session = vodozemac.GroupSession()
        own = vodozemac.InboundGroupSession(session.session_key)  # to read our own messages, and back them up
        self.groups.keep(room, own, self.identity_key, (self.user_id, self.device_id), forwarded=False)
        return {"pickle": session.pickle(self._key), "session_id": session.session_id, "created": self.clock(),
                "devices": [list(d) for d in targets], "shared": []}

    def confirm_shared(self, room: int) -> None:
        """The shares `room_encrypt` returned are stored on the server: the session may be used on."""
        with self.store.transaction():
            state = self.store.get("outbound", "", str(room))
            if state is not None and state.get("unconfirmed"):
                state["unconfirmed"] = False
                self.store.put("outbound", "", str(room), state)

    def forget_fetched(self) -> None:
        """Every device list fetched so far is stale (at a reconnect: pushes missed meanwhile are lost)."""
        with self.store.transaction():
            for user in {record["user"] for record in self.store.values("device") if isinstance(record, dict)}:
                self.devices_changed(user)

    def rotate(self, room: int) -> None:
        """Never use the room's current outbound session again (the next message makes a new one)."""
        self.store.delete("outbound", "", str(room))

    def room_encrypt(self, room: int, members: Iterable[int], content: dict[str, Any]
                     ) -> tuple[Encrypted, list[ToDeviceOut]]:
        """Encrypt `content` (`kind`, `body`, `media`...; `room` is set here) for `room`, whose current
        members are `members` (user ids; this user's other devices get the key too).

        Returns the `encrypted` map for `send` and the `room_key` shares to send with `send_to_device`
        FIRST: only once that answered ok, send the message. Rotates the session when the members' device
        set changed, after 100 messages or after a week. Devices with no Olm session are left out of the
        shares, so before: `query_keys` the `outdated_users(members)`, `claim_keys` the
        `needs_claim(members)`."""
        targets = self._targets({*members, self.user_id})
        with self.store.transaction():
            state = self.store.get("outbound", "", str(room))
            if state is not None:
                session = vodozemac.GroupSession.from_pickle(state["pickle"], self._key)
                if ({tuple(d) for d in state["devices"]} != set(targets)
                        or state.get("unconfirmed")  # its last shares may never have reached the server
                        or session.message_index >= ROTATE_MESSAGES
                        or self.clock() - state["created"] >= ROTATE_SECONDS):
                    state = None
            if state is None:
                state = self._new_outbound(room, targets)
            session = vodozemac.GroupSession.from_pickle(state["pickle"], self._key)
            shared = {tuple(d) for d in state["shared"]}
            key = {"room": room, "session_id": session.session_id, "session_key": session.session_key.to_base64()}
            shares = self.encrypt_to_device("room_key", key, [d for d in targets if d not in shared])
            state["shared"] = sorted(shared | {(s.user, s.device) for s in shares})
            state["unconfirmed"] = bool(shares)  # until confirm_shared: a crash before the send rotates
            message = session.encrypt(json.dumps({**content, "room": room}).encode())
            state["pickle"] = session.pickle(self._key)
            self.store.put("outbound", "", str(room), state)
        encrypted = Encrypted(algorithm=MEGOLM_ALGORITHM, ciphertext=message.to_base64(),
                              session_id=session.session_id, sender_key=self.identity_key, device=self.device_id)
        return encrypted, shares

    def room_decrypt(self, room: int, encrypted: Any, sender: int | None = None,
                     seq: int | None = None) -> Decrypted | None:
        """Decrypt a room message's `encrypted` map that arrived in `room` (from `sender`, the user the
        server says sent it: checked against the key's owner; at `seq`: the same ciphertext at another seq
        is a replay and dropped). None when it cannot be read: if `missing_key` then names a key, keep the
        message pending and try again once keys arrive; otherwise it is broken or forged for good. Raises
        UnknownDevice when `sender` is given and the key's device is unknown (query `sender`, retry)."""
        enc = as_record(encrypted, Encrypted)
        if enc is None or enc.algorithm != MEGOLM_ALGORITHM:
            return None
        known = self.groups.get(room, enc.session_id, enc.sender_key)
        if known is None:
            return None
        session = self.groups.session(known)
        try:
            result = session.decrypt(vodozemac.MegolmMessage.from_base64(enc.ciphertext))
            content = json.loads(result.plaintext)
        except ValueError:  # vodozemac's Decode/MegolmDecryption errors, bad JSON
            return None
        if not isinstance(content, dict) or content.get("room") != room:
            log.warning("crypto: a message for room %s arrived in room %s: dropped", content.get("room")
                        if isinstance(content, dict) else "?", room)
            return None
        origin = self._origin(known, enc)
        if origin is None:
            if sender is not None:
                raise UnknownDevice(sender, enc.device)
            return Decrypted(content, None, enc.device, False, known.forwarded, result.message_index)
        if origin.device != enc.device or (sender is not None and origin.user != sender):
            log.warning("crypto: a message in room %s claims another sender than its key's: dropped", room)
            return None
        if seq is not None and not self.groups.first_seen(room, enc.session_id, result.message_index, seq):
            return None
        return Decrypted(content, origin.user, origin.device, origin.verified, known.forwarded,
                         result.message_index)

    def _origin(self, known: InboundKey, enc: Encrypted) -> DeviceRecord | None:
        """The device whose session a message is: the one that gave the key, else the identity key's."""
        if known.origin and tuple(known.origin) == (self.user_id, self.device_id):
            return DeviceRecord(self.user_id, self.device_id, self.identity_key, self.signing_key, verified=True)
        if known.origin:
            return self.devices.get(known.origin[0], known.origin[1])
        owner = self.devices.owner(enc.sender_key)
        if owner is None and enc.sender_key == self.identity_key:
            return DeviceRecord(self.user_id, self.device_id, self.identity_key, self.signing_key, verified=True)
        return owner

    def missing_key(self, room: int, encrypted: Any) -> KeyRequest | None:
        """The key a message that `room_decrypt` could not read is waiting for, or None if no key would help."""
        enc = as_record(encrypted, Encrypted)
        if enc is None or enc.algorithm != MEGOLM_ALGORITHM:
            return None
        try:
            index = vodozemac.MegolmMessage.from_base64(enc.ciphertext).message_index()
        except ValueError:
            return None
        known = self.groups.get(room, enc.session_id, enc.sender_key)
        if known is not None and self.groups.session(known).first_known_index <= index:
            return None
        return KeyRequest(room, enc.session_id, enc.sender_key)

    def request_key(self, missing: KeyRequest) -> list[ToDeviceOut]:
        """`room_key_request`s for `missing` to this user's own other verified devices."""
        mine = [(r.user, r.device) for r in self.devices.of(self.user_id) if r.usable and r.verified]
        content = {"room": missing.room, "session_id": missing.session_id, "sender_key": missing.sender_key,
                   "request_id": str(uuid.uuid4())}
        return self.encrypt_to_device("room_key_request", content, mine)

    def _answer_key_request(self, record: DeviceRecord, content: dict[str, Any]) -> None:
        room, session_id = content.get("room"), content.get("session_id")
        if not isinstance(room, int) or not isinstance(session_id, str):
            return
        sender_key = content.get("sender_key")
        known = self.groups.get(room, session_id, sender_key) if isinstance(sender_key, str) else None
        if known is None:
            return
        forward = self.groups.export(known)
        if forward is not None:
            self._outbox += self.encrypt_to_device("forwarded_room_key", forward, [(record.user, record.device)])

    # ================================================================ key backup
    def _recovery_key(self) -> bytes | None:
        saved = self.store.get("meta", "", "recovery_key")
        return None if saved is None else b64decode(saved)

    def backup_opens(self, auth: str) -> bool:
        """Whether the recovery key this device knows opens the backup whose `auth` the server holds now."""
        key = self._recovery_key()
        return key is not None and bk.matches_auth(key, auth)

    def forget_recovery_key(self) -> None:
        """The backup was replaced by one under another recovery key: stop writing to it with this one."""
        self.store.delete("meta", "", "recovery_key")

    def _reset_backed_up(self) -> None:
        for known in self.groups.all():
            known.backed_up = False
            self.groups.put(known)

    def new_backup(self) -> tuple[str, str]:
        """Make a recovery key: returns (what to show the user once, the `auth` for `create_backup`). Every
        key this device holds is then pending for `backup_entries`."""
        key = bk.new_recovery_key()
        with self.store.transaction():
            self.store.put("meta", "", "recovery_key", b64encode(key))
            self._reset_backed_up()
        return bk.display_recovery_key(key), bk.backup_auth(key)

    def use_recovery_key(self, typed: str, auth: str) -> None:
        """Remember the recovery key the user typed for the backup whose `auth` the server holds. Raises
        BadRecoveryKey (nothing changed) when it is mistyped or not this backup's."""
        key = bk.parse_recovery_key(typed)
        if not bk.matches_auth(key, auth):
            raise bk.BadRecoveryKey("this recovery key does not open your key backup: check it for typos")
        with self.store.transaction():
            self.store.put("meta", "", "recovery_key", b64encode(key))
            self._reset_backed_up()

    @property
    def has_recovery_key(self) -> bool:
        return self._recovery_key() is not None

    def backup_entries(self, limit: int = 1000) -> list[BackupEntry]:
        """Up to `limit` keys not backed up yet, sealed for `put_backup_keys` (none without a recovery key).
        Call `mark_backed_up` with them once the server answered ok."""
        key = self._recovery_key()
        if key is None:
            return []
        entries: list[BackupEntry] = []
        self._in_backup = {}
        for known in sorted(self.groups.all(), key=self._trust):
            if len(entries) >= limit:
                break
            if known.backed_up or (known.room, known.session_id) in self._in_backup:
                continue  # the backup holds one key per (room, session): the most trusted record's
            exported = self.groups.export(known)
            if exported is not None:
                entries.append(bk.seal_entry(key, bk.BackedUpKey(**exported)))
                self._in_backup[(known.room, known.session_id)] = known.sender_key
        return entries

    def _trust(self, known: InboundKey) -> int:
        """Records given by the session's own sender first, then those whose sender key has a known owner."""
        if known.origin and not known.forwarded:
            return 0
        return 1 if self.devices.owner(known.sender_key) is not None else 2

    def mark_backed_up(self, entries: Iterable[BackupEntry]) -> None:
        """The entries `backup_entries` returned are stored. Other records of the same (room, session) under
        another sender key count as done too: they are left out of the backup on purpose (one key per
        session there, the most trusted one)."""
        done = {(e.room, e.session_id) for e in entries} & self._in_backup.keys()
        with self.store.transaction():
            for known in self.groups.all():
                if (known.room, known.session_id) in done and not known.backed_up:
                    known.backed_up = True
                    self.groups.put(known)

    def import_backup(self, entries: Iterable[Any]) -> int:
        """Import `backup_keys` entries (those that do not decrypt for their room are ignored); returns how
        many keys were new or reach further back. Raises BadRecoveryKey without a recovery key."""
        key = self._recovery_key()
        if key is None:
            raise bk.BadRecoveryKey("no recovery key: type it in first")
        imported = 0
        with self.store.transaction():
            for entry in entries:
                found = bk.open_entry(key, entry)
                if found is not None and self.groups.add(found.room, found.session_id, found.session_key,
                                                         found.sender_key, None, exported=True, backed_up=True):
                    imported += 1
        return imported

    # ================================================================ verification (SAS)
    def start_verification(self, user: int, device: str) -> tuple[str, list[ToDeviceOut]]:
        """Ask `device` of `user` to verify (needs an Olm session with it): returns the txn and what to send."""
        record = self._record((user, device))
        txn = str(uuid.uuid4())
        flow = Verification(txn, (self.user_id, self.device_id), (user, device), self.signing_key,
                            record.signing_key, we_started=True)
        self._verifications[txn] = flow
        return txn, self._wrap(flow, flow.request())

    def verification(self, txn: str) -> Verification | None:
        """A verification's state: `.state`, `.emoji` (7 (emoji, name) pairs), `.decimals`, `.verified`."""
        return self._verifications.get(txn)

    def verifications(self) -> list[Verification]:
        return list(self._verifications.values())

    def accept_verification(self, txn: str) -> list[ToDeviceOut]:
        return self._step(txn, lambda flow: flow.accept())

    def confirm_verification(self, txn: str) -> list[ToDeviceOut]:
        """The user says the emoji match on both screens."""
        return self._step(txn, lambda flow: flow.confirm())

    def cancel_verification(self, txn: str, reason: str = "the emoji do not match") -> list[ToDeviceOut]:
        return self._step(txn, lambda flow: flow.cancel(reason))

    def _step(self, txn: str, action: Callable[[Verification], list[tuple[str, dict[str, Any]]]]) -> list[ToDeviceOut]:
        flow = self._verifications.get(txn)
        if flow is None:
            return []
        out = self._wrap(flow, action(flow))
        self._mark_if_verified(flow)
        return out

    def _wrap(self, flow: Verification, send: list[tuple[str, dict[str, Any]]]) -> list[ToDeviceOut]:
        return [o for kind, content in send for o in self.encrypt_to_device(kind, content, [flow.them])]

    def _mark_if_verified(self, flow: Verification) -> None:
        if flow.verified:
            record = self.devices.get(*flow.them)
            if record is not None and record.signing_key == flow.their_signing_key and not record.verified:
                record.verified = True
                self.devices.put(record)

    def _on_verification(self, record: DeviceRecord, kind: str, content: dict[str, Any]) -> None:
        txn = content.get("txn")
        if not isinstance(txn, str):
            return
        flow = self._verifications.get(txn)
        if flow is None and kind == "verification.request":
            self._verifications[txn] = Verification(txn, (self.user_id, self.device_id),
                                                    (record.user, record.device), self.signing_key,
                                                    record.signing_key, we_started=False)
            return
        if flow is None or flow.them != (record.user, record.device):
            return
        self._outbox += self._wrap(flow, flow.receive(kind, content))
        self._mark_if_verified(flow)
