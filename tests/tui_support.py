"""Helpers of the terminal client tests: a real server in a thread of its own (trio), the app in asyncio on
the test's thread with its SDK in trio guest mode, as in a terminal; other people are plain protocol
clients living in the server's thread."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import trio
from textual.errors import NoWidget
from textual.pilot import Pilot
from textual.widgets import Input, Static

from chatd.clients.tui.app import ChatApp
from chatd.clients.tui.login import LoginScreen
from chatd.clients.ws import ChatClient
from chatd.node import Node
from chatd.protocol import frames as f
from tests.conftest import PASSWORD, Backing, make_config

T = TypeVar("T")


class ServerThread:
    def __init__(self, backing: Backing, data: Path) -> None:
        self.config = make_config(backing, data)
        self.node: Node | None = None
        self.token: trio.lowlevel.TrioToken | None = None
        self._started = threading.Event()
        self._stop: trio.CancelScope | None = None
        self.nursery: trio.Nursery | None = None  # where clients the test keeps open live
        self.thread = threading.Thread(target=trio.run, args=(self._main,), daemon=True)

    async def _main(self) -> None:
        async with trio.open_nursery() as nursery:
            self._stop = nursery.cancel_scope
            self.nursery = nursery
            self.node = await nursery.start(Node(self.config).run)
            self.token = trio.lowlevel.current_trio_token()
            self._started.set()

    @property
    def url(self) -> str:
        assert self.node is not None
        return self.node.url

    @property
    def http_url(self) -> str:
        assert self.node is not None
        return self.node.http_url

    def run(self, fn: Callable[..., Awaitable[T]], *args: Any) -> T:
        """Run a trio function in the server's thread, from a thread of our own so asyncio is not blocked."""
        return trio.from_thread.run(fn, *args, trio_token=self.token)

    async def call(self, fn: Callable[..., Awaitable[T]], *args: Any) -> T:
        """`run` from asyncio: the app's loop goes on meanwhile."""
        return await asyncio.get_running_loop().run_in_executor(None, self.run, fn, *args)

    def __enter__(self) -> ServerThread:
        self.thread.start()
        assert self._started.wait(30), "server did not start"
        return self

    def __exit__(self, *exc: object) -> None:
        assert self.token is not None and self._stop is not None
        self.token.run_sync_soon(self._stop.cancel)
        self.thread.join(20)


@dataclass
class Someone:
    """A person signed up over the protocol; `client` (when connected) lives in the server's thread."""

    username: str
    user_id: int
    auth: f.AuthOk
    client: ChatClient | None = None


def sign_up(server: ServerThread, name: str, *, connect: bool = False) -> Someone:
    async def go() -> Someone:
        assert server.nursery is not None
        client = await ChatClient.open_in(server.nursery, server.url)
        username = f"{name}_{uuid.uuid4().hex[:6]}"
        auth = await client.call(f.Signup, username=username, email=f"{username}@example.com", password=PASSWORD)
        if not connect:
            await client.disconnect()
            return Someone(username, auth.user_id, auth)
        await client.hello(auth.access_token)
        return Someone(username, auth.user_id, auth, client)
    return server.run(go)


async def until(pilot: Pilot[None], check: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            app = pilot.app
            seen = {name: text_of(app, name) for name in ("#title", "#rooms Static", "#messages Static", "#error")}  # type: ignore[arg-type]
            raise AssertionError(f"timed out waiting for {what}; the screen shows {seen}, "
                                 f"notifications {[n.message for n in app._notifications]}")
        await pilot.pause(0.05)


def text_of(app: ChatApp, selector: str) -> list[str]:
    """What the Statics matching `selector` on the current screen show, as plain text."""
    return [str(widget.render()) for widget in app.screen.query(selector) if isinstance(widget, Static)]


def lines(app: ChatApp) -> list[str]:
    """The conversation as the user sees it, one entry per line."""
    return text_of(app, "#messages Static")


async def log_in(app: ChatApp, pilot: Pilot[None], username: str, password: str = PASSWORD) -> None:
    """Fill the sign-in form (it opens in Log in mode), Enter, wait for the chat screen."""
    app.screen.query_one("#username", Input).value = username
    app.screen.query_one("#password", Input).value = password
    app.screen.query_one("#password", Input).focus()
    await pilot.press("enter")
    await until(pilot, lambda: not isinstance(app.screen, LoginScreen) and app.focused is app.query_one("#compose"),
                "the chat screen after logging in, its input line focused")


async def open_room(app: ChatApp, pilot: Pilot[None], title: str) -> None:
    """Open a room the way a user does without the mouse: `/open NAME` in the input line, once it is listed."""
    await until(pilot, lambda: any(title in t for t in text_of(app, "#rooms Static")), f"{title} in the room list")
    await type_line(pilot, f"/open {title}")
    await until(pilot, lambda: any(t.startswith(title) for t in text_of(app, "#title")),
                f"{title} open")


async def click(pilot: Pilot[None], selector: str) -> None:
    """Click a widget once the screen has laid it out where it shows (a click before that is lost)."""
    def there() -> bool:
        widget = pilot.app.screen.query_one(selector)
        try:
            return pilot.app.screen.get_widget_at(*widget.region.offset)[0] is widget
        except NoWidget:
            return False
    await until(pilot, there, f"{selector} on screen")
    await pilot.click(selector)


async def type_line(pilot: Pilot[None], text: str) -> None:
    await pilot.press(*text, "enter")


def drive(scenario: Callable[[], Coroutine[Any, Any, None]], timeout: float = 60) -> None:
    """Run an async scenario on an event loop of its own, apart from the server's thread."""
    with asyncio.Runner(loop_factory=asyncio.SelectorEventLoop) as runner:
        runner.run(asyncio.wait_for(scenario(), timeout))
