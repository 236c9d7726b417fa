"""The terminal client (clients/tui) driven headless by Textual's pilot against a real server.

The server runs with trio in a thread of its own; the app runs in asyncio on this thread with its SDK
in trio guest mode, as it does in a terminal. Bob is a plain protocol client in the server's thread.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
import trio
from textual.pilot import Pilot
from textual.widgets import Input, Static

from chatd.node import Node
from clients.tui.app import ChatApp
from clients.ws import ChatClient
from protocol import frames as f
from tests.conftest import PASSWORD, Backing, make_config

T = TypeVar("T")


class ServerThread:
    def __init__(self, backing: Backing, data: Path) -> None:
        self.config = make_config(backing, data)
        self.node: Node | None = None
        self.token: trio.lowlevel.TrioToken | None = None
        self._started = threading.Event()
        self._stop: trio.CancelScope | None = None
        self.thread = threading.Thread(target=trio.run, args=(self._main,), daemon=True)

    async def _main(self) -> None:
        async with trio.open_nursery() as nursery:
            self._stop = nursery.cancel_scope
            self.node = await nursery.start(Node(self.config).run)
            self.token = trio.lowlevel.current_trio_token()
            self._started.set()

    def run(self, fn: Callable[..., Awaitable[T]], *args: Any) -> T:
        """Run a trio function in the server's thread, from a thread of our own so asyncio is not blocked."""
        return trio.from_thread.run(fn, *args, trio_token=self.token)

    def __enter__(self) -> ServerThread:
        self.thread.start()
        assert self._started.wait(30), "server did not start"
        return self

    def __exit__(self, *exc: object) -> None:
        assert self.token is not None and self._stop is not None
        self.token.run_sync_soon(self._stop.cancel)
        self.thread.join(20)


@pytest.fixture
def server(backing: Backing, tmp_path: Path) -> Iterator[ServerThread]:
    with ServerThread(backing, tmp_path / "server") as server:
        yield server


async def until(pilot: Pilot[None], check: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.05)


def text_of(app: ChatApp, selector: str) -> list[str]:
    return [str(widget.render()) for widget in app.query(selector) if isinstance(widget, Static)]


def test_log_in_open_a_room_send_and_see_the_reply_and_read_tick(server: ServerThread, tmp_path: Path) -> None:
    assert server.node is not None
    url, http_url = server.node.url, server.node.http_url
    ann, bob = f"ann_{uuid.uuid4().hex[:6]}", f"bob_{uuid.uuid4().hex[:6]}"
    bob_side: dict[str, Any] = {}
    bob_connected = threading.Event()
    bob_done = threading.Event()

    async def bob_session() -> None:  # in the server's thread: signs up, says hello, replies to ann
        async with ChatClient.connect(url) as c:
            await c.call(f.Signup, username=ann, email=f"{ann}@example.com", password=PASSWORD)
        async with ChatClient.connect(url) as c:
            auth = await c.call(f.Signup, username=bob, email=f"{bob}@example.com", password=PASSWORD)
            await c.hello(auth.access_token)
            room = (await c.call(f.OpenDirect, user=ann)).room.room
            await c.ack_frame(await c.next_of(f.Msgs))
            await c.send_text(room, "hello ann")
            bob_side["room"] = room
            bob_connected.set()
            [got] = await c.collect(room, 1, timeout=20)  # ann's message, acked: a delivered tick
            await c.send_frame(f.Read(room=room, seq=got.seq))  # and read
            await c.send_text(room, f"got '{got.body}'")
            await trio.to_thread.run_sync(bob_done.wait, abandon_on_cancel=True)

    async def drive() -> None:
        loop = asyncio.get_running_loop()
        bob_task = loop.run_in_executor(None, server.run, bob_session)
        await loop.run_in_executor(None, bob_connected.wait, 20)
        room = bob_side["room"]
        app = ChatApp(url, http_url, tmp_path / "client")
        try:
            await run_app(app, room)
        finally:
            bob_done.set()
        await bob_task

    async def run_app(app: ChatApp, room: int) -> None:
        async with app.run_test(size=(120, 40)) as pilot:
            app.screen.query_one("#username", Input).value = ann
            app.screen.query_one("#password", Input).value = PASSWORD
            await pilot.click("#login")
            await until(pilot, lambda: bool(app.query(f"#room-{room}")), "the room list")
            assert bob in text_of(app, f"#room-{room} Static")[0]
            assert "(1)" in text_of(app, f"#room-{room} Static")[0]  # bob's message is unread

            await pilot.click(f"#room-{room}")
            await until(pilot, lambda: any("bob_" in t and "hello ann" in t for t in text_of(app, "#messages Static")),
                        "bob's message in the conversation")
            await pilot.click("#compose")
            await pilot.press(*"hi bob", "enter")
            await until(pilot, lambda: any("me: hi bob" in t for t in text_of(app, "#messages Static")),
                        "my message")
            await until(pilot, lambda: any("got 'hi bob'" in t for t in text_of(app, "#messages Static")),
                        "bob's reply")
            await until(pilot, lambda: any(t.endswith("me: hi bob  ✓✓ read") for t in text_of(app, "#messages Static")),
                        "the read tick on my message")

    with asyncio.Runner(loop_factory=asyncio.SelectorEventLoop) as runner:  # a loop of its own, apart from the server's
        runner.run(asyncio.wait_for(drive(), 60))
