"""End-to-end encryption, the server side (docs/protocol.md §12): device keys published, queried and claimed
(each one-time key once, also under concurrency), device list changes pushed, to-device messages stored
until their device acks them (across reconnects and processes), and the key backup. The keys here are real
Ed25519/Curve25519-shaped keys signed with cryptography, as a client would."""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import trio
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from msgspec.structs import replace

from chatd.clients.ws import ChatClient
from chatd.protocol import devices as d
from chatd.protocol import e2ee as e
from chatd.protocol import frames as f
from chatd.protocol.keysign import device_statement, otk_statement
from tests.conftest import PASSWORD, Backing, Pair, People, Person, start_pair


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode().rstrip("=")


def curve_key() -> str:
    return b64(X25519PrivateKey.generate().public_key().public_bytes_raw())


@dataclass
class Keyed:
    """One connected device with an Ed25519 signing key, as a client's Olm account would have."""

    person: Person
    client: ChatClient
    device: str
    signer: Ed25519PrivateKey = field(default_factory=Ed25519PrivateKey.generate)
    identity_key: str = field(default_factory=curve_key)

    @property
    def signing_key(self) -> str:
        return b64(self.signer.public_key().public_bytes_raw())

    def sign(self, statement: bytes) -> str:
        return b64(self.signer.sign(statement))

    def device_keys(self) -> e.DeviceKeys:
        statement = device_statement(self.person.user_id, self.device, self.identity_key, self.signing_key)
        return e.DeviceKeys(identity_key=self.identity_key, signing_key=self.signing_key,
                            signature=self.sign(statement))

    def otk(self, key_id: str) -> e.OneTimeKey:
        key = curve_key()
        return e.OneTimeKey(key_id=key_id, key=key,
                            signature=self.sign(otk_statement(self.person.user_id, self.device, key_id, key)))

    async def publish(self, otks: int = 0, fallback: bool = False) -> e.KeyCounts:
        return await self.client.call(e.UploadKeys, device_keys=self.device_keys(),  # type: ignore[no-any-return]
                                      one_time_keys=[self.otk(f"k{i}") for i in range(otks)],
                                      fallback_key=self.otk("fb") if fallback else None)


async def keyed(people: People, person: Person, node: object = None) -> Keyed:
    client = await people.raw(node)  # type: ignore[arg-type]
    welcome = await client.hello(person.access_token)
    assert welcome.device
    return Keyed(person, client, welcome.device)


async def device_of(people: People, person: Person) -> Keyed:
    """A new signed-in device of `person` (a login), connected."""
    client = await people.raw()
    auth = await client.call(f.Login, username=person.username, password=PASSWORD, device="phone")
    welcome = await client.hello(auth.access_token)
    assert welcome.device
    return Keyed(person, client, welcome.device)


async def next_to_device(client: ChatClient, timeout: float = 10) -> e.ToDevice:
    return await client.next_of(e.ToDevice, timeout)


async def nothing_of(client: ChatClient, kind: type[f.Frame], seconds: float = 0.6) -> None:
    await trio.sleep(seconds)
    assert not [p for p in client.pending_pushes() if isinstance(p, kind)]


@pytest.fixture
async def pair(nursery: trio.Nursery, backing: Backing, tmp_path: Path) -> Pair:
    return await start_pair(nursery, backing, tmp_path)


async def dm(people: People) -> tuple[Keyed, Keyed, int]:
    ann, bob = await people.signup("ann"), await people.signup("bob")
    a, b = await keyed(people, ann), await keyed(people, bob)
    room = (await a.client.call(f.OpenDirect, user=bob.user_id)).room.room
    return a, b, room


# --------------------------------------------------------------------------- device keys

async def test_published_keys_are_queried_and_each_one_time_key_is_claimed_once(people: People) -> None:
    a, b, _ = await dm(people)
    counts = await b.publish(otks=3, fallback=True)
    assert (counts.one_time_keys, counts.fallback) == (3, True)

    found = (await a.client.call(e.QueryKeys, users=[b.person.user_id])).devices
    assert [(k.device, k.identity_key, k.signing_key) for k in found] == [(b.device, b.identity_key, b.signing_key)]

    claimed = []
    for _ in range(4):
        keys = (await a.client.call(e.ClaimKeys, devices=[{"user": b.person.user_id, "device": b.device}])).keys
        claimed += keys
    assert [k.fallback for k in claimed] == [False, False, False, True]
    assert len({k.key_id for k in claimed[:3]}) == 3
    assert (await b.client.call(e.UploadKeys)).one_time_keys == 0  # what the server holds for the device now


async def test_concurrent_claims_never_hand_out_a_key_twice(people: People) -> None:
    a, b, _ = await dm(people)
    await b.client.call(e.UploadKeys, device_keys=b.device_keys(), one_time_keys=[b.otk(f"k{i}") for i in range(30)])
    claimers = [a.client, b.client, *[await people.connect(a.person) for _ in range(3)]]
    got: list[str] = []

    async def claim(client: ChatClient) -> None:
        for _ in range(6):
            reply = await client.call(e.ClaimKeys, devices=[{"user": b.person.user_id, "device": b.device}])
            got.extend(k.key_id for k in reply.keys)

    async with trio.open_nursery() as n:
        for c in claimers:
            n.start_soon(claim, c)
    assert len(got) == 30 and len(set(got)) == 30


async def test_strangers_see_no_keys_and_cannot_claim(people: People) -> None:
    a, b, _ = await dm(people)
    await b.publish(otks=2)
    stranger = await keyed(people, await people.signup("eve"))
    assert (await stranger.client.call(e.QueryKeys, users=[b.person.user_id])).devices == []
    ref = e.DeviceRef(user=b.person.user_id, device=b.device)
    assert (await stranger.client.call(e.ClaimKeys, devices=[ref])).keys == []
    assert (await a.client.call(e.QueryKeys, users=[b.person.user_id])).devices  # a member of a shared room does


async def test_bad_keys_are_refused_naming_what_is_wrong(people: People) -> None:
    a, _, _ = await dm(people)
    otk = a.otk("x")
    refused = await a.client.request(e.UploadKeys, one_time_keys=[otk])
    assert isinstance(refused, f.Error) and "device_keys before" in refused.message

    forged = replace(a.device_keys(), signature=b64(Ed25519PrivateKey.generate().sign(b"other")))
    refused = await a.client.request(e.UploadKeys, device_keys=forged)
    assert isinstance(refused, f.Error) and refused.message == "device_keys.signature does not verify"

    await a.publish()
    bad_otk = replace(a.otk("y"), key=curve_key())  # signed for another key
    refused = await a.client.request(e.UploadKeys, one_time_keys=[a.otk("ok"), bad_otk])
    assert isinstance(refused, f.Error) and refused.message == "one_time_keys[1].signature does not verify"

    other = Keyed(a.person, a.client, a.device)  # new keys for a device that already published
    refused = await a.client.request(e.UploadKeys, device_keys=other.device_keys())
    assert isinstance(refused, f.Error) and refused.code == "conflict" and "sign in again" in refused.message
    assert (await a.client.call(e.UploadKeys, device_keys=a.device_keys())).one_time_keys == 0  # the same: fine

    short = await a.client.request(e.UploadKeys, one_time_keys=[replace(a.otk("z"), key="abc")])
    assert isinstance(short, f.Error) and "one_time_keys[0].key" in short.message
    with pytest.raises(ValueError, match="repeats"):  # the same check runs on the server's decode
        e.UploadKeys(id=1, one_time_keys=[a.otk("same"), a.otk("same")])


async def test_device_list_changes_are_pushed_to_room_peers(people: People) -> None:
    a, b, _ = await dm(people)
    await b.publish()
    assert (await a.client.next_of(e.DevicesChanged)).user == b.person.user_id

    phone = await device_of(people, b.person)
    await phone.publish()
    assert (await a.client.next_of(e.DevicesChanged)).user == b.person.user_id
    assert len((await a.client.call(e.QueryKeys, users=[b.person.user_id])).devices) == 2

    await b.client.call(d.LogoutDevices, device=phone.device)
    assert (await a.client.next_of(e.DevicesChanged)).user == b.person.user_id
    assert [k.device for k in (await a.client.call(e.QueryKeys, users=[b.person.user_id])).devices] == [b.device]


# --------------------------------------------------------------------------- to-device messages

async def test_to_device_messages_wait_until_acked_and_come_once(people: People) -> None:
    a, b, _ = await dm(people)
    txn = str(uuid.uuid4())
    out = [{"user": b.person.user_id, "device": b.device, "body": f"ciphertext {i}"} for i in range(3)]
    await a.client.call(e.SendToDevice, txn=txn, messages=out)
    await a.client.call(e.SendToDevice, txn=txn, messages=out)  # a retry: stored once
    first = await next_to_device(b.client)
    assert [m.body for m in first.messages] == ["ciphertext 0", "ciphertext 1", "ciphertext 2"]
    assert {(m.sender, m.sender_device) for m in first.messages} == {(a.person.user_id, a.device)}
    await nothing_of(b.client, e.ToDevice)

    await b.client.disconnect()  # not acked: it comes again, with the same ids
    again = await keyed(people, b.person)
    assert again.device == b.device
    second = await next_to_device(again.client)
    assert [m.id for m in second.messages] == [m.id for m in first.messages]
    await again.client.send_frame(e.AckToDevice(upto=second.messages[-1].id))
    await again.client.call(f.Ping)
    await again.client.disconnect()

    third = await keyed(people, b.person)
    await nothing_of(third.client, e.ToDevice)


async def test_a_long_stream_arrives_in_order_one_acked_frame_at_a_time(people: People) -> None:
    a, b, _ = await dm(people)
    await b.client.disconnect()  # offline while it is sent
    for batch in range(5):
        await a.client.call(e.SendToDevice, txn=str(uuid.uuid4()), messages=[
            {"user": b.person.user_id, "device": b.device, "body": f"{batch}-{i}"} for i in range(50)])
    back = await keyed(people, b.person)
    bodies: list[str] = []
    while len(bodies) < 250:
        frame = await next_to_device(back.client)
        assert len(frame.messages) <= 100
        bodies += [m.body for m in frame.messages]
        await nothing_of(back.client, e.ToDevice, 0.2)  # the next frame waits for the ack
        await back.client.send_frame(e.AckToDevice(upto=frame.messages[-1].id))
    assert bodies == [f"{b}-{i}" for b in range(5) for i in range(50)]


async def test_concurrent_senders_to_one_device_lose_nothing_and_keep_per_sender_order(people: People) -> None:
    """Many devices send to one device at once (every member re-sharing keys after a change): the device gets
    each message once, each sender's in order, acking as it goes; nothing is skipped or deleted unsent."""
    ann, bob = await people.signup("ann"), await people.signup("bob")
    b = await keyed(people, bob)
    senders = [await keyed(people, ann) for _ in range(6)]
    await senders[0].client.call(f.OpenDirect, user=bob.user_id)

    async def send(k: Keyed, n: int) -> None:
        for i in range(8):
            await k.client.call(e.SendToDevice, txn=str(uuid.uuid4()), messages=[
                {"user": bob.user_id, "device": b.device, "body": f"{n}:{i}:{j}"} for j in range(5)])

    got: list[str] = []

    async def read() -> None:
        while len(got) < 6 * 8 * 5:
            frame = await next_to_device(b.client, 20)
            got.extend(m.body for m in frame.messages)
            await b.client.send_frame(e.AckToDevice(upto=frame.messages[-1].id))

    async with trio.open_nursery() as n:
        n.start_soon(read)
        for i, k in enumerate(senders):
            n.start_soon(send, k, i)
    assert len(got) == len(set(got)) == 240
    for n_ in range(6):
        mine = [x for x in got if x.startswith(f"{n_}:")]
        assert mine == sorted(mine, key=lambda x: tuple(map(int, x.split(":"))))


async def test_a_device_that_never_reads_is_skipped_not_waited_on(people: People,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """A forgotten phone fills up: what is sent to it beyond the cap is skipped, and the sender goes on."""
    import chatd.persistence.e2ee as queries
    monkeypatch.setattr(queries, "MAX_INBOX", 3)
    a, b, _ = await dm(people)
    raw = await people.raw()
    auth = await raw.call(f.Login, username=b.person.username, password=PASSWORD, device="phone")
    phone = (await raw.hello(auth.access_token)).device
    await raw.disconnect()
    for i in range(5):
        await a.client.call(e.SendToDevice, txn=str(uuid.uuid4()),
                            messages=[{"user": b.person.user_id, "device": phone, "body": f"share {i}"}])
    back = await people.raw()
    await back.hello(auth.access_token)
    frame = await next_to_device(back)
    assert [m.body for m in frame.messages] == ["share 0", "share 1", "share 2"]
    await back.send_frame(e.AckToDevice(upto=frame.messages[-1].id))
    await nothing_of(back, e.ToDevice)


async def test_to_device_to_strangers_and_signed_out_devices_is_skipped(people: People) -> None:
    a, b, room = await dm(people)
    eve = await keyed(people, await people.signup("eve"))
    group = (await a.client.call(f.CreateGroup, name="g", members=[eve.person.user_id])).room.room
    await a.client.call(f.RemoveMember, room=group, user=eve.person.user_id)  # a former co-member: no longer
    phone = await device_of(people, b.person)
    await b.client.call(d.LogoutDevices, device=phone.device)
    await a.client.call(e.SendToDevice, txn=str(uuid.uuid4()), messages=[
        {"user": eve.person.user_id, "device": eve.device, "body": "spam"},
        {"user": b.person.user_id, "device": phone.device, "body": "too late"},
        {"user": b.person.user_id, "device": b.device, "body": "hello"}])
    assert [m.body for m in (await next_to_device(b.client)).messages] == ["hello"]
    await nothing_of(eve.client, e.ToDevice)


async def test_to_device_reaches_a_device_on_another_process(pair: Pair) -> None:
    ann, bob = await pair.on_a.signup("ann"), await pair.on_a.signup("bob")
    a = await keyed(pair.on_a, ann)
    b = await keyed(pair.on_b, bob, pair.b)
    await a.client.call(f.OpenDirect, user=bob.user_id)
    await a.client.call(e.SendToDevice, txn=str(uuid.uuid4()),
                        messages=[{"user": bob.user_id, "device": b.device, "body": "over the bus"}])
    assert [m.body for m in (await next_to_device(b.client)).messages] == ["over the bus"]


# --------------------------------------------------------------------------- key backup

async def test_key_backup_stores_pages_and_a_new_backup_replaces_the_old(people: People) -> None:
    a, _, room = await dm(people)
    missing = await a.client.request(e.GetBackup)
    assert isinstance(missing, f.Error) and missing.code == "not_found"
    v1 = await a.client.call(e.CreateBackup, auth="check-1")
    assert (await a.client.call(e.GetBackup)).version == v1.version
    keys = [e.BackupKey(room=room, session_id=f"s{i:04}", data=f"cipher {i}") for i in range(1500)]
    await a.client.call(e.PutBackupKeys, version=v1.version, keys=keys[:1000])
    await a.client.call(e.PutBackupKeys, version=v1.version, keys=keys[1000:])
    await a.client.call(e.PutBackupKeys, version=v1.version, keys=[replace(keys[0], data="newer")])
    page = await a.client.call(e.GetBackupKeys, version=v1.version)
    assert len(page.keys) == 1000 and page.more and page.keys[0].data == "newer"
    rest = await a.client.call(e.GetBackupKeys, version=v1.version,
                               after={"room": room, "session_id": page.keys[-1].session_id})
    assert len(rest.keys) == 500 and not rest.more

    v2 = await a.client.call(e.CreateBackup, auth="check-2")
    assert v2.version > v1.version
    stale = await a.client.request(e.PutBackupKeys, version=v1.version, keys=keys[:1])
    assert isinstance(stale, f.Error) and stale.code == "conflict" and str(v2.version) in stale.message
    assert (await a.client.call(e.GetBackupKeys, version=v2.version)).keys == []
    with pytest.raises(ValueError, match="repeats room"):  # the server's decode runs the same check
        e.PutBackupKeys(id=1, version=v2.version, keys=[keys[0], keys[0]])


# --------------------------------------------------------------------------- encrypted rooms

def megolm(sender: Keyed, text: str = "QmFzZTY0Q2lwaGVydGV4dA") -> f.Encrypted:
    return f.Encrypted(algorithm="megolm.v1", ciphertext=text, session_id="c2Vzc2lvbg",
                       sender_key=sender.identity_key, device=sender.device)


async def test_an_encrypted_group_takes_only_ciphertext_and_delivers_it_intact(people: People) -> None:
    a, b, _ = await dm(people)
    info = (await a.client.call(f.CreateGroup, name="secret", members=[b.person.user_id], encrypted=True)).room
    assert info.encrypted
    assert [r.encrypted for r in (await b.client.call(f.ListRooms)).rooms if r.room == info.room] == [True]

    plain = await a.client.request(f.Send, room=info.room, client_id=str(uuid.uuid4()), body="oops")
    assert isinstance(plain, f.Error) and plain.message == f"room {info.room} is end-to-end encrypted: send kind " \
                                                           "'encrypted'"
    sent = await a.client.call(f.Send, room=info.room, client_id=str(uuid.uuid4()), kind="encrypted",
                               encrypted=megolm(a))
    got = [m for m in await b.client.collect(info.room, 2) if m.kind == "encrypted"]
    assert [(m.seq, m.encrypted.ciphertext if m.encrypted else None, m.body) for m in got] == \
        [(sent.seq, "QmFzZTY0Q2lwaGVydGV4dA", "")]
    history = (await b.client.call(f.History, room=info.room)).messages
    assert history[-1].encrypted == got[0].encrypted

    edit = await a.client.request(f.Edit, room=info.room, seq=sent.seq, body="changed")
    assert isinstance(edit, f.Error) and edit.message == "edits are not supported in encrypted rooms"
    await a.client.call(f.Delete, room=info.room, seq=sent.seq)
    gone = (await b.client.call(f.History, room=info.room)).messages
    assert [(m.deleted, m.encrypted) for m in gone if m.seq == sent.seq] == [(True, None)]

    off = await a.client.request(f.UpdateRoom, room=info.room, encrypted=False)
    assert isinstance(off, f.Error) and off.message == "encryption cannot be turned off"


async def test_an_encrypted_send_made_for_an_older_member_list_is_refused(people: People) -> None:
    """The membership race: a sender that shared its key before a member was removed must not get the message
    stored (the removed member holds that key); it re-shares for the new list and sends again."""
    a, b, _ = await dm(people)
    info = (await a.client.call(f.CreateGroup, name="g", members=[b.person.user_id], encrypted=True)).room
    before = info.members_seq
    await a.client.call(f.RemoveMember, room=info.room, user=b.person.user_id)
    now = (await a.client.call(f.GetRoom, room=info.room)).room.members_seq
    assert now > before
    stale = await a.client.request(f.Send, room=info.room, client_id=str(uuid.uuid4()), kind="encrypted",
                                   encrypted=megolm(a), members_seq=before)
    assert isinstance(stale, f.Error) and stale.code == "conflict" and f"changed at seq {now}" in stale.message
    await a.client.call(f.Send, room=info.room, client_id=str(uuid.uuid4()), kind="encrypted", encrypted=megolm(a),
                        members_seq=now)


async def test_a_plain_direct_room_can_be_encrypted_by_either_member_once(people: People) -> None:
    a, b, room = await dm(people)
    refused = await a.client.request(f.Send, room=room, client_id=str(uuid.uuid4()), kind="encrypted",
                                     encrypted=megolm(a))
    assert isinstance(refused, f.Error) and refused.message == f"room {room} is not encrypted"
    await b.client.call(f.UpdateRoom, room=room, encrypted=True)
    event = [m.event for m in await a.client.collect(room, 2) if m.event and m.event["type"] == "room_updated"]
    assert event == [{"type": "room_updated", "by": b.person.user_id, "encrypted": True}]
    again = await a.client.request(f.UpdateRoom, room=room, encrypted=True)
    assert isinstance(again, f.Error) and again.code == "conflict"
    renamed = await a.client.request(f.UpdateRoom, room=room, name="x")
    assert isinstance(renamed, f.Error) and "direct room" in renamed.message  # other settings stay group-only
    await a.client.call(f.Send, room=room, client_id=str(uuid.uuid4()), kind="encrypted", encrypted=megolm(a))

    carol = await keyed(people, await people.signup("carol"))
    fresh = (await carol.client.call(f.OpenDirect, user=a.person.user_id, encrypted=True)).room
    assert fresh.encrypted
