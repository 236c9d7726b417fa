"""`chat`: the terminal client. Rooms on the left (unread and mention badges, online dots), the open
conversation on the right with ticks on your messages, typing indicator and an input line.

Commands in the input line: /dm USER, /group NAME USER..., /invite, /join LINK, /file PATH [caption],
/older (scroll back), /approve CODE (sign in another device by its QR login code), /help. Ctrl+O also loads
older messages.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import time
from pathlib import Path
from urllib.parse import urlsplit

import trio
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Footer, Header, Input, ListItem, ListView, Static

from clients.literal import LiteralApp
from clients.sdk import Chat, ChatError, ConnectionChanged, Event, NewMessage, SessionEnded
from clients.sdk.private import private_dir
from clients.sdk.receipts import tick
from clients.tui.bridge import TrioGuest
from clients.tui.login import Credentials, LoginScreen, QrWanted
from clients.tui.qr_login import ApproveScreen, QrLoginScreen
from clients.tui.render import message_line, room_line, title_line, typing_line
from protocol import frames as f
from protocol import people as p

PAGE = 50
TYPING_EVERY = 3.0  # seconds between repeated `typing: true`
HELP = "/dm USER · /group NAME USER... · /invite · /join LINK · /file PATH [caption] · /older · /approve CODE"


def default_cache_dir(url: str) -> Path:
    where = urlsplit(url)
    return Path.home() / ".local" / "share" / "chatd-client" / f"{where.hostname}_{where.port or 80}"


class ChatApp(LiteralApp):
    TITLE = "chatd"
    CSS = """
    #rooms { width: 32; border-right: solid $accent; }
    #messages { height: 1fr; }
    #typing { height: 1; color: $text-muted; }
    .mine { color: $success; }
    """
    BINDINGS = [Binding("ctrl+o", "older", "Older messages"), Binding("ctrl+q", "quit", "Quit")]

    def __init__(self, url: str, http_url: str, cache_dir: Path | None = None) -> None:
        super().__init__()
        self.url, self.http_url = url, http_url
        self.cache_dir = cache_dir or default_cache_dir(url)
        self.own_cache_dir = cache_dir is None
        self.trio = TrioGuest()
        self.chat: Chat | None = None
        self.room: int | None = None
        self.rooms: dict[int, f.RoomSummary] = {}
        self.names: dict[int, str] = {}
        self.online: dict[int, bool] = {}
        self.typing_in: dict[int, set[int]] = {}
        self.members: list[int] = []
        self.shown: dict[int, f.Message] = {}
        self.receipts: dict[int, tuple[int, int]] = {}
        self._typing_sent = 0.0

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal():
            yield ListView(id="rooms")
            with Vertical():
                yield Static("", id="title")
                yield VerticalScroll(id="messages")
                yield Static("", id="typing")
                yield Input(placeholder="message, or /help", id="compose")
        yield Footer()

    def on_mount(self) -> None:
        self.trio.start()
        self.push_screen(LoginScreen(), self._signed_in)

    async def on_unmount(self) -> None:
        await self.trio.stop()

    # ------------------------------------------------------------------ session

    async def _signed_in(self, credentials: Credentials | QrWanted | None) -> None:
        if isinstance(credentials, QrWanted):
            self.push_screen(QrLoginScreen(self.http_url, self.trio.call), self._qr_approved)
        elif credentials is not None:
            self.run_worker(self._start(credentials), exclusive=True, group="session")

    async def _qr_approved(self, auth: f.AuthOk | None) -> None:
        if auth is None:
            self.push_screen(LoginScreen(), self._signed_in)
        else:
            self.run_worker(self._start(Credentials(auth.username, "", None), auth), exclusive=True, group="session")

    async def _start(self, c: Credentials, auth: f.AuthOk | None = None) -> None:
        """Sign in with the credentials, or with the tokens a QR login brought (`auth`)."""
        path = self.cache_dir / f"{c.username.lower()}.sqlite3"
        private_dir(self.cache_dir, tighten=self.own_cache_dir)  # the SDK keeps the refresh token in there
        opened: list[Chat] = []
        ready = asyncio.Event()  # set from trio: both run on this thread

        async def hold() -> None:  # the Chat lives in trio as long as the app
            async with Chat.open(self.url, path, http_url=self.http_url, device="chat-tui") as chat:
                opened.append(chat)
                ready.set()
                await trio.sleep_forever()
        self.run_worker(self.trio.call(hold), group="trio")
        await ready.wait()
        chat = self.chat = opened[0]
        await self._show_rooms(await self.trio.call(chat.cached_rooms))  # the cache first, instantly
        try:
            if auth is not None:
                await self.trio.call(chat.sign_in_with, auth)
            elif c.email:
                await self.trio.call(chat.signup, c.username, c.email, c.password)
            else:
                await self.trio.call(chat.login, c.username, c.password)
        except (ChatError, OSError) as exc:
            self.notify(str(exc), severity="error")
            self.push_screen(LoginScreen(), self._signed_in)
            return
        self.sub_title = f"{chat.username} · online"
        self.run_worker(self._events(), group="events")
        await self._show_rooms(await self.trio.call(chat.rooms))
        await self._refresh_presence()

    async def _events(self) -> None:
        assert self.chat is not None
        while True:
            await self._handle_event(await self.trio.call(self.chat.next_event))

    # ------------------------------------------------------------------ rooms

    async def _show_rooms(self, rooms: list[f.RoomSummary]) -> None:
        assert self.chat is not None
        self.rooms = {r.room: r for r in rooms}
        for profile in (await self.trio.call(self.chat.cached_profiles)).values():
            self.names[profile.user] = profile.username
        unknown = [r.peer for r in rooms if r.peer and r.peer not in self.names]
        for user in unknown if self.chat.connected else []:
            self.names[user] = (await self.trio.call(self.chat.profile, user)).username
        view = self.query_one("#rooms", ListView)
        await view.clear()
        for r in rooms:
            await view.append(ListItem(Static(self._room_text(r)), id=f"room-{r.room}"))

    def _room_text(self, r: f.RoomSummary) -> Text:
        return room_line(r, self.names, self.online.get(r.peer) if r.peer else None)

    def _redraw_room(self, room: int) -> None:
        if room in self.rooms:
            for item in self.query(f"#room-{room}"):
                for line in item.query(Static):  # none while the list is being rebuilt (_show_rooms)
                    line.update(self._room_text(self.rooms[room]))

    async def _refresh_presence(self) -> None:
        assert self.chat is not None
        peers = sorted({r.peer for r in self.rooms.values() if r.peer})
        if peers:
            for info in await self.trio.call(self.chat.presence, peers):
                self.online[info.user] = bool(info.online)
        for room in self.rooms:
            self._redraw_room(room)

    async def on_list_view_selected(self, event: ListView.Selected) -> None:
        if event.item.id and event.item.id.startswith("room-"):
            await self.open_room(int(event.item.id.removeprefix("room-")))

    async def open_room(self, room: int) -> None:
        assert self.chat is not None
        self.room, self.shown = room, {}
        await self.query_one("#messages", VerticalScroll).remove_children()
        await self._show_messages(await self.trio.call(self.chat.cached_history, room, None, PAGE))
        info = await self.trio.call(self.chat.get_room, room)
        self.names.update({m.user: m.username for m in info.members})
        self.members = [m.user for m in info.members if m.user != self.chat.user_id]
        self.query_one("#title", Static).update(self._title(info))
        self.receipts = await self.trio.call(self.chat.receipts, room)
        await self._show_messages(await self.trio.call(self.chat.history, room, None, PAGE))
        self.query_one("#compose", Input).focus()
        await self._mark_read()

    def _title(self, info: f.RoomInfo) -> Text:
        peer_online = bool(self.online.get(self.members[0])) if info.kind == "direct" and self.members else None
        return title_line(info, self.names, self._me(), peer_online)

    # ------------------------------------------------------------------ messages

    async def _show_messages(self, messages: list[f.Message]) -> None:
        box = self.query_one("#messages", VerticalScroll)
        for m in messages:
            if m.seq in self.shown:
                self.shown[m.seq] = m
                self._redraw(m.seq)
                continue
            self.shown[m.seq] = m
            line = Static(self._line(m), id=f"msg-{m.seq}", classes="mine" if m.sender == self._me() else "")
            later = [seq for seq in self.shown if seq > m.seq and self.query(f"#msg-{seq}")]
            if later:
                await box.mount(line, before=f"#msg-{min(later)}")
            else:
                await box.mount(line)
        box.scroll_end(animate=False)

    def _me(self) -> int | None:
        return self.chat.user_id if self.chat else None

    def _line(self, m: f.Message) -> Text:
        return message_line(m, self._me(), self.names, tick(m.seq, self.members, self.receipts))

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
        older = await self.trio.call(self.chat.history, self.room, min(self.shown), PAGE)
        await self._show_messages(older)
        self.query_one("#messages", VerticalScroll).scroll_home(animate=False)

    async def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id != "compose" or self.chat is None or self.room is None:
            return
        typing = bool(event.value) and not event.value.startswith("/")
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
                await self._command(text)
            elif self.room is None:
                self.notify("open a room first (or /dm USER)", severity="warning")
            else:
                self._typing_sent = 0.0
                await self.trio.call(self.chat.send, self.room, text)
                await self._show_messages(await self.trio.call(self.chat.cached_history, self.room, None, 1))
        except (ChatError, OSError) as exc:
            self.notify(str(exc), severity="error")

    async def _command(self, text: str) -> None:
        assert self.chat is not None
        command, *args = text.split()
        if command == "/dm" and len(args) == 1:
            await self._open_new((await self.trio.call(self.chat.open_direct, args[0])).room)
        elif command == "/group" and args:
            await self._open_new((await self.trio.call(self.chat.create_group, args[0], args[1:])).room)
        elif command == "/join" and len(args) == 1:
            await self.trio.call(self.chat.join, args[0])
            await self._show_rooms(await self.trio.call(self.chat.rooms))
        elif command == "/invite" and self.room is not None:
            link = await self.trio.call(self.chat.create_invite, self.room)
            self.notify(f"invite link: {link}", timeout=30)
        elif command == "/file" and args and self.room is not None:
            caption = text.split(maxsplit=2)[2] if len(args) > 1 else ""
            await self.trio.call(self.chat.send_file, self.room, user_path(args[0]), caption)
            await self._show_messages(await self.trio.call(self.chat.cached_history, self.room, None, 1))
        elif command == "/older":
            await self.action_older()
        elif command == "/approve" and args:
            asking = await self.trio.call(self.chat.qr_login_request, " ".join(args))
            self.push_screen(ApproveScreen(asking), lambda approve: self._answer_qr(asking.code, bool(approve)))
        else:
            self.notify(HELP, timeout=10)

    async def _answer_qr(self, code: str, approve: bool) -> None:
        assert self.chat is not None
        try:
            await self.trio.call(self.chat.answer_qr_login, code, approve)
        except (ChatError, OSError) as exc:
            self.notify(str(exc), severity="error")
            return
        self.notify("approved: that device is signed in as you now" if approve else "declined")

    async def _open_new(self, room: int) -> None:
        assert self.chat is not None
        await self._show_rooms(await self.trio.call(self.chat.rooms))
        await self.open_room(room)

    # ------------------------------------------------------------------ pushes

    async def _handle_event(self, event: Event) -> None:
        if isinstance(event, NewMessage):
            await self._handle_message(event.message)
        elif isinstance(event, f.Status) and event.room == self.room:
            self.receipts[event.user] = (max(event.delivered_seq, self.receipts.get(event.user, (0, 0))[0]),
                                         max(event.read_seq or 0, self.receipts.get(event.user, (0, 0))[1]))
            for seq, m in self.shown.items():
                if m.sender == self._me():
                    self._redraw(seq)
        elif isinstance(event, f.Counts) and event.room in self.rooms:
            self.rooms[event.room] = dataclasses.replace(self.rooms[event.room], unread=event.unread,
                                                          mentions=event.mentions)
            self._redraw_room(event.room)
        elif isinstance(event, f.TypingChanged):
            people = self.typing_in.setdefault(event.room, set())
            (people.add if event.active else people.discard)(event.user)
            self._show_typing()
        elif isinstance(event, p.PresenceChanged):
            self.online[event.user] = event.online
            for room in self.rooms:
                self._redraw_room(room)
        elif isinstance(event, ConnectionChanged) and self.chat is not None:
            self.sub_title = f"{self.chat.username} · {'online' if event.connected else 'reconnecting…'}"
        elif isinstance(event, SessionEnded):
            self.notify(f"signed out: {event.reason}", severity="error")

    async def _handle_message(self, m: f.Message) -> None:
        assert self.chat is not None
        if m.room not in self.rooms:
            await self._show_rooms(await self.trio.call(self.chat.rooms))
        if m.room != self.room:
            return
        self.typing_in.get(m.room, set()).discard(m.sender or 0)
        self._show_typing()
        target = (m.event or {}).get("target")
        if isinstance(target, int) and target in self.shown:
            [fresh] = await self.trio.call(self.chat.cached_history, m.room, target + 1, 1) or [self.shown[target]]
            self.shown[target] = fresh
            self._redraw(target)
        await self._show_messages([m])
        await self._mark_read()

    def _show_typing(self) -> None:
        who = [self.names.get(u, f"user {u}") for u in self.typing_in.get(self.room or 0, set())]
        self.query_one("#typing", Static).update(typing_line(who))


def user_path(arg: str) -> Path:
    return Path(arg).expanduser()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="chat", description="Terminal client for chatd")
    parser.add_argument("--url", default="ws://127.0.0.1:8765/", help="websocket URL of the server")
    parser.add_argument("--http-url", default="http://127.0.0.1:8766/", help="HTTP side (media uploads)")
    parser.add_argument("--cache-dir", type=Path, default=None,
                        help="where the per-account cache files live (default ~/.local/share/chatd-client/HOST_PORT)")
    args = parser.parse_args(argv)
    ChatApp(args.url, args.http_url, args.cache_dir).run()


if __name__ == "__main__":
    main()
