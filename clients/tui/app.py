"""`chat`: the terminal client. Rooms on the left (unread and mention badges, online dots), the open
conversation on the right with ticks on your messages, typing indicator and an input line.

Commands in the input line are in `clients.tui.commands` (/help lists them). Keys: Up (from the input
line) selects the newest message and Up/Down move the selection; on a selected message `e` edits it,
`d` deletes it (after a yes/no), `r` replies to it, `+` starts a /react; Esc goes back to the input line.
Ctrl+O loads older messages. The sign-in screen's QR code button signs in by a code another device
approves (clients/tui/qr_login.py); /approve CODE is that other side.

End-to-end encryption (docs/e2ee.md, the widgets in clients/tui/e2ee.py): turned on in the background after a
sign-in with a password, or by /unlock on a device signed in by QR code; encrypted lines show their text once
this device has the key, a lock placeholder until then.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import re
import time
from collections.abc import Awaitable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import trio
from msgspec import structs
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.css.query import NoMatches
from textual.screen import Screen
from textual.widgets import Button, Footer, Header, Input, ListItem, ListView, Static
from textual.worker import Worker

from chatd import __version__
from chatd.clients.literal import LiteralApp, literal
from chatd.clients.sdk import REQUEST_ERRORS, Chat, ChatError, ConnectionChanged, Event, NewMessage, SessionEnded
from chatd.clients.sdk.crypto import (
    BadRecoveryKey,
    IdentityChanged,
    StoreError,
    UnknownDevice,
    Verification,
    WrongPassword,
)
from chatd.clients.sdk.events import MessageDecrypted, UnableToDecrypt, VerificationChanged
from chatd.clients.sdk.private import private_dir
from chatd.clients.sdk.receipts import tick
from chatd.clients.tui.bridge import TrioGuest
from chatd.clients.tui.commands import HELP, Command, CommandError, parse
from chatd.clients.tui.conversation import SELECTABLE, Conversation
from chatd.clients.tui.dialogs import Confirm, InviteBar
from chatd.clients.tui.e2ee import (
    LockedBanner,
    RecoveryKeyScreen,
    UnlockScreen,
    VerificationBar,
    crypto_store_path,
    device_label,
)
from chatd.clients.tui.login import Credentials, LoginScreen, QrWanted
from chatd.clients.tui.qr_login import ApproveScreen, QrLoginScreen
from chatd.clients.tui.render import (
    LOCKED,
    UNDECRYPTABLE,
    WAITING,
    ended_text,
    is_shown,
    message_line,
    preview,
    quote_text,
    readable,
    room_line,
    room_title,
    title_line,
    typing_line,
)
from chatd.protocol import e2ee as e
from chatd.protocol import frames as f
from chatd.protocol import people as p

PAGE = 50
TYPING_EVERY = 3.0  # seconds between repeated `typing: true`
SLOW_SIGN_IN = 5.0  # seconds of "logging in…" before the sign-in screen says the server does not answer


def default_cache_dir(url: str) -> Path:
    where = urlsplit(url)
    return Path.home() / ".local" / "share" / "chatd-client" / f"{where.hostname}_{where.port or 80}"


def error_text(exc: Exception) -> str:
    """What went wrong, for a person: the server's own words for a refusal."""
    return exc.error.message if isinstance(exc, ChatError) else f"{type(exc).__name__}: {exc}"


class ChatScreen(Screen[None]):
    """The rooms and the conversation (the app's default screen)."""

    AUTO_FOCUS = "#compose"  # it starts, and comes back from the sign-in screen, in the input line


class ChatApp(LiteralApp):
    TITLE = "chatd"
    CSS = """
    #rooms { width: 32; border-right: solid $accent; }
    #rooms Static { text-wrap: nowrap; text-overflow: ellipsis; }
    #messages { height: 1fr; }
    #typing { height: 1; color: $text-muted; }
    #editing { height: auto; color: $warning; }
    .mine { color: $success; }
    """
    BINDINGS = [Binding("ctrl+o", "older", "Older messages"),
                Binding("up", "select_newest", "Select a message", show=False),
                Binding("escape", "back_to_input", "Cancel", show=False),
                Binding("ctrl+q", "quit", "Quit")]

    def __init__(self, url: str, http_url: str, cache_dir: Path | None = None) -> None:
        super().__init__()
        self.url, self.http_url = url, http_url
        self.cache_dir = cache_dir or default_cache_dir(url)
        self.own_cache_dir = cache_dir is None
        self.trio = TrioGuest()
        self.chat: Chat | None = None
        self._session: list[Worker[object]] = []  # the workers that hold the Chat and read its events
        self._rooms_lock = asyncio.Lock()
        self._messages_lock = asyncio.Lock()  # likewise for the conversation (a send and its push)
        self._reset()

    def _reset(self) -> None:
        self.room: int | None = None
        self.info: f.RoomInfo | None = None  # the open room
        self.rooms: dict[int, f.RoomSummary] = {}
        self.names: dict[int, str] = {}
        self.online: dict[int, bool] = {}  # the one record of who is online: the room list and the title read it
        self.typing_in: dict[int, set[int]] = {}
        self.members: list[int] = []
        self.shown: dict[int, f.Message] = {}
        self.receipts: dict[int, tuple[int, int]] = {}
        self.editing: int | None = None  # the seq of the message the input line is editing
        self.replying: int | None = None  # the seq of the message the input line answers
        self.quotes: dict[int, f.Message] = {}  # messages answered by shown ones but not shown themselves
        self._typing_sent = 0.0
        self._draft = ""  # the input line's text when an edit began
        self.plain: dict[tuple[int, int], dict[str, Any]] = {}  # (room, seq) -> a decrypted message's content
        self.undecryptable: set[tuple[int, int]] = set()  # reported unable to decrypt (until a key comes)
        self.flow: Verification | None = None  # the emoji verification in the bar
        self._unlocking: Worker[object] | None = None  # enabling encryption, in the background

    def get_default_screen(self) -> Screen[None]:
        return ChatScreen(id="_default")

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal():
            yield ListView(id="rooms")
            with Vertical(id="pane"):
                yield Static("", id="title")
                yield Conversation(id="messages")
                yield Static("", id="typing")
                yield Static("", id="editing")
                yield Input(placeholder="message, or /help", id="compose", select_on_focus=False)
        yield Footer()

    def on_mount(self) -> None:
        self.trio.start()
        self._set_mode(None)
        self.push_screen(LoginScreen())

    async def on_unmount(self) -> None:
        await self.trio.stop()

    # ------------------------------------------------------------------ session

    def on_login_screen_submitted(self, message: LoginScreen.Submitted) -> None:
        if isinstance(self.screen, LoginScreen):
            self.run_worker(self._guarded(self._sign_in(message.credentials, self.screen)), group="session")

    def on_qr_wanted(self, message: QrWanted) -> None:
        login = self.screen
        if not isinstance(login, LoginScreen):
            return

        def approved(auth: f.AuthOk | None) -> None:  # None: Back, to the form underneath
            if auth is not None:
                signing_in = self._sign_in(Credentials(auth.username, "", None), login, auth)
                self.run_worker(self._guarded(signing_in), group="session")
        self.push_screen(QrLoginScreen(self.http_url, self.trio.call), approved)

    async def _sign_in(self, c: Credentials, login: LoginScreen, auth: f.AuthOk | None = None) -> None:
        """Sign in with the credentials, or with the tokens a QR login brought (`auth`)."""
        slow = self.set_timer(SLOW_SIGN_IN, lambda: login.show_error(f"cannot reach {self.url} yet: still trying…"))
        try:
            chat = await self._open_chat(c.username)
            if auth is not None:
                await self.trio.call(chat.sign_in_with, auth)
            elif c.email:
                await self.trio.call(chat.signup, c.username, c.email, c.password)
            else:
                await self.trio.call(chat.login, c.username, c.password)
        except REQUEST_ERRORS as exc:
            await self._close_chat()
            login.failed(error_text(exc))
            return
        finally:
            slow.stop()
        self.sub_title = f"{chat.username} · connected"
        await login.dismiss()
        self.query_one("#compose", Input).focus()
        self._session.append(self.run_worker(self._guarded(self._events()), group="events"))
        self._session.append(self.run_worker(self._guarded(self._first_rooms(chat)), group="rooms"))
        if c.password:  # in the background: the chat screen is up meanwhile, and a failure only locks encryption
            self._unlock(chat, c.password)
        else:  # signed in by QR code: no password yet
            await self._show_locked()

    async def _guarded(self, work: Awaitable[None]) -> None:
        """A worker's body (all but the trio one): widgets going away under it as the app closes is no error."""
        try:
            await work
        except NoMatches:
            if self.is_running:
                raise

    # ------------------------------------------------------------------ end-to-end encryption

    def _unlock(self, chat: Chat, password: str) -> None:
        self._unlocking = self.run_worker(self._guarded(self._enable_encryption(chat, password)), group="crypto")
        self._session.append(self._unlocking)

    async def _enable_encryption(self, chat: Chat, password: str) -> None:
        """Open this device's crypto store with the password and publish its keys; on failure say so (the
        chat goes on unencrypted where it can, encrypted rooms stay locked)."""
        store = self._store_path(chat)
        try:
            if store is None:
                raise StoreError("this device has no id yet")
            await self.trio.call(chat.enable_encryption, password, store)
        except WrongPassword:
            self.notify("wrong password: encrypted messages stay locked (/unlock to try again)", severity="error",
                        timeout=15)
            await self._show_locked()
            return
        except (StoreError, RuntimeError, *REQUEST_ERRORS) as exc:
            reason = str(exc) if isinstance(exc, StoreError) else error_text(exc)  # a StoreError is in words already
            if chat.encryption is not None:  # the store opened; publishing its keys failed: the next connection does
                self.notify(f"this device's encryption keys are not published yet ({reason}): they will "
                            "be when the connection comes back", severity="warning", timeout=15)
            else:
                self.notify(f"end-to-end encryption is off on this device: {reason}. Chat works; "
                            "encrypted messages stay locked (/unlock to try again).", severity="error", timeout=15)
                await self._show_locked()
                return
        await self.query("#locked").remove()
        await self._decrypt_shown()

    def _store_path(self, chat: Chat) -> Path | None:
        welcome = chat.link.welcome
        if chat.cache_path is None or welcome is None or welcome.device is None:
            return None
        return crypto_store_path(chat.cache_path, welcome.device)

    async def _show_locked(self) -> None:
        if self.chat is not None and self.chat.encryption is None and not self.query("#locked"):
            await self.query_one("#pane", Vertical).mount(LockedBanner(), before="#typing")

    def _ask_password(self) -> None:
        chat = self.chat
        if chat is None:
            return
        if chat.encryption is not None or (self._unlocking is not None and self._unlocking.is_running):
            self.notify("encryption is unlocked on this device already" if chat.encryption else "unlocking…")
            return
        store = self._store_path(chat)

        def answered(password: str | None) -> None:
            if password and self.chat is chat:
                self._unlock(chat, password)
        self.push_screen(UnlockScreen(twice=store is None or not store.exists()), answered)

    def _crypto_on(self) -> Chat:
        """The chat, its encryption unlocked (else a CommandError saying how)."""
        if self.chat is None or self.chat.encryption is None:
            raise CommandError("end-to-end encryption is locked on this device: /unlock with your password first")
        return self.chat

    async def _await_unlocking(self) -> None:
        if self._unlocking is not None and self._unlocking.is_running:
            await self._unlocking.wait()

    def _encrypted(self, room: int) -> bool:
        summary = self.rooms.get(room)
        return bool((self.chat is not None and room in self.chat.encrypted_rooms)
                    or (summary is not None and summary.encrypted)
                    or (self.info is not None and self.info.room == room and self.info.encrypted))

    async def _decrypt(self, messages: list[f.Message]) -> None:
        """Decrypt what these hold that is not read yet (history, the cache, quotes), when the keys are here."""
        chat = self.chat
        if chat is None or chat.encryption is None:
            return
        for m in messages:
            key = (m.room, m.seq)
            if m.kind == "encrypted" and m.encrypted is not None and key not in self.plain:
                try:
                    found = await self.trio.call(chat.decrypt, m)
                except REQUEST_ERRORS:
                    found = None  # the sender's devices could not be fetched: it stays locked for now
                if found is not None:
                    self.plain[key] = found.content
                    self.undecryptable.discard(key)

    async def _decrypt_shown(self) -> None:
        """Keys may have come (unlocked, a backup restored): read what the open conversation still shows locked."""
        if self.room is None:
            return
        waiting = [m for m in [*self.shown.values(), *self.quotes.values()] if (m.room, m.seq) not in self.plain]
        await self._decrypt(waiting)
        for m in waiting:  # read now, or locked for another reason (unlocked: waiting for its key)
            if m.kind == "encrypted":
                self._redraw_with_replies(m.room, m.seq)

    def _redraw_with_replies(self, room: int, seq: int) -> None:
        if room != self.room:
            return
        for shown_seq, shown in self.shown.items():
            if shown_seq == seq or shown.reply_to == seq:
                self._redraw(shown_seq)

    def _read_key(self, m: f.Message, content: dict[str, Any]) -> None:
        self.plain[(m.room, m.seq)] = content
        self.undecryptable.discard((m.room, m.seq))
        self._redraw_with_replies(m.room, m.seq)

    def _identity_changed(self, event: IdentityChanged) -> None:
        self.bell()
        self.notify(f"{self.names.get(event.user, f'user {event.user}')}'s device {device_label(event.device)} now "
                    "presents another identity key. Nothing will be encrypted to it: someone may be impersonating "
                    "it. Check with them in person before you trust it.",
                    title="⚠ SECURITY WARNING", severity="error", timeout=120)

    async def _show_flow(self, flow: Verification) -> None:
        self.flow = flow
        bars = self.query(VerificationBar)
        if bars and bars.first().flow.txn == flow.txn:
            bars.first().show(flow)
            return
        await bars.remove()
        await self.query_one("#pane", Vertical).mount(VerificationBar(flow, self.names), before="#typing")

    async def _verification_changed(self, flow: Verification) -> None:
        if self.flow is not None and self.flow.txn == flow.txn:
            await self._show_flow(flow)
            if flow.state == "done" and flow.verified:
                self.notify(f"{self.names.get(flow.them[0], 'their')} device {device_label(flow.them[1])} is verified")
        elif flow.state == "requested" and not flow.we_started:
            them = f"{self.names.get(flow.them[0], f'user {flow.them[0]}')}'s device {device_label(flow.them[1])}"
            self.notify(f"{them} asks to verify this device: /verify accept (or Accept above the input line)",
                        title="Verification request", timeout=30)
            await self._show_flow(flow)

    async def on_verification_bar_step(self, message: VerificationBar.Step) -> None:
        self.query_one("#compose", Input).focus()  # a button pressed: the keyboard goes back to the input line
        try:
            await self._verification_step(message.step)
        except CommandError as exc:
            self.notify(str(exc), severity="warning")
        except REQUEST_ERRORS as exc:
            self.notify(error_text(exc), severity="error")

    async def _verification_step(self, step: str) -> None:
        if step == "close":
            self.flow = None
            await self.query(VerificationBar).remove()
            return
        chat, flow = self._crypto_on(), self.flow
        if flow is None or flow.state in ("done", "cancelled"):
            raise CommandError("no verification under way: /verify USER starts one")
        if step == "accept":
            await self.trio.call(chat.accept_verification, flow.txn)
        elif step == "confirm":
            if flow.state != "showing":
                raise CommandError("there are no emoji to compare yet")
            await self.trio.call(chat.confirm_verification, flow.txn)
        else:
            reason = "the emoji do not match" if flow.state == "showing" else "cancelled by the user"
            await self.trio.call(chat.cancel_verification, flow.txn, reason)
        await self._show_flow(flow)

    async def _their_devices(self, chat: Chat, name: str) -> tuple[int, list[e.DeviceKeyInfo]]:
        """A user's devices that take part in encryption (this one left out), by their user name."""
        profile = await self.trio.call(chat.profile, name.removeprefix("@"))
        self.names[profile.user] = profile.username
        found: e.DeviceKeysList = await self.trio.call(
            functools.partial(chat.link.call, e.QueryKeys, idempotent=True, users=[profile.user]))
        mine = chat.link.welcome.device if chat.link.welcome else None
        return profile.user, [d for d in found.devices if d.user == profile.user and d.device != mine]

    async def _list_devices(self, name: str) -> None:
        chat = self._crypto_on()
        user, devices = await self._their_devices(chat, name)
        assert chat.encryption is not None
        await self.trio.call(chat.encryption.refresh, [user])  # a swapped key shows as changed, not verified
        parts = []
        for info in devices:
            record = chat.encryption.machine.device(user, info.device)
            mark = "⚠ keys changed" if record and record.changed else \
                "✓ verified" if record and record.verified else "unverified"
            parts.append(f"{device_label(info.device, info.name)}: {mark}")
        who_ = self.names.get(user, name)
        self.notify("\n".join(parts) + f"\n(/verify {who_} DEVICE to compare emoji)" if parts
                    else f"{who_} has no other device with encryption", title=f"{who_}'s devices", timeout=30)

    async def _start_verification(self, name: str, device: str | None) -> None:
        chat = self._crypto_on()
        user, devices = await self._their_devices(chat, name)
        if device is not None:
            devices = [d for d in devices if d.device.startswith(device)]
        who_ = self.names.get(user, name)
        if not devices:
            raise CommandError(f"{who_} has no {'such ' if device else 'other '}device with encryption"
                               + (" (/devices " + who_ + " lists them)" if device else ""))
        if len(devices) > 1:
            raise CommandError(f"{who_} has {len(devices)} devices: " + ", ".join(device_label(d.device, d.name)
                               for d in devices) + f". Say which: /verify {who_} DEVICE")
        try:
            flow = await self.trio.call(chat.verify_device, user, devices[0].device)
        except UnknownDevice:  # its keys were refused (forged, or changed since first seen)
            raise CommandError(f"{who_}'s device {device_label(devices[0].device)} cannot be verified: its keys "
                               "did not check out") from None
        await self._show_flow(flow)

    async def _encrypt_room(self, room: int) -> None:
        async def answered(yes: bool | None) -> None:
            if yes and self.chat is not None:
                try:
                    await self.trio.call(self.chat.encrypt_room, room)
                    await self._open_new(room)
                except REQUEST_ERRORS as exc:
                    self.notify(error_text(exc), severity="error")
        if self._encrypted(room):
            raise CommandError("this room is end-to-end encrypted already")
        self.push_screen(Confirm("Turn on end-to-end encryption for this room?",
                                 "This cannot be undone. From now on only the members' devices can read new messages; "
                                 "edits and files are not available in it from this client.", "Encrypt"), answered)

    async def _restore(self, recovery_key: str) -> None:
        chat = self._crypto_on()
        try:
            count = await self.trio.call(chat.restore_key_backup, recovery_key)
        except BadRecoveryKey as exc:
            raise CommandError(f"/restore: {exc}") from None  # the SDK's words: mistyped, or not this backup's
        self.notify(f"restored {count} message key{'s' if count != 1 else ''} from your key backup")
        await self._decrypt_shown()

    async def _first_rooms(self, chat: Chat) -> None:
        with contextlib.suppress(*REQUEST_ERRORS):  # a session that ends already is reported by _events
            await self._show_rooms(await self.trio.call(chat.cached_rooms))  # the cache first, instantly
            await self._show_rooms(await self.trio.call(chat.rooms))

    async def _open_chat(self, username: str) -> Chat:
        """A Chat on this account's cache file, living in trio until `_close_chat`."""
        path = self.cache_dir / f"{re.sub(r'[^a-z0-9_.@+-]', '_', username.lower())}.sqlite3"  # typed: never a path
        private_dir(self.cache_dir, tighten=self.own_cache_dir)  # the SDK keeps the refresh token in there
        opened: list[Chat] = []
        failed: list[OSError] = []
        ready = asyncio.Event()  # set from trio: both run on this thread

        async def hold() -> None:
            try:
                async with Chat.open(self.url, path, http_url=self.http_url, device="chat-tui") as chat:
                    opened.append(chat)
                    ready.set()
                    await trio.sleep_forever()
            except OSError as exc:
                if opened:
                    raise
                failed.append(exc)
            finally:
                ready.set()
        self._session.append(self.run_worker(self.trio.call(hold), group="trio"))
        await ready.wait()
        if failed:
            raise failed[0]
        self.chat = opened[0]
        return self.chat

    async def _close_chat(self) -> None:
        """Stop the Chat (its connection and cache) and empty the screen."""
        for worker in self._session:
            worker.cancel()
        self._session.clear()
        self.chat = None
        self._reset()
        await self.query_one("#rooms", ListView).clear()
        await self.query_one("#messages", Conversation).remove_children()
        await self.query("#invite, #locked, #verification").remove()  # they were about the session that ended
        for name in ("title", "typing"):
            self.query_one(f"#{name}", Static).update("")
        self._set_mode(None)

    async def _events(self) -> None:
        assert self.chat is not None
        chat = self.chat
        while True:
            event = await self.trio.call(chat.next_event)
            if isinstance(event, SessionEnded):
                self.run_worker(self._guarded(self._session_ended(event)), group="session")
                return
            try:
                await self._handle_event(event)
            except REQUEST_ERRORS as exc:  # a lookup it needed failed: the event is still in the cache
                self.notify(error_text(exc), severity="error")

    async def _session_ended(self, event: SessionEnded) -> None:
        username = self.chat.username if self.chat else None
        while len(self.screen_stack) > 1:  # a question about the old session (a delete) goes with it
            await self.pop_screen()
        await self._close_chat()
        self.sub_title = "signed out"
        self.push_screen(LoginScreen(notice=ended_text(event), username=username or ""))

    # ------------------------------------------------------------------ rooms

    async def _show_rooms(self, rooms: list[f.RoomSummary]) -> None:
        chat = self.chat
        assert chat is not None
        async with self._rooms_lock:  # a command and a push may both rebuild the list: one at a time
            self.rooms = {r.room: r for r in rooms}
            for profile in (await self.trio.call(chat.cached_profiles)).values():
                self.names[profile.user] = profile.username
            unknown = [r.peer for r in rooms if r.peer and r.peer not in self.names]
            for user in unknown if chat.connected else []:
                self.names[user] = (await self.trio.call(chat.profile, user)).username
            view = self.query_one("#rooms", ListView)
            await view.clear()
            await view.extend([ListItem(Static(self._room_text(r)), id=f"room-{r.room}") for r in rooms])
            self._mark_open_room()
        if chat.connected:
            self._ask_presence()

    def _ask_presence(self) -> None:
        self.run_worker(self._guarded(self._refresh_presence()), group="presence", exclusive=True)

    def _mark_open_room(self) -> None:
        """Highlight the open room in the list, however it was opened (a click, /open, /dm, /group)."""
        view = self.query_one("#rooms", ListView)
        order = [item.id for item in view.children]
        if f"room-{self.room}" in order:
            view.index = order.index(f"room-{self.room}")

    def _room_text(self, r: f.RoomSummary) -> Text:
        return room_line(r, self.names, self.online.get(r.peer) if r.peer else None)

    def _redraw_room(self, room: int) -> None:
        if room in self.rooms:
            for item in self.query(f"#room-{room}"):
                for line in item.query(Static):  # none while the list is being rebuilt (_show_rooms)
                    line.update(self._room_text(self.rooms[room]))

    async def _refresh_presence(self) -> None:
        peers = sorted({r.peer for r in self.rooms.values() if r.peer})
        if self.chat is None or not peers:
            return
        try:
            found = await self.trio.call(self.chat.presence, peers)
        except REQUEST_ERRORS:
            return  # unknown for now; presence_changed pushes and the next reconnect bring it
        for info in found:
            if info.online is None:  # not ours to see
                self.online.pop(info.user, None)
            else:
                self.online[info.user] = info.online
        self._presence_changed()

    def _presence_changed(self) -> None:
        for room in self.rooms:
            self._redraw_room(room)
        if self.info is not None:
            self.query_one("#title", Static).update(self._title(self.info))

    async def on_list_view_selected(self, event: ListView.Selected) -> None:
        if event.item.id and event.item.id.startswith("room-"):
            try:
                await self.open_room(int(event.item.id.removeprefix("room-")))
            except REQUEST_ERRORS as exc:
                self.notify(error_text(exc), severity="error")

    async def open_room(self, room: int) -> None:
        assert self.chat is not None
        self.room, self.shown, self.quotes, self.info = room, {}, {}, None
        if self.editing is not None:  # an edit belongs to its room
            self.query_one("#compose", Input).value = ""
        self._set_mode(None)
        self._mark_open_room()
        conversation = self.query_one("#messages", Conversation)
        conversation.select(None)
        async with self._messages_lock:
            await conversation.remove_children()
        await self._show_messages(await self.trio.call(self.chat.cached_history, room, None, PAGE))
        info = await self.trio.call(self.chat.get_room, room)
        self.names.update({m.user: m.username for m in info.members})
        self.members = [m.user for m in info.members if m.user != self.chat.user_id]
        self.info = info
        self.query_one("#title", Static).update(self._title(info))
        self._show_typing()
        self.receipts = await self.trio.call(self.chat.receipts, room)
        await self._show_messages(await self.trio.call(self.chat.history, room, None, PAGE))
        self.query_one("#compose", Input).focus()
        await self._mark_read()

    def _title(self, info: f.RoomInfo) -> Text:
        peer_online = self.online.get(self.members[0]) if info.kind == "direct" and self.members else None
        return title_line(info, self.names, self._me(), peer_online)

    def _room_named(self, name: str) -> int:
        """The room whose title is `name` (any case), or else the one whose title starts with it."""
        titles = {room: room_title(r, self.names) for room, r in self.rooms.items()}
        for matches in ([r for r, t in titles.items() if t.casefold() == name.casefold()],
                        [r for r, t in titles.items() if t.casefold().startswith(name.casefold())]):
            if len(matches) == 1:
                return matches[0]
            if matches:
                raise CommandError(f"several rooms are called {name}: " + ", ".join(titles[r] for r in matches))
        raise CommandError(f"no room called {name}")

    # ------------------------------------------------------------------ messages

    async def _show_messages(self, messages: list[f.Message]) -> None:
        async with self._messages_lock:
            await self._mount_messages(messages)

    async def _mount_messages(self, messages: list[f.Message]) -> None:
        messages = [m for m in messages if m.room == self.room]  # the room may have changed meanwhile
        box = self.query_one("#messages", Conversation)
        mounted = {int(w.id.removeprefix("msg-")) for w in box.children if w.id}
        for m in messages:
            self.shown[m.seq] = m
        await self._find_quotes(messages)
        await self._decrypt([*messages, *(self.quotes[m.reply_to] for m in messages if m.reply_to in self.quotes)])
        for m in messages:
            if not is_shown(m):
                continue
            if m.seq in mounted:
                self._redraw(m.seq)
                continue
            classes = [SELECTABLE] if m.kind != "system" else []
            classes += ["mine"] if m.sender == self._me() else []
            line = Static(self._line(m), id=f"msg-{m.seq}", classes=" ".join(classes))
            later = [seq for seq in mounted if seq > m.seq]
            if later:
                await box.mount(line, before=f"#msg-{min(later)}")
            else:
                await box.mount(line)
            mounted.add(m.seq)
        batch = {m.seq for m in messages}
        for seq, m in self.shown.items():  # replies whose quoted message just came into view
            if m.reply_to in batch and seq not in batch:
                self._redraw(seq)
        if box.selected is None:
            box.scroll_end(animate=False)

    def _me(self) -> int | None:
        return self.chat.user_id if self.chat else None

    def _line(self, m: f.Message) -> Text:
        quoted = (self.shown.get(m.reply_to) or self.quotes.get(m.reply_to)) if m.reply_to else None
        locked = LOCKED if self.chat is None or self.chat.encryption is None \
            else UNDECRYPTABLE if (m.room, m.seq) in self.undecryptable else WAITING
        return message_line(self._readable(m), self._me(), self.names, tick(m.seq, self.members, self.receipts),
                            self._readable(quoted) if quoted else None, locked)

    def _readable(self, m: f.Message) -> f.Message:
        """`m` with its decrypted text in place when it is an encrypted message this device has read."""
        return readable(m, self.plain.get((m.room, m.seq)))

    async def _find_quotes(self, messages: list[f.Message]) -> None:
        """The messages these answer that are not on screen, from the cache when it has them."""
        assert self.chat is not None
        for m in messages:
            if m.reply_to and m.reply_to not in self.shown and m.reply_to not in self.quotes:
                found = await self.trio.call(self.chat.cached_history, m.room, m.reply_to + 1, 1)
                if found and found[0].seq == m.reply_to:
                    self.quotes[m.reply_to] = found[0]

    def _redraw(self, seq: int) -> None:
        for widget in self.query(f"#msg-{seq}"):
            if isinstance(widget, Static):
                widget.update(self._line(self.shown[seq]))

    async def _mark_read(self) -> None:
        if self.chat is not None and self.room is not None and self.shown:
            await self.trio.call(self.chat.read, self.room, max(self.shown))

    async def action_older(self) -> None:
        if self.chat is None or self.room is None or not self.shown:
            return
        try:
            older = await self.trio.call(self.chat.history, self.room, min(self.shown), PAGE)
        except REQUEST_ERRORS as exc:
            self.notify(error_text(exc), severity="error")
            return
        await self._show_messages(older)
        self.query_one("#messages", Conversation).scroll_home(animate=False)

    # ------------------------------------------------------------------ the selected message

    def _selected(self) -> f.Message | None:
        seq = self.query_one("#messages", Conversation).selected
        return self._readable(self.shown[seq]) if seq is not None and seq in self.shown else None

    def _target(self, *, mine: bool) -> f.Message:
        """The selected message, or else the newest one (mine: my newest) that is not deleted."""
        selected = self._selected()
        if selected is not None:
            return selected
        found = [m for m in self.shown.values() if m.kind != "system" and not m.deleted
                 and (m.sender == self._me() or not mine)]
        if not found:
            raise CommandError("select a message first (Up)")
        return self._readable(max(found, key=lambda m: m.seq))

    def action_select_newest(self) -> None:
        if self.focused is self.query_one("#compose", Input):
            self.query_one("#messages", Conversation).select_newest()

    def action_back_to_input(self) -> None:
        if self.editing is not None:
            self.query_one("#compose", Input).value = self._draft
        self._set_mode(None)
        self.query_one("#messages", Conversation).select(None)
        self.query_one("#compose", Input).focus()

    def _set_mode(self, mode: Text | None, *, editing: int | None = None, replying: int | None = None) -> None:
        """What Enter in the input line does: send (no mode), save an edit, or send a reply."""
        self.editing, self.replying = editing, replying
        line = self.query_one("#editing", Static)
        line.update(mode or "")
        line.display = mode is not None
        if mode is not None:  # the mode line names the message now
            self.query_one("#messages", Conversation).select(None)

    def action_edit_selected(self) -> None:
        m = self._selected()
        if m is not None:
            self._start_editing(m)

    def _start_editing(self, m: f.Message) -> None:
        if m.sender != self._me():
            self.notify("you can only edit your own messages", severity="warning")
        elif self._encrypted(m.room):  # an edit would go to the server in clear
            self.notify("edits are not available in end-to-end encrypted rooms", severity="warning")
        elif m.deleted:
            self.notify("that message was deleted", severity="warning")
        else:
            if self.editing is None:
                self._draft = self.query_one("#compose", Input).value  # back in the input line after the edit
            self._set_mode(literal("editing: ", (preview(m), "italic"), "  · Enter saves · Esc cancels"),
                           editing=m.seq)
            self._focus_input(m.body or "")

    def action_reply_selected(self) -> None:
        m = self._selected()
        if m is not None:
            self._start_reply(m)

    def _start_reply(self, m: f.Message) -> None:
        if m.deleted:
            self.notify("that message was deleted", severity="warning")
            return
        was_editing = self.editing is not None
        self._set_mode(literal("replying to ", (quote_text(m, self._me(), self.names), "italic"),
                               "  · Enter sends · Esc cancels"), replying=m.seq)
        self._focus_input(self._draft if was_editing else None)  # a draft stays; an edit's text goes

    def action_react_selected(self) -> None:
        if self._selected() is not None:
            self._focus_input("/react ")

    def _focus_input(self, value: str | None) -> None:
        """Focus the input line, its text replaced by `value` unless None, the cursor at its end."""
        compose = self.query_one("#compose", Input)
        if value is not None:
            compose.value = value
        compose.focus()
        compose.cursor_position = len(compose.value)

    def action_delete_selected(self) -> None:
        m = self._selected()
        if m is not None:
            self._confirm_delete(m)

    def _confirm_delete(self, m: f.Message) -> None:
        if m.deleted:
            self.notify("that message is already deleted", severity="warning")
            return
        if m.sender != self._me() and self.info is not None and self.info.kind == "direct":
            self.notify("you can only delete your own messages", severity="warning")
            return  # in a group the owner and admins may: the server says whether you are one
        room = m.room

        async def answered(yes: bool | None) -> None:
            if yes and self.chat is not None:
                try:
                    await self.trio.call(self.chat.delete, room, m.seq)
                except REQUEST_ERRORS as exc:
                    self.notify(error_text(exc), severity="error")
        self.push_screen(Confirm("Delete this message for everyone?", preview(m), "Delete"), answered)

    # ------------------------------------------------------------------ the input line

    async def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id != "compose" or self.chat is None or self.room is None:
            return
        typing = bool(event.value) and not event.value.startswith("/") and self.editing is None
        now = time.monotonic()
        if typing and now - self._typing_sent > TYPING_EVERY:
            self._typing_sent = now
            await self.trio.call(self.chat.typing, self.room, True)
        elif not typing and self._typing_sent:
            self._typing_sent = 0.0
            await self.trio.call(self.chat.typing, self.room, False)

    async def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id != "compose" or self.chat is None:
            return
        text = event.value.strip()
        event.input.value = ""
        if not text:
            return
        try:
            if text.startswith("/"):
                await self._command(parse(text))
            elif self.room is None:
                self.notify("open a room first (or /dm USER)", severity="warning")
            elif self.editing is not None:
                seq = self.editing
                self._set_mode(None)
                event.input.value = self._draft  # what was being typed before the edit
                await self.trio.call(self.chat.edit, self.room, seq, text)
            else:
                reply_to = self.replying
                self._set_mode(None)
                await self._send(text, reply_to)
        except CommandError as exc:
            # kept, to be put right; a recovery key is never put back on screen
            self._focus_input("/restore " if text.lstrip().startswith("/restore") else text)
            self.notify(str(exc), severity="warning", timeout=10)
        except REQUEST_ERRORS as exc:
            self.notify(error_text(exc), severity="error")

    async def _command(self, command: Command) -> None:
        assert self.chat is not None
        name, words = command.name, command.words
        if name == "dm":
            info = await self.trio.call(self.chat.open_direct, words[0], command.encrypted)
            await self._open_new(info.room)
            if command.encrypted and not info.encrypted:
                self.notify("this direct room existed already, not encrypted: /encrypt turns encryption on",
                            severity="warning", timeout=15)
        elif name == "group":
            info = await self.trio.call(self.chat.create_group, words[0], list(words[1:]), command.encrypted)
            await self._open_new(info.room)
        elif name == "open":
            await self.open_room(self._room_named(command.text))
        elif name == "join":
            await self.trio.call(self.chat.join, words[0])
            await self._show_rooms(await self.trio.call(self.chat.rooms))
        elif name == "older":
            await self.action_older()
        elif name == "approve":
            asking = await self.trio.call(self.chat.qr_login_request, command.text)
            self.push_screen(ApproveScreen(asking), lambda approve: self._answer_qr(asking.code, bool(approve)))
        elif name == "help":
            self.notify(HELP, title="Commands", timeout=30)
        elif name == "unlock":
            self._ask_password()
        elif name == "backup":
            self.push_screen(RecoveryKeyScreen(await self.trio.call(self._crypto_on().create_key_backup)))
        elif name == "restore":
            await self._restore(command.text)
        elif name == "devices":
            await self._list_devices(words[0])
        elif name == "verify" and command.text == "step":
            await self._verification_step(words[0])
        elif name == "verify":
            await self._start_verification(words[0], words[1] if len(words) > 1 else None)
        elif self.room is None:
            raise CommandError("open a room first")
        elif name == "encrypt":
            await self._encrypt_room(self.room)
        elif name == "invite":
            await self._show_invite(await self.trio.call(self.chat.create_invite, self.room))
        elif name == "file":
            if self._encrypted(self.room):  # the SDK encrypts the file before the upload: it needs the keys
                self._crypto_on()
            await self.trio.call(self.chat.send_file, self.room, user_path(words[0]), command.text)
            await self._show_messages(await self.trio.call(self.chat.cached_history, self.room, None, 1))
        elif name == "edit":
            target = self._target(mine=True)
            if target.sender != self._me() or target.deleted or self._encrypted(self.room):
                self._start_editing(target)  # says why not
            else:
                await self.trio.call(self.chat.edit, self.room, target.seq, command.text)
        elif name == "delete":
            self._confirm_delete(self._target(mine=True))
        elif name == "reply":
            await self._send(command.text, self._target(mine=False).seq)
        elif name in ("react", "unreact"):
            act = self.chat.react if name == "react" else self.chat.unreact
            await self.trio.call(act, self.room, self._target(mine=False).seq, words[0])
            self.query_one("#messages", Conversation).select(None)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "unlock":  # the locked banner's
            self._ask_password()

    async def _answer_qr(self, code: str, approve: bool) -> None:
        assert self.chat is not None
        try:
            await self.trio.call(self.chat.answer_qr_login, code, approve)
        except REQUEST_ERRORS as exc:
            self.notify(error_text(exc), severity="error")
            return
        self.notify("approved: that device is signed in as you now" if approve else "declined")

    async def _send(self, text: str, reply_to: int | None) -> None:
        assert self.chat is not None and self.room is not None
        room = self.room
        self._typing_sent = 0.0
        if self._encrypted(room):
            await self._await_unlocking()  # signed in a moment ago: encryption is being turned on
            self._crypto_on()
        try:
            sent = await self.trio.call(functools.partial(self.chat.send, room, text, reply_to=reply_to))
        except RuntimeError as exc:  # the SDK found the room encrypted only now, and encryption is locked
            raise CommandError(f"{exc}: /unlock with your password first") from None
        if self._encrypted(room):  # the cache keeps the ciphertext: what I typed is what I sent
            self.plain[(room, sent.seq)] = {"kind": "text", "body": text}
        await self._show_messages(await self.trio.call(self.chat.cached_history, room, None, 1))

    async def _open_new(self, room: int) -> None:
        assert self.chat is not None
        await self._show_rooms(await self.trio.call(self.chat.rooms))
        await self.open_room(room)

    async def _show_invite(self, link: str) -> None:
        await self.query("#invite").remove()
        name = room_title(self.info, self.names, self._me()) if self.info else "this room"
        await self.query_one("#pane", Vertical).mount(InviteBar(link, name), before="#typing")

    # ------------------------------------------------------------------ pushes

    async def _handle_event(self, event: Event) -> None:
        if isinstance(event, NewMessage):
            if event.decrypted is not None:
                self.plain[(event.message.room, event.message.seq)] = event.decrypted.content
            await self._handle_message(event.message)
        elif isinstance(event, MessageDecrypted):  # its key came late: the line shows the text now
            self._read_key(event.message, event.decrypted.content)
        elif isinstance(event, UnableToDecrypt):
            self.undecryptable.add((event.message.room, event.message.seq))
            self._redraw_with_replies(event.message.room, event.message.seq)
        elif isinstance(event, VerificationChanged):
            await self._verification_changed(event.flow)
        elif isinstance(event, IdentityChanged):
            self._identity_changed(event)
        elif isinstance(event, f.Status) and event.room == self.room:
            self.receipts[event.user] = (max(event.delivered_seq, self.receipts.get(event.user, (0, 0))[0]),
                                         max(event.read_seq or 0, self.receipts.get(event.user, (0, 0))[1]))
            for seq, m in self.shown.items():
                if m.sender == self._me():
                    self._redraw(seq)
        elif isinstance(event, f.Counts) and event.room in self.rooms:
            self.rooms[event.room] = structs.replace(self.rooms[event.room], unread=event.unread,
                                                    mentions=event.mentions)
            self._redraw_room(event.room)
        elif isinstance(event, f.TypingChanged):
            people = self.typing_in.setdefault(event.room, set())
            (people.add if event.active else people.discard)(event.user)
            self._show_typing()
        elif isinstance(event, p.PresenceChanged):
            self.online[event.user] = event.online
            self._presence_changed()
        elif isinstance(event, ConnectionChanged) and self.chat is not None:
            self.sub_title = f"{self.chat.username} · {'connected' if event.connected else 'reconnecting…'}"
            if event.connected:  # what changed while we were away (docs/protocol.md 7.4)
                self._ask_presence()
            else:  # unknown until then: no dot, no "online" in the title
                self.online.clear()
                self._presence_changed()

    async def _handle_message(self, m: f.Message) -> None:
        assert self.chat is not None
        if m.room not in self.rooms:
            await self._show_rooms(await self.trio.call(self.chat.rooms))
        if (m.event or {}).get("encrypted") and m.room in self.rooms:  # encryption turned on: the lock marks
            self.rooms[m.room] = structs.replace(self.rooms[m.room], encrypted=True)
            self._redraw_room(m.room)
            if self.info is not None and self.info.room == m.room:
                self.info = structs.replace(self.info, encrypted=True)
                self.query_one("#title", Static).update(self._title(self.info))
        if m.room != self.room:
            return
        self.typing_in.get(m.room, set()).discard(m.sender or 0)
        self._show_typing()
        target = (m.event or {}).get("target")
        if isinstance(target, int) and target in self.shown:  # an edit or delete: the cache has applied it
            [fresh] = await self.trio.call(self.chat.cached_history, m.room, target + 1, 1) or [self.shown[target]]
            self.shown[target] = fresh
            for seq, shown in self.shown.items():  # it, and the replies quoting it
                if seq == target or shown.reply_to == target:
                    self._redraw(seq)
        await self._show_messages([m])
        await self._mark_read()

    def _show_typing(self) -> None:
        who = [self.names.get(u, f"user {u}") for u in self.typing_in.get(self.room or 0, set())]
        self.query_one("#typing", Static).update(typing_line(who))


def user_path(arg: str) -> Path:
    return Path(arg).expanduser()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="chat", description="Terminal client for chatd")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--url", default="ws://127.0.0.1:8765/", help="websocket URL of the server")
    parser.add_argument("--http-url", default="http://127.0.0.1:8766/", help="HTTP side (media uploads)")
    parser.add_argument("--cache-dir", type=Path, default=None,
                        help="where the per-account cache files live (default ~/.local/share/chatd-client/HOST_PORT)")
    args = parser.parse_args(argv)
    ChatApp(args.url, args.http_url, args.cache_dir).run()


if __name__ == "__main__":
    main()
