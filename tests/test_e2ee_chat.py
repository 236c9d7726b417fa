"""End-to-end encrypted chat between SDK clients through the real server (docs/e2ee.md): a DM and a group read
on every member device, a removed member locked out of what follows, a new device reading history from the
key backup, SAS verification between two users, and afterwards no plaintext anywhere in the database."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
import trio

from chatd.clients.sdk import Chat
from chatd.clients.sdk.events import DevicesAdded, MessageDecrypted, NewMessage, UnableToDecrypt, VerificationChanged
from chatd.node import Node
from chatd.protocol import frames as f
from tests.conftest import PASSWORD, Backing


class Reader:
    """One SDK device that reads everything it is sent and keeps what it could decrypt, per room."""

    def __init__(self, chat: Chat) -> None:
        self.chat = chat
        self.read: dict[int, list[str]] = {}
        self.undecryptable: list[int] = []
        self.flows: list[VerificationChanged] = []
        self.new_devices: list[DevicesAdded] = []
        self.changed = trio.Event()

    async def run(self) -> None:
        async for event in self.chat.events():
            if isinstance(event, NewMessage | MessageDecrypted) and event.decrypted is not None:
                self.read.setdefault(event.message.room, []).append(event.decrypted.content["body"])
            elif isinstance(event, UnableToDecrypt):
                self.undecryptable.append(event.message.seq)
            elif isinstance(event, VerificationChanged):
                self.flows.append(event)
            elif isinstance(event, DevicesAdded):
                self.new_devices.append(event)
            self.changed.set()
            self.changed = trio.Event()

    async def until(self, room: int, count: int, timeout: float = 20) -> list[str]:
        with trio.fail_after(timeout):
            while len(self.read.get(room, [])) < count:
                await self.changed.wait()
        return sorted(self.read[room])


@contextlib.asynccontextmanager
async def device(node: Node, nursery: trio.Nursery, path: Path, username: str, *,
                 signup: bool) -> AsyncIterator[Reader]:
    async with Chat.open(node.url, path, http_url=node.http_url) as chat:
        await sign_in_encrypted(chat, username, signup=signup)
        reader = Reader(chat)
        nursery.start_soon(reader.run)
        yield reader


async def sign_in_encrypted(chat: Chat, username: str, *, signup: bool) -> None:
    """Sign up (or in, as a new device) and turn end-to-end encryption on, as an app does."""
    if signup:
        await chat.signup(username, f"{username}@example.com", PASSWORD)
    else:
        await chat.login(username, PASSWORD)
    await chat.enable_encryption(PASSWORD)


def name(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


async def test_encrypted_dm_and_group_between_sdk_devices(node: Node, backing: Backing, nursery: trio.Nursery,
                                                          tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)  # everything the server (in this process) logs, at every level
    ann_name, bob_name, cy_name = name("ann"), name("bob"), name("cy")
    secrets: list[str] = []
    async with device(node, nursery, tmp_path / "ann.db", ann_name, signup=True) as ann, \
            device(node, nursery, tmp_path / "bob.db", bob_name, signup=True) as bob, \
            device(node, nursery, tmp_path / "cy.db", cy_name, signup=True) as cy, \
            device(node, nursery, tmp_path / "ann2.db", ann_name, signup=False) as ann_phone:
        dm = (await ann.chat.open_direct(bob_name, encrypted=True)).room
        for i in range(3):
            secrets.append(f"dm secret {i} {uuid.uuid4().hex}")
            await ann.chat.send(dm, secrets[-1])
        secrets.append(f"dm answer {uuid.uuid4().hex}")
        await bob.chat.send(dm, secrets[-1])
        assert await bob.until(dm, 3) == sorted(secrets[:3])
        assert await ann_phone.until(dm, 4) == sorted(secrets)  # my other device reads both sides

        group = (await ann.chat.create_group("plans", [bob_name, cy_name], encrypted=True)).room
        for who in (ann, bob, cy):
            secrets.append(f"group from {who.chat.username} {uuid.uuid4().hex}")
            await who.chat.send(group, secrets[-1])
        for who in (ann, bob, cy, ann_phone):
            assert len(await who.until(group, 2 if who is not ann_phone else 3)) >= 2

        # cy is removed, and bob sends at once (his member list is stale: the server makes him re-share)
        await ann.chat.link.call(f.RemoveMember, idempotent=False, room=group, user=cy.chat.user_id)
        after = f"after cy left {uuid.uuid4().hex}"
        sent = await bob.chat.send(group, after)
        assert after in await ann.until(group, 3)
        page = (await ann.chat.link.call(f.History, idempotent=True, room=group)).messages
        [ciphertext] = [m for m in page if m.seq == sent.seq]
        assert await cy.chat.decrypt(ciphertext) is None  # with her own keys: she never got this session's
        assert await ann.chat.decrypt(ciphertext) is not None
        for who in (ann, bob, ann_phone):
            assert who.chat.encryption is not None and not who.chat.encryption.pending  # nothing left waiting

    await assert_no_plaintext(backing.database_url, [*secrets, after])
    logged = caplog.text
    assert logged and not [s for s in [*secrets, after] if s.rsplit(" ", 1)[-1] in logged], "plaintext in the logs"


async def test_a_new_device_reads_history_from_the_key_backup(node: Node, nursery: trio.Nursery,
                                                              tmp_path: Path) -> None:
    ann_name, bob_name = name("ann"), name("bob")
    async with device(node, nursery, tmp_path / "ann.db", ann_name, signup=True) as ann, \
            device(node, nursery, tmp_path / "bob.db", bob_name, signup=True) as bob:
        recovery = await ann.chat.create_key_backup()
        dm = (await bob.chat.open_direct(ann_name, encrypted=True)).room
        await bob.chat.send(dm, "before the new laptop")
        assert await ann.until(dm, 1) == ["before the new laptop"]
        await trio.sleep(0.5)  # ann's device backs the key up

        async with device(node, nursery, tmp_path / "laptop.db", ann_name, signup=False) as laptop:
            assert await laptop.chat.restore_key_backup(recovery) >= 1
            history = await laptop.chat.history(dm)
            readable = [await laptop.chat.decrypt(m) for m in history if m.kind == "encrypted"]
            assert [d.content["body"] for d in readable if d] == ["before the new laptop"]
            await bob.chat.send(dm, "hello laptop")  # bob fetches ann's devices again: a new one is shown
            assert [(d.user, d.devices) for d in bob.new_devices] == \
                [(ann.chat.user_id, [laptop.chat.link.welcome.device if laptop.chat.link.welcome else ""])]


async def test_two_users_verify_each_others_device_by_emoji(node: Node, nursery: trio.Nursery,
                                                            tmp_path: Path) -> None:
    ann_name, bob_name = name("ann"), name("bob")
    async with device(node, nursery, tmp_path / "ann.db", ann_name, signup=True) as ann, \
            device(node, nursery, tmp_path / "bob.db", bob_name, signup=True) as bob:
        await ann.chat.open_direct(bob_name, encrypted=True)
        bob_device = bob.chat.link.welcome.device if bob.chat.link.welcome else ""
        assert bob.chat.user_id is not None and bob_device
        flow = await ann.chat.verify_device(bob.chat.user_id, bob_device)
        with trio.fail_after(10):
            while not bob.flows:
                await bob.changed.wait()
        await bob.chat.accept_verification(flow.txn)
        with trio.fail_after(10):
            while flow.state != "showing" or not any(x.flow.state == "showing" for x in bob.flows):
                await ann.changed.wait()
        theirs = next(x.flow for x in bob.flows if x.flow.state == "showing")
        assert flow.emoji == theirs.emoji and len(flow.emoji) == 7  # the users compare these
        await ann.chat.confirm_verification(flow.txn)
        await bob.chat.confirm_verification(flow.txn)
        with trio.fail_after(10):
            while not (flow.verified and theirs.verified):
                await ann.changed.wait()
        record = ann.chat.encryption.machine.device(bob.chat.user_id, bob_device) if ann.chat.encryption else None
        assert record is not None and record.verified


async def assert_no_plaintext(database_url: str, secrets: list[str]) -> None:
    """Search every text and JSON column of every table for the secrets (and a recognisable part of each)."""
    await trio.to_thread.run_sync(asyncio.run, _search(database_url, secrets))


async def _search(database_url: str, secrets: list[str]) -> None:  # asyncio side
    con = await asyncpg.connect(database_url)
    try:
        columns = await con.fetch(
            "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'public'"
            " AND data_type IN ('text', 'jsonb', 'json', 'character varying', 'bytea')")
        for col in columns:
            for secret in secrets:
                token = secret.rsplit(" ", 1)[-1]  # the random part: unique to this message
                hit = await con.fetchval(
                    f'SELECT count(*) FROM "{col["table_name"]}" WHERE "{col["column_name"]}"::text LIKE $1',
                    f"%{token}%")
                assert hit == 0, f"plaintext of {secret!r} found in {col['table_name']}.{col['column_name']}"
    finally:
        await con.close()


async def test_keys_waiting_on_the_server_are_read_when_the_sdk_restarts(node: Node, nursery: trio.Nursery,
                                                                          tmp_path: Path) -> None:
    """bob is offline while ann starts an encrypted chat: the room key waits on the server as a to-device
    message. It arrives with bob's next hello, before his crypto store is open; the SDK keeps it unacked until
    enable_encryption, and the message that came in the same backlog is handed over decrypted."""
    ann_name, bob_name = name("ann"), name("bob")
    async with device(node, nursery, tmp_path / "bob.db", bob_name, signup=True) as bob:
        bob.chat.disconnect()
    async with device(node, nursery, tmp_path / "ann.db", ann_name, signup=True) as ann:
        dm = (await ann.chat.open_direct(bob_name, encrypted=True)).room
        await ann.chat.send(dm, "while you were away")
    async with Chat.open(node.url, tmp_path / "bob.db", http_url=node.http_url) as chat:
        assert await chat.resume()
        await trio.sleep(0.5)  # the to-device frame and the backlog arrive before the store is opened
        await chat.enable_encryption(PASSWORD)
        reader = Reader(chat)
        nursery.start_soon(reader.run)
        assert await reader.until(dm, 1) == ["while you were away"]


async def test_big_key_shares_and_backups_fit_the_frame_limit(backing: Backing, nursery: trio.Nursery,
                                                              tmp_path: Path) -> None:
    """With a small max_frame_bytes the key shares of a group with many devices and a backup of many keys
    go in several requests, and nothing closes the connection."""
    from tests.conftest import make_config, start_node
    small = (await start_node(nursery, make_config(backing, tmp_path, max_frame_bytes=8192))).node
    names = [name(p) for p in ("ann", "bob", "cy")]
    async with contextlib.AsyncExitStack() as stack:
        devices = [await stack.enter_async_context(device(small, nursery, tmp_path / f"{n}.db", n, signup=True))
                   for n in names]
        for i in range(3):  # three more devices each: 12 in all, a share of ~1.3 KB each
            for n in names:
                devices.append(await stack.enter_async_context(
                    device(small, nursery, tmp_path / f"{n}-{i}.db", n, signup=False)))
        owner = devices[0]
        recovery = await owner.chat.create_key_backup()
        others: list[int | str] = [*names[1:]]
        group = (await owner.chat.create_group("big", others, encrypted=True)).room
        for i in range(12):
            await owner.chat.send(group, f"hello {i}")
        for d in devices[1:]:
            assert len(await d.until(group, 12)) == 12
        rooms = [(await owner.chat.create_group(f"r{i}", others[:1], encrypted=True)).room for i in range(25)]
        for room in rooms:
            await owner.chat.send(room, "one key each")
        assert owner.chat.connected
        async with device(small, nursery, tmp_path / "new.db", names[0], signup=False) as fresh:
            assert await fresh.chat.restore_key_backup(recovery) >= 26  # a session per room, in pages


async def test_a_file_in_an_encrypted_chat_reaches_the_server_only_as_ciphertext(node: Node, nursery: trio.Nursery,
                                                                                tmp_path: Path) -> None:
    ann_name, bob_name = name("ann"), name("bob")
    photo = b"\x89PNG\r\n\x1a\n" + uuid.uuid4().bytes * 64
    async with device(node, nursery, tmp_path / "ann.db", ann_name, signup=True) as ann, \
            device(node, nursery, tmp_path / "bob.db", bob_name, signup=True) as bob:
        dm = (await ann.chat.open_direct(bob_name, encrypted=True)).room
        upload, sent = await ann.chat.send_file(dm, photo, caption="the cat", filename="cat.png")
        assert upload.mime == "application/octet-stream" and upload.filename is None  # nothing said in clear
        assert bob.chat.media is not None and await bob.chat.media.download(upload.id) != photo
        assert await bob.until(dm, 1) == ["the cat"]
        [message] = [m for m in (await bob.chat.history(dm)) if m.seq == sent.seq]
        found = await bob.chat.decrypt(message)
        assert found is not None and found.content["kind"] == "image" and found.content["media"]["name"] == "cat.png"
        assert await bob.chat.download_file(message, found) == photo
