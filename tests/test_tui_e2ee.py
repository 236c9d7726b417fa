"""End-to-end encryption in the terminal client (docs/e2ee.md), driven by Textual's pilot against a real server:
a TUI user and an SDK user chat in an encrypted DM both ways, verify each other's device by emoji, and the TUI's
key backup opens on a new device; plus how locked messages, lock marks and the new commands read."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import trio
from msgspec import structs
from textual.widgets import Input, Label, Static

from chatd.clients.sdk import Chat
from chatd.clients.sdk.crypto import Decrypted, IdentityChanged, StoreError
from chatd.clients.sdk.events import MessageDecrypted, UnableToDecrypt
from chatd.clients.tui.app import ChatApp
from chatd.clients.tui.commands import Command, CommandError, parse
from chatd.clients.tui.e2ee import RecoveryKeyScreen, UnlockScreen, crypto_store_path
from chatd.clients.tui.qr_login import QrLoginScreen
from chatd.clients.tui.render import LOCKED, UNDECRYPTABLE, WAITING, message_line, readable, room_line, title_line
from chatd.protocol import frames as f
from tests.conftest import PASSWORD, Backing
from tests.test_e2ee_chat import Reader, sign_in_encrypted
from tests.tui_support import (
    ServerThread,
    click,
    drive,
    lines,
    log_in,
    open_room,
    sign_up,
    text_of,
    type_line,
    until,
)


@pytest.fixture(scope="module")
def server(backing: Backing, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    with ServerThread(backing, tmp_path_factory.mktemp("server")) as server:
        yield server


def sdk_device(server: ServerThread, path: Path, username: str, *, signup: bool) -> Reader:
    """An SDK device with encryption on, living in the server's thread until the server stops."""
    async def hold(task_status: trio.TaskStatus[Reader]) -> None:
        async with Chat.open(server.url, path, http_url=server.http_url) as chat:
            await sign_in_encrypted(chat, username, signup=signup)
            reader = Reader(chat)
            task_status.started(reader)
            await reader.run()

    async def start() -> Reader:
        assert server.nursery is not None
        return await server.nursery.start(hold)  # type: ignore[no-any-return]
    return server.run(start)


def test_an_encrypted_dm_with_an_sdk_user_both_ways_with_emoji_verification_and_backup(
        server: ServerThread, tmp_path: Path) -> None:
    ann = sign_up(server, "ann")
    bob = sdk_device(server, tmp_path / "bob.sqlite3", f"bob_{uuid.uuid4().hex[:6]}", signup=True)
    bob_name = bob.chat.username
    assert bob_name is not None and bob.chat.user_id is not None

    async def scenario() -> None:
        app = ChatApp(server.url, server.http_url, tmp_path / "client")
        async with app.run_test(size=(120, 40)) as pilot:
            await log_in(app, pilot, ann.username)
            await until(pilot, lambda: app._unlocking is not None and app._unlocking.is_finished,
                        "encryption turned on in the background (its keys published)")
            assert app.chat is not None and app.chat.encryption is not None
            assert not app.query("#locked")

            dm = (await server.call(bob.chat.open_direct, ann.username, True)).room
            await server.call(bob.chat.send, dm, "the plans are in the blue folder")
            await open_room(app, pilot, bob_name)
            await until(pilot, lambda: any(t.endswith(f"{bob_name}: the plans are in the blue folder")
                                           for t in lines(app)), "bob's message decrypted")
            assert "🔒" in text_of(app, "#title")[0]
            assert any(bob_name in t and "🔒" in t for t in text_of(app, "#rooms Static"))

            await type_line(pilot, "got it, burning the folder")
            await until(pilot, lambda: any("me: got it, burning the folder" in t for t in lines(app)), "mine")
            assert await server.call(bob.until, dm, 1) == ["got it, burning the folder"]  # the SDK decrypts mine
            await type_line(pilot, "/edit never mind")  # an edit would go to the server in clear
            await until(pilot, lambda: any("not available in end-to-end encrypted rooms" in str(n.message)
                                           for n in app._notifications), "edits refused")

            # emoji verification, started from the terminal
            await type_line(pilot, f"/verify {bob_name}")
            await until(pilot, lambda: bool(bob.flows), "bob's device asked")
            txn = bob.flows[-1].flow.txn
            await server.call(bob.chat.accept_verification, txn)
            await until(pilot, lambda: "Do these emoji show" in "".join(text_of(app, "#verification-text")),
                        "the emoji in the terminal")
            theirs = next(x.flow for x in bob.flows if x.flow.state == "showing")
            shown = "".join(text_of(app, "#verification-text"))
            assert len(theirs.emoji) == 7 and all(f"{e} {n}" in shown for e, n in theirs.emoji)
            await type_line(pilot, "/verify confirm")
            await server.call(bob.chat.confirm_verification, txn)
            await until(pilot, lambda: "is verified" in "".join(text_of(app, "#verification-text")), "verified")
            assert app.chat is not None and app.chat.encryption is not None
            record = app.chat.encryption.machine.device(bob.chat.user_id, theirs.me[1])  # type: ignore[arg-type]
            assert record is not None and record.verified

            await type_line(pilot, f"/devices {bob_name}")
            await until(pilot, lambda: any(f"{theirs.me[1][:8]} (chatd-sdk): ✓ verified" in str(n.message)
                                           for n in app._notifications), "bob's device listed as verified")

            # and the other way: bob's device asks, the terminal announces it and accepts
            await click(pilot, "#sas-close")
            ann_device = app.chat.link.welcome.device if app.chat.link.welcome else ""
            flow = await server.call(bob.chat.verify_device, ann.user_id, ann_device)
            await until(pilot, lambda: any("asks to verify this device: /verify accept" in str(n.message)
                                           for n in app._notifications), "the request announced")
            await click(pilot, "#sas-accept")
            await until(pilot, lambda: flow.state == "showing" and "Do these emoji show" in
                        "".join(text_of(app, "#verification-text")), "the emoji on both sides")
            assert all(f"{e} {n}" in "".join(text_of(app, "#verification-text")) for e, n in flow.emoji)
            await click(pilot, "#sas-confirm")
            await server.call(bob.chat.confirm_verification, flow.txn)
            await until(pilot, lambda: flow.verified and "is verified" in "".join(text_of(app, "#verification-text")),
                        "verified both ways")

            # the key backup made in the terminal opens on a new device of ann's
            await type_line(pilot, "/backup")
            await until(pilot, lambda: isinstance(app.screen, RecoveryKeyScreen), "the recovery key, once")
            recovery = str(app.screen.query_one("#recovery-key", Static).render())
            await pilot.click("#recovery-done")
            laptop = sdk_device(server, tmp_path / "laptop.sqlite3", ann.username, signup=False)
            assert await server.call(laptop.chat.restore_key_backup, recovery) >= 1
            history = await server.call(laptop.chat.history, dm)
            read = [await server.call(laptop.chat.decrypt, m) for m in history if m.kind == "encrypted"]
            assert {"the plans are in the blue folder", "got it, burning the folder"} <= \
                {d.content["body"] for d in read if d is not None}
    drive(scenario, timeout=120)


def test_groups_made_encrypted_or_turned_encrypted_from_the_terminal(server: ServerThread, tmp_path: Path) -> None:
    ann = sign_up(server, "ann")
    bob = sdk_device(server, tmp_path / "bob.sqlite3", f"bob_{uuid.uuid4().hex[:6]}", signup=True)
    bob_name = bob.chat.username

    async def scenario() -> None:
        app = ChatApp(server.url, server.http_url, tmp_path / "client")
        async with app.run_test(size=(120, 40)) as pilot:
            await log_in(app, pilot, ann.username)
            await until(pilot, lambda: app._unlocking is not None and app._unlocking.is_finished, "encryption on")
            await type_line(pilot, f'/group "Secret plans" {bob_name} --encrypted')
            await until(pilot, lambda: text_of(app, "#title") == ["Secret plans  🔒 encrypted"], "an encrypted group")
            await type_line(pilot, "meet at noon")
            await until(pilot, lambda: any("me: meet at noon" in t for t in lines(app)), "sent")
            assert app.room is not None
            assert await server.call(bob.until, app.room, 1) == ["meet at noon"]

            await type_line(pilot, f'/group "Open plans" {bob_name}')
            await until(pilot, lambda: text_of(app, "#title") == ["Open plans"], "a plain group")
            await type_line(pilot, "/encrypt")
            await until(pilot, lambda: "end-to-end encryption" in "".join(text_of(app, "#question")), "asked first")
            await pilot.press("y")
            await until(pilot, lambda: text_of(app, "#title") == ["Open plans  🔒 encrypted"]
                        and any(t.strip() == "Open plans 🔒" for t in text_of(app, "#rooms Static")), "locked now")
            await type_line(pilot, "/encrypt")
            await until(pilot, lambda: any("encrypted already" in str(n.message) for n in app._notifications),
                        "once is enough")
            app.query_one("#compose", Input).value = ""
            await type_line(pilot, "now it is secret")
            assert await server.call(bob.until, app.room, 1) == ["now it is secret"]
    drive(scenario, timeout=120)


def test_a_device_signed_in_by_qr_code_is_locked_until_the_password_then_restores_history(
        server: ServerThread, tmp_path: Path) -> None:
    ann_name = f"ann_{uuid.uuid4().hex[:6]}"
    phone = sdk_device(server, tmp_path / "phone.sqlite3", ann_name, signup=True)
    bob = sdk_device(server, tmp_path / "bob.sqlite3", f"bob_{uuid.uuid4().hex[:6]}", signup=True)
    bob_name = bob.chat.username
    assert bob_name is not None and bob.chat.user_id is not None
    bob_id = bob.chat.user_id
    recovery = server.run(phone.chat.create_key_backup)
    dm = server.run(bob.chat.open_direct, ann_name, True).room
    server.run(bob.chat.send, dm, "sent before the terminal")
    assert server.run(phone.until, dm, 1) == ["sent before the terminal"]  # the phone backs its key up

    def shows(text: str) -> bool:
        return any(t.endswith(f"{bob_name}: {text}") for t in lines(app))

    app = ChatApp(server.url, server.http_url, tmp_path / "client")

    async def scenario() -> None:
        async with app.run_test(size=(120, 50)) as pilot:
            await pilot.click("#qr")
            await until(pilot, lambda: isinstance(app.screen, QrLoginScreen) and app.screen.request is not None,
                        "the QR code")
            assert isinstance(app.screen, QrLoginScreen) and app.screen.request is not None
            await server.call(phone.chat.answer_qr_login, app.screen.request.code, True)
            await until(pilot, lambda: bool(app.query("#locked")), "the banner: encryption is locked, no password")
            await open_room(app, pilot, bob_name)
            await until(pilot, lambda: shows(LOCKED), "the message locked")
            await type_line(pilot, "can you read this?")  # nothing goes out unencrypted
            await until(pilot, lambda: any("/unlock" in str(n.message) for n in app._notifications), "why not")
            assert not any("can you read this" in t for t in lines(app))

            await click(pilot, "#unlock")
            await until(pilot, lambda: isinstance(app.screen, UnlockScreen), "the password dialog")
            app.screen.query_one("#unlock-password", Input).value = PASSWORD
            app.screen.query_one("#unlock-again", Input).value = PASSWORD + "!"  # no store yet: typed twice
            await click(pilot, "#unlock-ok")
            assert "differ" in str(app.screen.query_one("#unlock-error", Label).render())
            again = app.screen.query_one("#unlock-again", Input)
            again.value = PASSWORD
            again.focus()
            await pilot.press("enter")
            await until(pilot, lambda: not app.query("#locked") and app._unlocking is not None
                        and app._unlocking.is_finished, "unlocked")
            await until(pilot, lambda: shows(WAITING), "its key not on this device yet")
            assert app.query_one("#compose", Input).value == "can you read this?"  # kept: Enter sends it now
            app.query_one("#compose", Input).focus()
            await pilot.press("enter")
            await until(pilot, lambda: any("me: can you read this?" in t for t in lines(app)), "sent encrypted")
            assert "can you read this?" in await server.call(bob.until, dm, 1)

            [old] = [m for m in app.shown.values() if m.kind == "encrypted" and m.sender == bob.chat.user_id]
            await app._handle_event(UnableToDecrypt(old))  # as the SDK reports it after asking everywhere
            await until(pilot, lambda: shows(UNDECRYPTABLE), "unable to decrypt")

            await type_line(pilot, f"/restore {recovery[:-1]}x")
            await until(pilot, lambda: any(str(n.message).startswith("/restore: ") for n in app._notifications),
                        "a mistyped recovery key explained")
            assert shows(UNDECRYPTABLE)
            assert app.query_one("#compose", Input).value == "/restore "  # the key typed is not left on screen
            app.query_one("#compose", Input).value = ""
            await type_line(pilot, f"/restore {recovery}")
            await until(pilot, lambda: shows("sent before the terminal"), "history read from the key backup")
            assert any("restored" in str(n.message) for n in app._notifications)
            await server.call(bob.chat.send, dm, "after the unlock")
            await until(pilot, lambda: shows("after the unlock"), "a new message, live")

            await app._handle_event(IdentityChanged(bob_id, "d0d0d0d0-1", "old", "new"))
            await until(pilot, lambda: any(n.title == "⚠ SECURITY WARNING" and f"{bob_name}'s device d0d0d0d0 now "
                                           "presents another identity key" in str(n.message)
                                           for n in app._notifications), "a loud warning")

            # a key that comes late (the SDK's MessageDecrypted): the locked line, and a reply quoting it, redraw
            stored = f.StoredEncrypted(algorithm="megolm.v1", ciphertext="c", session_id="s", sender_key="k",
                                       device="d")
            late = f.Message(room=dm, seq=900, ts=0, kind="encrypted", sender=bob.chat.user_id, body="",
                             encrypted=stored)
            reply = structs.replace(late, seq=901, reply_to=900)
            await app._show_messages([late, reply])
            await until(pilot, lambda: shows(WAITING), "waiting for its key")
            await app._handle_event(MessageDecrypted(late, Decrypted({"kind": "text", "body": "late but here",
                                                                      "room": dm}, bob.chat.user_id, "d", False,
                                                                     False, 0)))
            await until(pilot, lambda: shows("late but here") and any(f"┌ {bob_name}: late but here" in t
                                                                       for t in lines(app)), "redrawn")
    drive(scenario, timeout=120)


def test_when_encryption_cannot_start_it_says_so_and_plain_chat_goes_on(server: ServerThread, tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    ann, bob = sign_up(server, "ann"), sign_up(server, "bob")

    async def broken_store(chat: Chat, password: str, store: object = None) -> None:
        raise StoreError("not a crypto store: file is not a database")
    monkeypatch.setattr(Chat, "enable_encryption", broken_store)

    async def scenario() -> None:
        app = ChatApp(server.url, server.http_url, tmp_path / "client")
        async with app.run_test(size=(120, 40)) as pilot:
            await log_in(app, pilot, ann.username)
            await until(pilot, lambda: any("end-to-end encryption is off on this device: not a crypto store"
                                           in str(n.message) for n in app._notifications), "the failure, said")
            assert app.query("#locked")
            await type_line(pilot, f"/dm {bob.username}")
            await until(pilot, lambda: text_of(app, "#title")[0].startswith(bob.username), "a plain room")
            await type_line(pilot, "plain still works")
            await until(pilot, lambda: any("me: plain still works" in t for t in lines(app)), "sent")
            await type_line(pilot, "/backup")
            await until(pilot, lambda: any("/unlock with your password first" in str(n.message)
                                           for n in app._notifications), "encryption commands explain")
    drive(scenario)


def test_a_second_sign_in_on_the_same_account_gets_a_store_of_its_own(tmp_path: Path) -> None:
    cache = tmp_path / "ann.sqlite3"
    first, second = crypto_store_path(cache, "0f1e-aa"), crypto_store_path(cache, "77ab-bb")
    assert first != second and first.parent == second.parent == tmp_path
    assert crypto_store_path(cache, "../../etc/passwd").parent == tmp_path  # an id is never a path


def test_locked_messages_lock_marks_and_decrypted_text_read_as_they_should() -> None:
    stored = f.StoredEncrypted(algorithm="megolm.v1", ciphertext="c", session_id="s", sender_key="k", device="d")
    m = f.Message(room=1, seq=5, ts=0, kind="encrypted", sender=2, client_id="x", body="", encrypted=stored)
    names = {2: "bob"}
    assert str(message_line(m, 1, names)).endswith(f"bob: {WAITING}")
    assert str(message_line(m, 1, names, locked=UNDECRYPTABLE)).endswith("bob: 🔒 unable to decrypt")
    assert str(message_line(m, 1, names, locked=LOCKED)).endswith(f"bob: {LOCKED}")
    assert str(message_line(readable(m, {"kind": "text", "body": "[b]hi[/b]", "room": 1}), 1, names)) \
        .endswith("bob: [b]hi[/b]")
    assert readable(m, {"kind": "system", "body": 3}).kind == "text"  # what a sender put there is never trusted
    photo = {"kind": "image", "body": "our cat", "media": {"id": "m1", "name": "cat.png", "size": 1234}}
    assert str(message_line(readable(m, photo), 1, names)).endswith("bob: [image: cat.png, 1234 bytes] our cat")
    summary = f.RoomSummary(room=1, kind="direct", peer=2, encrypted=True)
    assert str(room_line(summary, names, None)).strip() == "bob 🔒"
    info = f.RoomInfo(room=1, kind="group", name="plans", members=[], encrypted=True)
    assert str(title_line(info, names, 1, None)) == "plans  🔒 encrypted"


def test_the_encryption_commands_parse_and_explain_their_usage() -> None:
    assert parse("/dm bob --encrypted") == Command("dm", ("bob",), encrypted=True)
    assert parse("/dm -e bob") == Command("dm", ("bob",), encrypted=True)
    assert parse("/dm bob") == Command("dm", ("bob",))
    assert parse('/group "Book club" bob carol --encrypted') == Command("group", ("Book club", "bob", "carol"),
                                                                       encrypted=True)
    assert parse("/verify bob") == Command("verify", ("bob",))
    assert parse("/verify bob 1a2b") == Command("verify", ("bob", "1a2b"))
    assert parse("/verify accept") == Command("verify", ("accept",), text="step")
    assert parse("/verify @accept") == Command("verify", ("@accept",))  # a user called accept
    assert parse("/restore EsTc LW2K abcd") == Command("restore", (), "EsTc LW2K abcd")
    assert parse("/devices bob") == Command("devices", ("bob",))
    for bad in ("/dm bob carol", "/dm --encrypted", "/verify", "/verify confirm now", "/restore", "/encrypt x",
                "/backup now", "/devices"):
        with pytest.raises(CommandError, match="usage"):
            parse(bad)
