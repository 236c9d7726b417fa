"""The crypto store on disk (docs/e2ee.md §5): it survives a restart with the password, refuses another
password without touching anything, and holds nothing readable."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from chatd.clients.sdk.crypto import CryptoMachine, StoreError, WrongPassword, open_store
from chatd.clients.sdk.crypto.backup import parse_recovery_key
from tests.unit.crypto_world import PASSWORD, Device, Server

ANN, BOB = 1, 2
DM = 10


def files(path: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(path.parent.glob(path.name + "*"))}


def test_reopened_with_the_password_the_sessions_go_on(tmp_path: Path) -> None:
    server = Server()
    path = tmp_path / "keys" / "bob.sqlite"
    ann, bob = Device.new(server, ANN), Device.new(server, BOB, path)
    first = ann.send(DM, [ANN, BOB], "before the restart")
    bob.sync()
    bob.send(DM, [ANN, BOB], "ack")  # so ann's next Olm messages are normal ones on the same session
    ann.sync()
    identity = bob.machine.identity_key
    bob.machine.store.close()

    again = CryptoMachine(BOB, bob.device, open_store(path, BOB, bob.device, PASSWORD))
    bob.machine = again
    assert again.identity_key == identity
    assert bob.text(DM, first) == "before the restart"  # the Megolm key survived
    ann.machine.rotate(DM)
    second = ann.send(DM, [ANN, BOB], "after the restart")
    assert bob.sync()[0]["type"] == "room_key"  # the Olm session survived (no new pre-key session)
    assert bob.text(DM, second) == "after the restart"
    assert (path.stat().st_mode & 0o777) == 0o600


def test_a_wrong_password_fails_cleanly_and_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "ann.sqlite"
    ann = Device.new(Server(), ANN, path)
    ann.machine.store.close()
    before = files(path)
    with pytest.raises(WrongPassword, match="wrong password"):
        open_store(path, ANN, ann.device, "Correct horse battery staple")
    with pytest.raises(WrongPassword):  # another device's salt: the same
        open_store(path, ANN, "another-device", PASSWORD)
    assert files(path) == before
    store = open_store(path, ANN, ann.device, PASSWORD)
    assert CryptoMachine(ANN, ann.device, store).identity_key == ann.machine.identity_key


def test_a_file_that_is_no_store_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "junk.sqlite"
    path.write_bytes(b"this is not a database at all" * 100)
    with pytest.raises(StoreError, match="not a crypto store"):
        open_store(path, ANN, "d", PASSWORD)
    assert path.read_bytes() == b"this is not a database at all" * 100


def test_nothing_in_the_file_is_readable(tmp_path: Path) -> None:
    server = Server()
    path = tmp_path / "bob.sqlite"
    ann, bob = Device.new(server, ANN), Device.new(server, BOB, path)
    shown, _ = bob.machine.new_backup()
    msg = ann.send(DM, [ANN, BOB], "the launch code is 0000")
    bob.sync()
    assert bob.text(DM, msg) == "the launch code is 0000"
    [room_key] = [p["content"] for p in bob.received if p["type"] == "room_key"]
    secrets = {
        "message": "the launch code is 0000",
        "megolm session key": room_key["session_key"],
        "megolm session id": room_key["session_id"],
        "recovery key": shown.replace(" ", ""),
        "recovery key (bytes)": parse_recovery_key(shown).hex(),
        "own identity key": bob.machine.identity_key,
        "peer identity key": ann.machine.identity_key,
        "peer device id": ann.device,
    }
    raw = b"".join((tmp_path / name).read_bytes() for name in files(path))
    assert len(raw) > 4096
    found = {what for what, s in secrets.items() if s.encode() in raw or s[:16].encode() in raw}
    assert found == set()
