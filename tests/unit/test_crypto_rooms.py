"""Olm and Megolm between several engines through an in-memory server (docs/e2ee.md §2, §3): who can read
what, and what each refuses."""

from __future__ import annotations

import json

import msgspec
import pytest
import vodozemac

from chatd.clients.sdk.crypto import DeviceKeyInfo, Encrypted, UnknownDevice
from chatd.clients.sdk.crypto.wire import OlmEnvelope
from tests.unit.crypto_world import Device, Server, verify_pair

ANN, BOB, CAT = 1, 2, 3
DM, GROUP = 10, 20


def test_direct_message_reaches_the_other_user_and_own_other_device() -> None:
    server = Server()
    ann, ann2, bob = Device.new(server, ANN), Device.new(server, ANN), Device.new(server, BOB)
    msg = ann.send(DM, [ANN, BOB], "hello bob")
    assert "hello" not in msg.ciphertext
    for reader in (bob, ann2):
        assert reader.read(DM, msg) is None  # the key has not been taken from the to-device stream yet
        reader.sync()
        found = reader.read(DM, msg, sender=ANN)
        assert found is not None and found.content == {"kind": "text", "body": "hello bob", "room": DM}
        assert (found.user, found.device, found.verified) == (ANN, ann.device, False)
    assert ann.text(DM, msg) == "hello bob"  # the sender reads its own message back (history)
    reply = bob.send(DM, [ANN, BOB], "hi ann")
    ann.sync()
    assert ann.text(DM, reply, sender=BOB) == "hi ann"


def test_group_removed_member_cannot_read_after_rotation_and_new_device_can() -> None:
    server = Server()
    ann, bob, cat = Device.new(server, ANN), Device.new(server, BOB), Device.new(server, CAT)
    first = ann.send(GROUP, [ANN, BOB, CAT], "all three")
    bob.sync()
    cat.sync()
    assert bob.text(GROUP, first) == cat.text(GROUP, first) == "all three"
    second = ann.send(GROUP, [ANN, BOB], "cat left")  # cat was removed: a new session
    assert second.session_id != first.session_id
    bob.sync()
    cat.sync()
    assert bob.text(GROUP, second) == "cat left"
    assert cat.text(GROUP, second) is None
    assert cat.machine.missing_key(GROUP, second) is not None  # and no key will ever come
    assert not server.inbox.get((CAT, cat.device))

    bob2 = Device.new(server, BOB)  # bob signs in on a new device: the device set changed, so rotate
    third = ann.send(GROUP, [ANN, BOB], "welcome bob's laptop")
    assert third.session_id != second.session_id
    bob2.sync()
    assert bob2.text(GROUP, third) == "welcome bob's laptop"
    assert bob2.text(GROUP, second) is None  # no history without backup or a key request

    server.sign_out(BOB, bob2.device)  # signed out: nothing after it reaches that device
    fourth = ann.send(GROUP, [ANN, BOB], "laptop gone")
    assert fourth.session_id != third.session_id
    assert not server.inbox.get((BOB, bob2.device))


def test_rotation_after_100_messages_and_after_a_week() -> None:
    server = Server()
    now = [1_000_000.0]
    ann, bob = Device.new(server, ANN), Device.new(server, BOB)
    ann.machine.clock = lambda: now[0]
    sent = [ann.send(GROUP, [ANN, BOB], f"m{i}") for i in range(101)]
    sessions = [m.session_id for m in sent]
    assert len(set(sessions[:100])) == 1 and sessions[100] != sessions[99]
    now[0] += 7 * 24 * 3600
    late = ann.send(GROUP, [ANN, BOB], "a week later")
    assert late.session_id != sessions[100]
    bob.sync()
    assert [bob.text(GROUP, m) for m in (sent[99], sent[100], late)] == ["m99", "m100", "a week later"]


def test_a_session_whose_shares_were_never_confirmed_is_not_used_again() -> None:
    """A crash between room_encrypt and the server storing its key shares: the next message starts a new
    session, so no device is left holding messages of a session it never got the key of."""
    server = Server()
    ann, bob = Device.new(server, ANN), Device.new(server, BOB)
    ann.connect(ANN, BOB)
    first, _shares = ann.machine.room_encrypt(GROUP, [ANN, BOB], {"kind": "text", "body": "lost"})  # never sent
    second = ann.send(GROUP, [ANN, BOB], "next")
    assert second.session_id != first.session_id
    bob.sync()
    assert bob.text(GROUP, second) == "next"


def test_messages_out_of_order_and_late_keys_decrypt_once_the_key_arrives() -> None:
    server = Server()
    ann, bob = Device.new(server, ANN), Device.new(server, BOB)
    msgs = [ann.send(GROUP, [ANN, BOB], f"n{i}") for i in range(3)]
    pending = list(reversed(msgs))  # arrive before their key, newest first
    assert [bob.read(GROUP, m) for m in pending] == [None, None, None]
    assert all(bob.machine.missing_key(GROUP, m) is not None for m in pending)
    bob.sync()  # the key arrives
    assert [bob.text(GROUP, m) for m in pending] == ["n2", "n1", "n0"]
    assert bob.machine.missing_key(GROUP, msgs[0]) is None


def test_message_replayed_into_another_room_or_claimed_by_another_sender_is_dropped() -> None:
    server = Server()
    ann, bob, cat = Device.new(server, ANN), Device.new(server, BOB), Device.new(server, CAT)
    msg = ann.send(GROUP, [ANN, BOB, CAT], "for the group")
    bob.sync()
    assert bob.read(GROUP + 1, msg) is None  # no key for that room
    assert bob.read(GROUP, msg, sender=CAT) is None  # the server says cat sent it: the key says ann
    assert bob.read(GROUP, msgs_device(msg, cat.device)) is None
    assert bob.text(GROUP, msg, sender=ANN) == "for the group"
    # a sender whose plaintext names another room than the one its key and message came in is refused
    session = vodozemac.GroupSession()
    key = {"room": GROUP, "session_id": session.session_id, "session_key": session.session_key.to_base64()}
    server.deliver(ann, ann.machine.encrypt_to_device("room_key", key, [(BOB, bob.device)]))
    bob.sync()
    crafted = msgspec.structs.replace(msg, session_id=session.session_id, ciphertext=session.encrypt(
        json.dumps({"room": GROUP + 1, "kind": "text", "body": "sneaky"}).encode()).to_base64())
    assert bob.read(GROUP, crafted) is None


def msgs_device(msg: Encrypted, device: str) -> Encrypted:
    return msgspec.structs.replace(msg, device=device)


def test_wedged_session_recovers_with_a_dummy_on_a_new_session() -> None:
    server = Server()
    ann, bob = Device.new(server, ANN), Device.new(server, BOB)
    ann.send(DM, [ANN, BOB], "one")
    bob.sync()
    bob.send(DM, [ANN, BOB], "reply")  # now both sides have received: ann's next messages are normal (1)
    ann.sync()
    bob.machine.store._db.execute("DELETE FROM rows WHERE kind='olm'")  # bob loses his Olm sessions
    ann.machine.rotate(DM)  # so the next message shares a new key over Olm
    lost = ann.send(DM, [ANN, BOB], "three")
    [(_, _, body)] = server.inbox[(BOB, bob.device)]
    assert msgspec.json.decode(body, type=OlmEnvelope).type == 1
    assert bob.sync() == []  # undecryptable: dropped, the session is wedged
    assert bob.text(DM, lost) is None
    assert bob.machine.needs_claim([]) == [(ANN, ann.device)]
    bob.connect(ANN)  # claims a new key of ann's and sends a dummy over the new session
    assert [p["type"] for p in ann.sync()] == ["dummy"]
    assert bob.machine.needs_claim([ANN]) == []
    ann.machine.rotate(DM)
    after = ann.send(DM, [ANN, BOB], "four")
    bob.sync()
    assert bob.text(DM, after) == "four"


def test_identity_key_change_is_flagged_and_never_encrypted_to() -> None:
    server = Server()
    ann, bob = Device.new(server, ANN), Device.new(server, BOB)
    ann.send(DM, [ANN, BOB], "before")
    bob.sync()
    impostor = Device.new(server, BOB, device=bob.device, publish=False)  # same device id, other keys
    impostor.publish()
    update = ann.machine.update_devices(BOB, server.query(BOB))
    assert [(c.user, c.device) for c in update.changed] == [(BOB, bob.device)]
    assert "another identity key" in str(update.changed[0])
    record = ann.machine.device(BOB, bob.device)
    assert record is not None and record.changed is not None and not record.usable
    assert record.identity_key != impostor.machine.identity_key  # the first-seen key stays
    msg = ann.send(DM, [ANN, BOB], "after")
    assert msg.session_id != "" and not server.inbox.get((BOB, bob.device))  # no key share to it
    assert ann.machine.encrypt_to_device("dummy", {}, [(BOB, bob.device)]) == []
    # and what the impostor sends over Olm is dropped
    impostor.connect(ANN)
    impostor.server.deliver(impostor, impostor.machine.encrypt_to_device("dummy", {}, [(ANN, ann.device)]))
    assert ann.sync() == []


def test_forged_signatures_are_rejected() -> None:
    server = Server()
    ann, bob = Device.new(server, ANN), Device.new(server, BOB)
    real = server.keys[BOB][bob.device]
    mallory = Device.new(Server(), BOB, publish=False)
    forged = msgspec.structs.replace(real, identity_key=mallory.machine.identity_key)  # signature no longer fits
    update = ann.machine.update_devices(BOB, [forged])
    assert update.rejected == [(BOB, bob.device, "signature does not verify")] and update.added == []
    assert ann.machine.device(BOB, bob.device) is None
    ann.refresh(BOB)
    [key] = server.claim([(BOB, bob.device)])
    bad = msgspec.structs.replace(key, key=mallory.machine.one_time_keys(1)[0].key)  # a swapped one-time key
    assert ann.machine.add_claimed([bad]) == []
    assert ann.machine.add_claimed([key]) == [(BOB, bob.device)]
    assert ann.machine.update_devices(BOB, [{"user": BOB, "device": 5}]).rejected  # junk: rejected, no crash


def test_to_device_message_replayed_to_another_device_or_tampered_is_dropped() -> None:
    server = Server()
    ann, bob, bob2 = Device.new(server, ANN), Device.new(server, BOB), Device.new(server, BOB)
    ann.connect(BOB)
    [to_bob, _] = ann.machine.encrypt_to_device("dummy", {}, [(BOB, bob.device), (BOB, bob2.device)])
    bob2.refresh(ANN)
    assert bob2.machine.decrypt_to_device(ANN, ann.device, to_bob.body) is None  # not its session nor for it
    envelope = msgspec.json.decode(to_bob.body, type=OlmEnvelope)
    assert envelope.type == 0 and envelope.sender_key == ann.machine.identity_key
    with pytest.raises(UnknownDevice):  # a sender whose keys bob never fetched: nothing consumed
        bob.machine.decrypt_to_device(ANN, ann.device, to_bob.body)
    other = Device.new(server, CAT)
    bob.refresh(CAT)
    assert bob.machine.decrypt_to_device(CAT, other.device, to_bob.body) is None  # sender_key is not cat's
    bob.refresh(ANN)
    for junk in ("", "{}", "not json", '{"algorithm":"olm.v1","sender_key":"x","type":3,"ciphertext":"!"}'):
        assert bob.machine.decrypt_to_device(ANN, ann.device, junk) is None
    assert bob.machine.decrypt_to_device(ANN, ann.device, to_bob.body) == {
        "type": "dummy", "sender": ANN, "sender_device": ann.device, "recipient": BOB,
        "recipient_device": bob.device, "recipient_key": bob.machine.signing_key,
        "sender_signing_key": ann.machine.signing_key, "content": {}}


def test_own_verified_device_answers_a_key_request_and_others_do_not() -> None:
    server = Server()
    ann, bob = Device.new(server, ANN), Device.new(server, BOB)
    old = bob.send(DM, [ANN, BOB], "from before the laptop")
    ann.sync()
    laptop = Device.new(server, ANN)
    assert laptop.read(DM, old) is None
    missing = laptop.machine.missing_key(DM, old)
    assert missing is not None
    laptop.connect(ANN)
    assert laptop.machine.request_key(missing) == []  # no verified own device yet
    # an unverified own device asking gets nothing either
    server.deliver(laptop, laptop.machine.encrypt_to_device(
        "room_key_request", {"room": DM, "session_id": old.session_id, "sender_key": old.sender_key,
                             "request_id": "r1"}, [(ANN, ann.device)]))
    ann.sync()
    assert not server.inbox.get((ANN, laptop.device))
    verify_pair(ann, laptop)
    assert ann.machine.device(ANN, laptop.device).verified  # type: ignore[union-attr]
    server.deliver(laptop, laptop.machine.request_key(missing))
    ann.sync()
    laptop.sync()
    laptop.refresh(BOB)
    found = laptop.read(DM, old, sender=BOB)
    assert found is not None and found.content["body"] == "from before the laptop" and found.forwarded
    assert (found.user, found.device) == (BOB, bob.device)


def test_device_list_junk_never_crashes() -> None:
    server = Server()
    ann = Device.new(server, ANN)
    bad = DeviceKeyInfo(user=BOB, device="d", identity_key="x", signing_key="y", signature="z")
    assert ann.machine.update_devices(BOB, [bad]).rejected
    assert ann.machine.room_decrypt(DM, {"algorithm": "megolm.v1"}) is None
    assert ann.machine.missing_key(DM, {"nope": 1}) is None
    assert ann.machine.add_claimed([{"user": "x"}]) == []


def test_one_time_keys_top_up_and_the_fallback_key_when_they_run_out() -> None:
    server = Server()
    ann, bob = Device.new(server, ANN), Device.new(server, BOB)
    assert len(server.otks[(BOB, bob.device)]) == 25
    assert bob.machine.one_time_keys(25) == [] and len(bob.machine.one_time_keys(20)) == 5
    server.otks[(BOB, bob.device)].clear()  # others claimed them all
    msg = ann.send(DM, [ANN, BOB], "over the fallback key")
    bob.sync()
    assert bob.text(DM, msg) == "over the fallback key"


def test_a_device_unreachable_at_first_gets_the_key_from_the_next_message_on() -> None:
    server = Server()
    ann, bob = Device.new(server, ANN), Device.new(server, BOB)
    server.otks[(BOB, bob.device)].clear()
    del server.fallback[(BOB, bob.device)]  # no key to claim: no session, no share
    first = ann.send(GROUP, [ANN, BOB], "bob cannot get this one")
    assert not server.inbox.get((BOB, bob.device))
    bob.publish()
    second = ann.send(GROUP, [ANN, BOB], "but this one")
    assert second.session_id == first.session_id  # same devices: no rotation, a late share of the key
    bob.sync()
    assert bob.text(GROUP, second) == "but this one"
    assert bob.text(GROUP, first) is None and bob.machine.missing_key(GROUP, first) is not None


def test_a_ciphertext_replayed_at_another_seq_is_dropped() -> None:
    server = Server()
    ann, bob = Device.new(server, ANN), Device.new(server, BOB)
    msg = ann.send(DM, [ANN, BOB], "pay 10 coins")
    bob.sync()
    assert bob.read(DM, msg, ANN, seq=5) is not None
    assert bob.read(DM, msg, ANN, seq=5) is not None  # the same message read again (history)
    assert bob.read(DM, msg, ANN, seq=9) is None


def test_device_lists_to_query_are_the_unfetched_and_the_changed_ones() -> None:
    server = Server()
    ann, bob = Device.new(server, ANN), Device.new(server, BOB)
    assert ann.machine.outdated_users([BOB, ANN, BOB]) == [ANN, BOB]
    ann.refresh(ANN, BOB)
    assert ann.machine.outdated_users([ANN, BOB]) == []
    ann.machine.devices_changed(BOB)
    assert ann.machine.outdated_users([ANN, BOB]) == [BOB]
    ann.refresh(BOB)
    assert ann.machine.outdated_users([BOB]) == [] and bob.machine.outdated_users([ANN]) == [ANN]


def test_own_other_devices_get_the_key_even_when_left_out_of_members() -> None:
    server = Server()
    ann, ann2, bob = Device.new(server, ANN), Device.new(server, ANN), Device.new(server, BOB)
    ann.refresh(ANN)
    assert (ANN, ann2.device) in ann.machine.needs_claim([BOB])
    msg = ann.send(DM, [BOB], "members named without me")
    ann2.sync()
    bob.sync()
    assert ann2.text(DM, msg) == bob.text(DM, msg) == "members named without me"
