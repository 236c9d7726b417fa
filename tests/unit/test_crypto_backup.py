"""Key backup (docs/e2ee.md §4): the recovery key as a user types it, and a new device reading old messages."""

from __future__ import annotations

import msgspec
import pytest

from chatd.clients.sdk.crypto import BackupEntry, BadRecoveryKey
from chatd.clients.sdk.crypto import backup as bk
from tests.unit.crypto_world import Device, Server

ANN, BOB = 1, 2
DM, OTHER = 10, 11


def test_recovery_key_shows_in_groups_of_four_and_parses_back_with_any_spacing() -> None:
    for key in (bk.new_recovery_key(), b"\0\0" + bytes(range(30)), b"\xff" * 32):
        shown = bk.display_recovery_key(key)
        groups = shown.split(" ")
        assert all(len(g) == 4 for g in groups[:-1]) and 1 <= len(groups[-1]) <= 4
        assert bk.parse_recovery_key(shown) == key
        assert bk.parse_recovery_key("  " + shown.replace(" ", "") + "\n") == key
        assert bk.parse_recovery_key(" ".join(shown.replace(" ", ""))) == key


def test_a_mistyped_recovery_key_says_what_is_wrong() -> None:
    shown = bk.display_recovery_key(bk.new_recovery_key())
    with pytest.raises(BadRecoveryKey, match="not a recovery key character"):
        bk.parse_recovery_key(shown.replace(shown[0], "0", 1))
    with pytest.raises(BadRecoveryKey, match="not a whole recovery key"):
        bk.parse_recovery_key(shown[:-5])
    other = bk.new_recovery_key()
    assert not bk.matches_auth(other, bk.backup_auth(bk.parse_recovery_key(shown)))


def test_base58_matches_the_bitcoin_alphabet_and_leading_zeros() -> None:
    assert bk.base58_encode(b"hello world") == "StV1DL6CwTryKyV"
    assert bk.base58_encode(b"\0\0\x01") == "112"
    assert bk.base58_decode("112") == b"\0\0\x01"


def test_a_new_device_reads_history_from_the_backup() -> None:
    server = Server()
    ann, bob = Device.new(server, ANN), Device.new(server, BOB)
    shown, auth = ann.machine.new_backup()
    server.backup_auth = auth
    old = [bob.send(DM, [ANN, BOB], f"old {i}") for i in range(2)]
    bob.machine.rotate(DM)
    old.append(bob.send(DM, [ANN, BOB], "old, second session"))
    ann.sync()
    entries = ann.machine.backup_entries()
    assert len(entries) == 2 and all(e.room == DM for e in entries)
    assert not any("old" in e.data for e in entries)
    for entry in entries:
        server.backup[(entry.room, entry.session_id)] = entry
    ann.machine.mark_backed_up(entries)
    assert ann.machine.backup_entries() == []

    laptop = Device.new(server, ANN)  # a new sign-in with no store
    laptop.refresh(BOB)
    assert [laptop.read(DM, m) for m in old] == [None, None, None]
    with pytest.raises(BadRecoveryKey, match="does not open your key backup"):
        laptop.machine.use_recovery_key(bk.display_recovery_key(bk.new_recovery_key()), server.backup_auth)
    laptop.machine.use_recovery_key(shown, server.backup_auth)
    assert laptop.machine.import_backup(list(server.backup.values())) == 2
    assert laptop.machine.import_backup(list(server.backup.values())) == 0  # nothing new the second time
    assert [laptop.text(DM, m, sender=BOB) for m in old] == ["old 0", "old 1", "old, second session"]
    found = laptop.read(DM, old[0])
    assert found is not None and found.forwarded and (found.user, found.device) == (BOB, bob.device)


def test_a_backup_entry_moved_to_another_room_or_forged_is_ignored() -> None:
    server = Server()
    ann, bob = Device.new(server, ANN), Device.new(server, BOB)
    shown, auth = ann.machine.new_backup()
    msg = bob.send(DM, [ANN, BOB], "secret")
    ann.sync()
    [entry] = ann.machine.backup_entries()
    laptop = Device.new(server, ANN)
    laptop.refresh(BOB)
    laptop.machine.use_recovery_key(shown, auth)
    moved = msgspec.structs.replace(entry, room=OTHER)
    renamed = msgspec.structs.replace(entry, session_id="A" * 43)
    forged = BackupEntry(room=DM, session_id=entry.session_id, data="AAAA" * 20)
    junk = [{"room": "x"}, {"room": DM, "session_id": entry.session_id, "data": "!!"}]
    assert laptop.machine.import_backup([moved, renamed, forged, *junk]) == 0
    assert laptop.read(DM, msg) is None and laptop.read(OTHER, msg) is None
    assert laptop.machine.import_backup([entry]) == 1
    assert laptop.text(DM, msg) == "secret"


def test_import_without_a_recovery_key_says_so() -> None:
    laptop = Device.new(Server(), ANN)
    with pytest.raises(BadRecoveryKey, match="no recovery key"):
        laptop.machine.import_backup([])
    assert laptop.machine.backup_entries() == []
