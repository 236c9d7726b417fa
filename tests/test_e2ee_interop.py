"""The web client's crypto machine (web/src/crypto, libolm in wasm) against vodozemac, on the envelopes of
docs/e2ee.md: the Python side here is a device written from the document alone, so whatever the two agree
on is what the document says. Covered: the signed statements verified both ways, an Olm session opened
from either side with the exact envelope and plaintext of section 2 (and a forged plaintext dropped), a
Megolm room_key shared and a room message decrypted both ways, the SAS emoji identical and the devices
verified, and a backup entry written by one side and read by the other. The same again against the SDK's
own engine (clients/sdk/crypto): room messages both ways, SAS between the two, each reading the other's backup.

The web side runs as one node process (web/tests/interop/peer.ts, bundled with esbuild from web's own
node_modules, installed here when missing) answering one JSON request per line. Skipped only without node.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
import vodozemac as vz
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from tests.web_modules import node_modules

WEB = Path(__file__).resolve().parent.parent / "web"
BUNDLE = WEB / "node_modules" / ".cache" / "chatd-interop" / "peer.mjs"
ROOM = 7
WEB_USER, WEB_DEVICE = 1, "7d1d5b2e-0000-4000-8000-000000000001"
PY_USER, PY_DEVICE = 2, "7d1d5b2e-0000-4000-8000-000000000002"
B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
# the Matrix SAS emoji table (names), which both sides show
SAS_EMOJI = ["Dog", "Cat", "Lion", "Horse", "Unicorn", "Pig", "Elephant", "Rabbit", "Panda", "Rooster", "Penguin",
             "Turtle", "Fish", "Octopus", "Butterfly", "Flower", "Tree", "Cactus", "Mushroom", "Globe", "Moon",
             "Cloud", "Fire", "Banana", "Apple", "Strawberry", "Corn", "Pizza", "Cake", "Heart", "Smiley", "Robot",
             "Hat", "Glasses", "Spanner", "Santa", "Thumbs Up", "Umbrella", "Hourglass", "Clock", "Gift",
             "Light Bulb", "Book", "Pencil", "Paperclip", "Scissors", "Lock", "Key", "Hammer", "Telephone", "Flag",
             "Train", "Bicycle", "Aeroplane", "Rocket", "Trophy", "Ball", "Guitar", "Trumpet", "Bell", "Anchor",
             "Headphones", "Folder", "Pin"]
_ids = itertools.count(1)


def b64(data: bytes) -> str:
    """Unpadded standard base64 (docs/e2ee.md section 1)."""
    return base64.b64encode(data).decode().rstrip("=")


def unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4))


def b58decode(text: str) -> bytes:
    n = 0
    for ch in text:
        n = n * 58 + B58.index(ch)
    body = n.to_bytes((n.bit_length() + 7) // 8, "big") if n else b""
    return b"\0" * (len(text) - len(text.lstrip("1"))) + body


def b58encode(data: bytes) -> str:
    n = int.from_bytes(data, "big")
    out = ""
    while n:
        n, r = divmod(n, 58)
        out = B58[r] + out
    return "1" * (len(data) - len(data.lstrip(b"\0"))) + out


def hkdf32(key: bytes, info: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info.encode()).derive(key)


class Peer:
    """The web crypto machine in its node process."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc = proc

    def __call__(self, op: str, **args: Any) -> Any:
        assert self.proc.stdin and self.proc.stdout
        self.proc.stdin.write(json.dumps({"op": op, **args}) + "\n")
        self.proc.stdin.flush()
        reply = json.loads(self.proc.stdout.readline() or '{"error": "the peer exited"}')
        assert "error" not in reply, f"{op}: {reply['error']}"
        return reply["ok"]


@pytest.fixture(scope="module")
def bundle() -> Path:
    missing = node_modules()
    if missing:
        pytest.skip(missing)
    result = subprocess.run(
        [str(WEB / "node_modules" / ".bin" / "esbuild"), "tests/interop/peer.ts", "--bundle", "--platform=node",
         "--format=esm", "--external:@towns-protocol/olm", f"--outfile={BUNDLE}", "--log-level=warning"],
        cwd=WEB, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    return BUNDLE


@pytest.fixture
def web(bundle: Path) -> Iterator[Peer]:
    proc = subprocess.Popen([shutil.which("node") or "node", str(bundle)], cwd=WEB, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "NODE_NO_WARNINGS": "1"})
    try:
        yield Peer(proc)
    finally:
        proc.kill()
        proc.wait(timeout=10)


class PyDevice:
    """A device of user PY_USER built on vodozemac from docs/e2ee.md (the SDK's side of the contract)."""

    def __init__(self, user: int = PY_USER, device: str = PY_DEVICE) -> None:
        self.user, self.device = user, device
        self.account = vz.Account()
        self.sessions: dict[str, list[vz.Session]] = {}

    @property
    def identity_key(self) -> str:
        return str(self.account.curve25519_key.to_base64())

    @property
    def signing_key(self) -> str:
        return str(self.account.ed25519_key.to_base64())

    def sign(self, statement: str) -> str:
        return str(self.account.sign(statement.encode()).to_base64())

    def info(self) -> dict[str, Any]:
        """This device as query_keys lists it (DeviceKeyInfo), with its signed statement."""
        statement = f"chatd-device-keys:v1:{self.user}:{self.device}:{self.identity_key}:{self.signing_key}"
        return {"user": self.user, "device": self.device, "identity_key": self.identity_key,
                "signing_key": self.signing_key, "signature": self.sign(statement), "name": "python"}

    def claimable(self) -> dict[str, Any]:
        """One signed one-time key, as claim_keys gives it out."""
        self.account.generate_one_time_keys(1)
        key_id, key = next(iter(self.account.one_time_keys.items()))
        self.account.mark_keys_as_published()
        key_b64 = key.to_base64()
        return {"user": self.user, "device": self.device, "key_id": key_id, "key": key_b64, "fallback": False,
                "signature": self.sign(f"chatd-otk:v1:{self.user}:{self.device}:{key_id}:{key_b64}")}

    def plaintext(self, to: dict[str, Any], type_: str, content: dict[str, Any]) -> dict[str, Any]:
        return {"type": type_, "sender": self.user, "sender_device": self.device, "recipient": to["user"],
                "recipient_device": to["device"], "recipient_key": to["signing_key"],
                "sender_signing_key": self.signing_key, "content": content}

    def send(self, to: dict[str, Any], plaintext: dict[str, Any], one_time_key: str | None = None) -> dict[str, Any]:
        """The to_device push carrying `plaintext` to `to` (a session opens on `one_time_key` if none)."""
        sessions = self.sessions.setdefault(to["identity_key"], [])
        if not sessions:
            assert one_time_key, "no session yet: claim a one-time key"
            their_key = vz.Curve25519PublicKey.from_base64(to["identity_key"])
            sessions.append(self.account.create_outbound_session(
                their_key, vz.Curve25519PublicKey.from_base64(one_time_key)))
        message_type, ciphertext = sessions[0].encrypt(json.dumps(plaintext).encode()).to_parts()
        envelope = {"algorithm": "olm.v1", "sender_key": self.identity_key, "type": message_type,
                    "ciphertext": b64(ciphertext)}
        return {"id": next(_ids), "sender": self.user, "sender_device": self.device, "body": json.dumps(envelope)}

    def receive(self, out: dict[str, Any], sender: dict[str, Any]) -> dict[str, Any]:
        """Open one of the web side's send_to_device messages, with every check of section 2."""
        assert (out["user"], out["device"]) == (self.user, self.device)
        envelope = json.loads(out["body"])
        assert set(envelope) == {"algorithm", "sender_key", "type", "ciphertext"}
        assert envelope["algorithm"] == "olm.v1" and envelope["sender_key"] == sender["identity_key"]
        message = vz.AnyOlmMessage.from_parts(envelope["type"], unb64(envelope["ciphertext"]))
        sessions = self.sessions.setdefault(sender["identity_key"], [])
        if envelope["type"] == 0:
            pre_key = message.to_pre_key()
            assert pre_key is not None
            session, raw = self.account.create_inbound_session(
                vz.Curve25519PublicKey.from_base64(sender["identity_key"]), pre_key)
            sessions.insert(0, session)
        else:
            raw = sessions[0].decrypt(message)
        p: dict[str, Any] = json.loads(raw)
        assert set(p) == {"type", "sender", "sender_device", "recipient", "recipient_device", "recipient_key",
                          "sender_signing_key", "content"}
        assert (p["sender"], p["sender_device"]) == (sender["user"], sender["device"])
        assert (p["recipient"], p["recipient_device"]) == (self.user, self.device)
        assert p["recipient_key"] == self.signing_key and p["sender_signing_key"] == sender["signing_key"]
        return p


def web_device(web: Peer, py: PyDevice, *, claim: bool = True) -> dict[str, Any]:
    """Start the web device, tell it about the Python one; the web device's DeviceKeyInfo and upload."""
    me = web("init", user=WEB_USER, device=WEB_DEVICE)
    web("add_peer", info=py.info(), claim=py.claimable() if claim else None)
    keys = me["upload"]["device_keys"]
    info = {"user": WEB_USER, "device": WEB_DEVICE, **keys}
    return {**info, "upload": me["upload"]}


def room_message(group: vz.GroupSession, sender: PyDevice, body: str, room: int = ROOM) -> dict[str, Any]:
    ciphertext = group.encrypt(json.dumps({"room": room, "kind": "text", "body": body}).encode())
    return {"algorithm": "megolm.v1", "ciphertext": ciphertext.to_base64(), "session_id": group.session_id,
            "sender_key": sender.identity_key, "device": sender.device}


def test_signed_statements_verify_both_ways(web: Peer) -> None:
    py = PyDevice()
    me = web_device(web, py)
    upload = me["upload"]
    signer = vz.Ed25519PublicKey.from_base64(me["signing_key"])
    statement = f"chatd-device-keys:v1:{WEB_USER}:{WEB_DEVICE}:{me['identity_key']}:{me['signing_key']}"
    signer.verify_signature(statement.encode(), vz.Ed25519Signature.from_base64(me["signature"]))
    assert len(me["identity_key"]) == 43 and len(me["signature"]) == 86
    keys = [*upload["one_time_keys"], upload["fallback_key"]]
    assert len(upload["one_time_keys"]) == 50
    for k in keys:
        signer.verify_signature(f"chatd-otk:v1:{WEB_USER}:{WEB_DEVICE}:{k['key_id']}:{k['key']}".encode(),
                                vz.Ed25519Signature.from_base64(k["signature"]))
    with pytest.raises(vz.SignatureException):  # and not any statement: this one
        signer.verify_signature(statement.replace(WEB_DEVICE, PY_DEVICE).encode(),
                                vz.Ed25519Signature.from_base64(me["signature"]))
    # the web side takes the Python device's statement, and drops one whose signature does not verify
    assert web("device", user=PY_USER, device=PY_DEVICE)["identity_key"] == py.identity_key
    forged = PyDevice(3, "7d1d5b2e-0000-4000-8000-000000000003")
    web("add_peer", info={**forged.info(), "signature": py.info()["signature"]})
    assert web("device", user=3, device=forged.device) is None


def test_olm_opened_by_web_megolm_both_ways(web: Peer) -> None:
    py = PyDevice()
    me = web_device(web, py)
    sent = web("encrypt", room=ROOM, members=[WEB_USER, PY_USER], content={"kind": "text", "body": "hi from web"})
    [to_py] = sent["outbox"]
    p = py.receive(to_py, me)
    assert json.loads(to_py["body"])["type"] == 0  # the web side opened the session: a pre-key message
    assert p["type"] == "room_key" and set(p["content"]) == {"room", "session_id", "session_key"}
    assert p["content"]["room"] == ROOM and p["content"]["session_id"] == sent["payload"]["session_id"]
    inbound = vz.InboundGroupSession(vz.SessionKey(p["content"]["session_key"]))
    payload = sent["payload"]
    assert payload["algorithm"] == "megolm.v1" and payload["sender_key"] == me["identity_key"]
    assert payload["device"] == WEB_DEVICE
    plain = json.loads(inbound.decrypt(vz.MegolmMessage.from_base64(payload["ciphertext"])).plaintext)
    assert plain == {"room": ROOM, "kind": "text", "body": "hi from web"}

    # back over the same Olm session (a normal message), the Python device's own Megolm session
    group = vz.GroupSession()
    key = py.plaintext(me, "room_key", {"room": ROOM, "session_id": group.session_id,
                                        "session_key": group.session_key.to_base64()})
    push = py.send(me, key)
    assert json.loads(push["body"])["type"] == 1
    got = web("receive", messages=[push])
    assert {"type": "keys", "room": ROOM, "session_id": group.session_id} in got["events"]
    result = web("decrypt", room=ROOM, sender=PY_USER, payload=room_message(group, py, "hi from python"))
    assert result["state"] == "ok" and result["content"]["body"] == "hi from python"
    # the room inside the ciphertext is checked: the same message shown in another room is refused
    moved = web("decrypt", room=ROOM + 1, sender=PY_USER, payload=room_message(group, py, "moved"))
    assert moved["state"] != "ok"


def test_olm_opened_by_python(web: Peer) -> None:
    py = PyDevice()
    me = web_device(web, py, claim=False)
    otk = me["upload"]["one_time_keys"][0]
    group = vz.GroupSession()
    push = py.send(me, py.plaintext(me, "room_key", {"room": ROOM, "session_id": group.session_id,
                                                     "session_key": group.session_key.to_base64()}),
                   one_time_key=otk["key"])
    assert json.loads(push["body"])["type"] == 0
    web("receive", messages=[push])
    result = web("decrypt", room=ROOM, sender=PY_USER, payload=room_message(group, py, "first words"))
    assert result["state"] == "ok" and result["content"]["body"] == "first words"
    # the web side answers on the session Python opened (no claim: the scripted server has no key to give)
    sent = web("encrypt", room=ROOM, members=[WEB_USER, PY_USER], content={"kind": "text", "body": "got it"})
    [to_py] = sent["outbox"]
    assert json.loads(to_py["body"])["type"] == 1
    p = py.receive(to_py, me)
    inbound = vz.InboundGroupSession(vz.SessionKey(p["content"]["session_key"]))
    plain = json.loads(inbound.decrypt(vz.MegolmMessage.from_base64(sent["payload"]["ciphertext"])).plaintext)
    assert plain["body"] == "got it"


@pytest.mark.parametrize("field,value", [
    ("recipient_key", "A" * 43),  # meant for another device's key
    ("recipient_device", "7d1d5b2e-0000-4000-8000-00000000ffff"),  # replayed to another device
    ("sender_device", "7d1d5b2e-0000-4000-8000-00000000eeee"),  # under another device's name
    ("sender_signing_key", "B" * 43),
])
def test_web_drops_a_plaintext_that_does_not_match_the_envelope(web: Peer, field: str, value: str) -> None:
    py = PyDevice()
    me = web_device(web, py, claim=False)
    group = vz.GroupSession()
    plaintext = py.plaintext(me, "room_key", {"room": ROOM, "session_id": group.session_id,
                                              "session_key": group.session_key.to_base64()})
    push = py.send(me, {**plaintext, field: value}, one_time_key=me["upload"]["one_time_keys"][0]["key"])
    got = web("receive", messages=[push])
    assert not [e for e in got["events"] if e["type"] == "keys"]
    assert web("decrypt", room=ROOM, sender=PY_USER, payload=room_message(group, py, "x"))["state"] == "pending"


def test_sas_emoji_identical_and_devices_verified(web: Peer) -> None:
    py = PyDevice()
    me = web_device(web, py)
    started = web("verify_request", user=PY_USER, device=PY_DEVICE)
    txn = started["txn"]
    request = py.receive(started["outbox"][0], me)
    assert request["type"] == "verification.request"
    assert request["content"] == {"txn": txn, "from_device": WEB_DEVICE}
    got = web("receive", messages=[py.send(me, py.plaintext(me, "verification.ready", {"txn": txn}))])
    start = py.receive(got["outbox"][0], me)
    assert start["type"] == "verification.start" and start["content"]["txn"] == txn
    sas = vz.Sas()
    our_key = sas.public_key.to_base64()
    established = sas.diffie_hellman(vz.Curve25519PublicKey.from_base64(start["content"]["key"]))
    web("receive", messages=[py.send(me, py.plaintext(me, "verification.key", {"txn": txn, "key": our_key}))])
    info = f"chatd-sas:v1:{WEB_USER}:{WEB_DEVICE}:{PY_USER}:{PY_DEVICE}:{txn}"
    indices = list(established.bytes(info).emoji_indices)
    [view] = web("verifications")
    assert view["phase"] == "emoji"
    assert [name for _, name in view["emoji"]] == [SAS_EMOJI[i] for i in indices]  # the same 7 emoji
    macs = web("verify_confirm", txn=txn)
    mac_msg = py.receive(macs["outbox"][0], me)
    assert mac_msg["type"] == "verification.mac"
    established.verify_mac(me["signing_key"], f"chatd-sas-mac:v1:{txn}:{WEB_DEVICE}", mac_msg["content"]["mac"])
    our_mac = established.calculate_mac(py.signing_key, f"chatd-sas-mac:v1:{txn}:{PY_DEVICE}")
    done = web("receive", messages=[py.send(me, py.plaintext(me, "verification.mac", {"txn": txn, "mac": our_mac}))])
    assert py.receive(done["outbox"][0], me)["type"] == "verification.done"
    assert web("verifications")[0]["phase"] == "done"
    assert web("device", user=PY_USER, device=PY_DEVICE)["verified"] is True


def test_backup_written_by_web_read_by_python(web: Peer) -> None:
    py = PyDevice()
    me = web_device(web, py)
    sent = web("encrypt", room=ROOM, members=[WEB_USER, PY_USER], content={"kind": "text", "body": "keep me"})
    made = web("create_backup")
    recovery = made["recovery_key"]
    groups = recovery.split(" ")
    assert all(len(g) == 4 for g in groups[:-1]) and 1 <= len(groups[-1]) <= 4
    key = b58decode(recovery.replace(" ", ""))
    assert len(key) == 32 and b58encode(key) == recovery.replace(" ", "")
    check = hkdf32(key, "chatd-backup-v1:check")
    assert made["backup"]["info"]["auth"] == b64(hmac.new(check, b"chatd-backup", hashlib.sha256).digest())
    [entry] = made["backup"]["entries"]
    assert (entry["room"], entry["session_id"]) == (ROOM, sent["payload"]["session_id"])
    data = unb64(entry["data"])
    plain = json.loads(AESGCM(hkdf32(key, "chatd-backup-v1:enc")).decrypt(
        data[:12], data[12:], f"{ROOM}:{entry['session_id']}".encode()))
    assert set(plain) == {"room", "session_id", "sender_key", "session_key"}
    assert plain["sender_key"] == me["identity_key"]
    inbound = vz.InboundGroupSession.import_session(vz.ExportedSessionKey(plain["session_key"]))
    msg = json.loads(inbound.decrypt(vz.MegolmMessage.from_base64(sent["payload"]["ciphertext"])).plaintext)
    assert msg["body"] == "keep me"


def test_backup_written_by_python_read_by_web(web: Peer) -> None:
    py = PyDevice()
    web_device(web, py)
    group = vz.GroupSession()
    own = vz.InboundGroupSession(group.session_key)  # its key at index 0, before the message
    payload = room_message(group, py, "from the backup")
    key = os.urandom(32)
    enc = AESGCM(hkdf32(key, "chatd-backup-v1:enc"))
    auth = b64(hmac.new(hkdf32(key, "chatd-backup-v1:check"), b"chatd-backup", hashlib.sha256).digest())
    exported = own.export_at(0)
    assert exported is not None
    entry_plain = {"room": ROOM, "session_id": group.session_id, "sender_key": py.identity_key,
                   "session_key": exported.to_base64()}
    nonce = os.urandom(12)
    data = b64(nonce + enc.encrypt(nonce, json.dumps(entry_plain).encode(), f"{ROOM}:{group.session_id}".encode()))
    moved = {"room": ROOM + 1, "session_id": group.session_id, "data": data}  # GCM refuses it: wrong room
    web("set_backup", backup={"info": {"version": 4, "auth": auth},
                              "entries": [{"room": ROOM, "session_id": group.session_id, "data": data}, moved]})
    typed = " ".join(b58encode(key)[i:i + 4] for i in range(0, len(b58encode(key)), 4))
    assert web("use_recovery_key", text=typed) == 1
    result = web("decrypt", room=ROOM, sender=PY_USER, payload=payload)
    assert result["state"] == "ok" and result["content"]["body"] == "from the backup"
    assert web("decrypt", room=ROOM + 1, sender=PY_USER, payload=payload)["state"] == "pending"


# --------------------------------------------------------------------------- the SDK's engine against the web's

class Sdk:
    """The SDK's crypto engine (clients/sdk/crypto) as a device of PY_USER, with what it publishes."""

    def __init__(self) -> None:
        from chatd.clients.sdk.crypto.machine import CryptoMachine
        from chatd.clients.sdk.crypto.store import open_store

        self.m = CryptoMachine(PY_USER, PY_DEVICE, open_store(None, PY_USER, PY_DEVICE, "a password"))
        keys = msgspec.to_builtins(self.m.device_keys())
        self.info = {"user": PY_USER, "device": PY_DEVICE, **keys, "name": "sdk"}
        otk = msgspec.to_builtins(self.m.one_time_keys()[0])
        self.claim = {"user": PY_USER, "device": PY_DEVICE, **otk, "fallback": False}
        self.m.fallback_key()
        self.m.mark_published()

    def take(self, outbox: list[dict[str, Any]], web_info: dict[str, Any]) -> list[dict[str, Any]]:
        """Decrypt what the web device sent us; the pushes of what the SDK sends back."""
        self.m.update_devices(WEB_USER, [{k: v for k, v in web_info.items() if k != "upload"}])
        for out in outbox:
            assert (out["user"], out["device"]) == (PY_USER, PY_DEVICE)
            assert self.m.decrypt_to_device(WEB_USER, WEB_DEVICE, out["body"]) is not None
        return self.pushes(self.m.take_outgoing())

    @staticmethod
    def pushes(outs: list[Any]) -> list[dict[str, Any]]:
        return [{"id": next(_ids), "sender": PY_USER, "sender_device": PY_DEVICE, "body": o.body} for o in outs]


def test_sdk_and_web_exchange_room_messages(web: Peer) -> None:
    sdk = Sdk()
    me = web("init", user=WEB_USER, device=WEB_DEVICE)
    web("add_peer", info=sdk.info, claim=sdk.claim)
    web_info = {"user": WEB_USER, "device": WEB_DEVICE, **me["upload"]["device_keys"]}
    sent = web("encrypt", room=ROOM, members=[WEB_USER, PY_USER], content={"kind": "text", "body": "web to sdk"})
    sdk.take(sent["outbox"], web_info)
    got = sdk.m.room_decrypt(ROOM, sent["payload"], sender=WEB_USER)
    assert got is not None and got.content == {"room": ROOM, "kind": "text", "body": "web to sdk"}
    assert (got.user, got.device) == (WEB_USER, WEB_DEVICE)

    encrypted, shares = sdk.m.room_encrypt(ROOM, [WEB_USER, PY_USER], {"kind": "text", "body": "sdk to web"})
    web("receive", messages=Sdk.pushes(shares))
    result = web("decrypt", room=ROOM, sender=PY_USER, payload=msgspec.to_builtins(encrypted))
    assert result["state"] == "ok" and result["content"]["body"] == "sdk to web"


def test_sdk_and_web_verify_each_other(web: Peer) -> None:
    sdk = Sdk()
    me = web("init", user=WEB_USER, device=WEB_DEVICE)
    web("add_peer", info=sdk.info, claim=sdk.claim)
    web_info = {"user": WEB_USER, "device": WEB_DEVICE, **me["upload"]["device_keys"]}
    started = web("verify_request", user=PY_USER, device=PY_DEVICE)
    txn = started["txn"]
    sdk.take(started["outbox"], web_info)
    got = web("receive", messages=Sdk.pushes(sdk.m.accept_verification(txn)))  # ready -> the web's start
    got = web("receive", messages=sdk.take(got["outbox"], web_info))  # the SDK's key
    [view] = web("verifications")
    flow = sdk.m.verification(txn)
    assert flow is not None and view["phase"] == "emoji"
    assert [name for _, name in view["emoji"]] == [name for _, name in flow.emoji]
    assert [e for e, _ in view["emoji"]] == [e for e, _ in flow.emoji]
    mac = web("verify_confirm", txn=txn)
    assert sdk.take(mac["outbox"], web_info) == []  # held until the SDK's user confirms
    done = web("receive", messages=Sdk.pushes(sdk.m.confirm_verification(txn)))
    sdk.take(done["outbox"], web_info)
    assert web("verifications")[0]["phase"] == "done" and flow.verified
    assert web("device", user=PY_USER, device=PY_DEVICE)["verified"] is True
    record = sdk.m.device(WEB_USER, WEB_DEVICE)
    assert record is not None and record.verified


def test_sdk_and_web_read_each_others_backup(web: Peer) -> None:
    sdk = Sdk()
    me = web("init", user=WEB_USER, device=WEB_DEVICE)
    web("add_peer", info=sdk.info, claim=sdk.claim)
    web_info = {"user": WEB_USER, "device": WEB_DEVICE, **me["upload"]["device_keys"]}
    sdk.m.update_devices(WEB_USER, [web_info])
    # the SDK backs up its own room key; the web device restores it with the recovery key the SDK showed
    encrypted, _ = sdk.m.room_encrypt(ROOM, [PY_USER], {"kind": "text", "body": "sdk history"})
    shown, auth = sdk.m.new_backup()
    entries = [msgspec.to_builtins(e) for e in sdk.m.backup_entries()]
    web("set_backup", backup={"info": {"version": 1, "auth": auth}, "entries": entries})
    assert web("use_recovery_key", text=shown) == 1
    result = web("decrypt", room=ROOM, sender=PY_USER, payload=msgspec.to_builtins(encrypted))
    assert result["state"] == "ok" and result["content"]["body"] == "sdk history"
    # and the other way: the web's backup, read by a fresh SDK device of the same user
    sent = web("encrypt", room=ROOM + 1, members=[WEB_USER], content={"kind": "text", "body": "web history"})
    made = web("create_backup")
    reader = Sdk()
    reader.m.use_recovery_key(made["recovery_key"], made["backup"]["info"]["auth"])
    assert reader.m.import_backup(made["backup"]["entries"]) >= 1
    reader.m.update_devices(WEB_USER, [web_info])
    got = reader.m.room_decrypt(ROOM + 1, sent["payload"], sender=WEB_USER)
    assert got is not None and got.content["body"] == "web history"


def test_file_encrypted_in_python_decrypts_on_the_web(web: Peer) -> None:
    """AES-256-CTR with the IV as one 128-bit counter: an IV whose low 64 bits overflow within the file shows
    both sides carry into the high half the same way (docs/e2ee.md §3, media)."""
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    key, iv = os.urandom(32), bytes(7) + b"\x01" + b"\xff" * 8  # the counter's low half wraps after one block
    data = os.urandom(1000)
    encryptor = Cipher(algorithms.AES(key), modes.CTR(iv)).encryptor()
    ciphertext = encryptor.update(data) + encryptor.finalize()
    media = {"id": "m1", "key": b64(key), "iv": b64(iv), "sha256": b64(hashlib.sha256(ciphertext).digest()),
             "mime": "application/octet-stream", "name": "x.bin", "size": len(data)}
    web("init", user=WEB_USER, device=WEB_DEVICE)
    assert unb64(web("decrypt_file", ciphertext=b64(ciphertext), media=media)) == data
