"""The terminal client (clients/tui) driven headless by Textual's pilot against a real server.

The server runs with trio in a thread of its own; the app runs in asyncio on this thread with its SDK
in trio guest mode, as it does in a terminal. Bob is a plain protocol client in the server's thread.
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from textual.pilot import Pilot
from textual.widgets import Input

from chatd.clients.literal import literal, visible
from chatd.clients.tui.app import ChatApp
from chatd.clients.tui.render import message_line, room_line, typing_line
from chatd.clients.ws import ChatClient
from chatd.protocol import frames as f
from tests.conftest import PASSWORD, Backing
from tests.tui_support import ServerThread, text_of, until


@pytest.fixture
def server(backing: Backing, tmp_path: Path) -> Iterator[ServerThread]:
    with ServerThread(backing, tmp_path / "server") as server:
        yield server


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
            await pilot.click("#submit")
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


# ---------------------------------------------------------------------------- user text is shown literally

MARKUP = ["[/]", "[bold]x[/bold]", "[@click=app.quit]q[/]", "[link=http://x]y[/link]", "\\[", "\\[/]", "[", "]",
          "[red", "a [/b] c", "[b]unclosed", "[on red]x", ":smile: [i]", "\x1b[31mred\x1b[0m \x07 \x9b2J"]
GROUP_NAME = "[/]team [@click=app.quit]q[/] [link=http://x]y[/link] \\["
FILE_NAME = "[bold]cat [@click=app.quit]q [link=x]y [on red]x].txt"  # no / or \\: the server keeps what follows
CAPTION = "[/]caption [link=http://x]y[/link]"
bodies = st.one_of(st.sampled_from(MARKUP),
                   st.text(alphabet=st.sampled_from("[]/\\@=:#.,' \"abcAZ019é中😀\t\n\x1b"), min_size=1, max_size=40),
                   st.lists(st.sampled_from([*MARKUP, "text", " ", "\n"]), min_size=1, max_size=6).map("".join))


def line_text(app: ChatApp, seq: int) -> str | None:
    found = text_of(app, f"#msg-{seq}")
    return found[0] if found else None


def test_bodies_names_and_file_names_are_shown_literally_and_the_cache_restarts(server: ServerThread,
                                                                                tmp_path: Path) -> None:
    """Markup, actions, links and terminal escapes in whatever another user controls appear as typed; the app
    stays up, and a restarted app showing them from its cache stays up too."""
    assert server.node is not None and server.nursery is not None
    url, http_url = server.node.url, server.node.http_url
    ann, bob = f"ann_{uuid.uuid4().hex[:6]}", f"bob_{uuid.uuid4().hex[:6]}"

    async def bob_sets_up() -> tuple[ChatClient, int, int]:  # in the server's thread
        async with ChatClient.connect(url) as c:
            await c.call(f.Signup, username=ann, email=f"{ann}@example.com", password=PASSWORD)
        assert server.nursery is not None
        client = await ChatClient.open_in(server.nursery, url)  # lives as long as the server
        auth = await client.call(f.Signup, username=bob, email=f"{bob}@example.com", password=PASSWORD)
        await client.hello(auth.access_token)
        room = (await client.call(f.CreateGroup, name=GROUP_NAME, members=[ann])).room.room
        async with httpx.AsyncClient(headers={"authorization": f"Bearer {auth.access_token}"}) as http:
            upload = (await http.post(f"{http_url.rstrip('/')}/api/media", params={"filename": FILE_NAME},
                                      content=b"meow")).raise_for_status().json()
        file_seq = (await client.call(f.Send, room=room, client_id=str(uuid.uuid4()), body=CAPTION, kind="file",
                                      media=f.MediaRef(id=upload["id"]))).seq
        return client, room, file_seq
    bob_client, room, file_seq = server.run(bob_sets_up)
    sent: dict[int, str] = {file_seq: f"{bob}: [file: {FILE_NAME}, 4 bytes] {CAPTION}"}  # seq -> the line's end

    async def sign_in(app: ChatApp, pilot: Pilot[None]) -> None:
        app.screen.query_one("#username", Input).value = ann
        app.screen.query_one("#password", Input).value = PASSWORD
        await pilot.click("#submit")
        await until(pilot, lambda: bool(app.query(f"#room-{room}")), "the room list")
        assert text_of(app, f"#room-{room} Static")[0].strip().startswith(GROUP_NAME)  # then the unread badge
        for attempt in range(10):  # a click that lands while the list is still laying out is lost: click again
            await pilot.click(f"#room-{room}")
            try:
                await until(pilot, lambda: text_of(app, "#title") == [GROUP_NAME], "the room's name as its title", 3)
                break
            except AssertionError:
                if attempt == 9:
                    raise

    async def shows(app: ChatApp, pilot: Pilot[None], seq: int, expected: str) -> None:
        await until(pilot, lambda: not app.is_running or line_text(app, seq) is not None, f"message {seq}")
        assert app.is_running, "the app exited"
        assert (line_text(app, seq) or "").endswith(expected), (line_text(app, seq), expected)

    async def first_run(app: ChatApp, pilot: Pilot[None]) -> None:
        await sign_in(app, pilot)
        await shows(app, pilot, file_seq, sent[file_seq])
        loop, app_context = asyncio.get_running_loop(), contextvars.copy_context()  # Textual's context vars

        @settings(max_examples=25, deadline=None, database=None,
                  suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
        @given(body=bodies)
        @example(body="[/]")
        @example(body="[bold]x[/bold]")
        @example(body="[@click=app.quit]q[/]")
        @example(body="[link=http://x]y[/link]")
        @example(body="\\[")
        @example(body="\x1b]0;owned\x07\x1b[2J")  # a terminal escape: retitle, clear the screen
        def body_is_shown_as_sent(body: str) -> None:  # on a worker thread: the app's loop stays free
            seq = server.run(bob_client.send_text, room, body).seq
            sent[seq] = f"{bob}: {visible(body)}"
            app_context.run(asyncio.run_coroutine_threadsafe, shows(app, pilot, seq, sent[seq]), loop).result(30)
        await loop.run_in_executor(None, body_is_shown_as_sent)
        assert len(sent) > 20, "hypothesis sent too few bodies"
        await pilot.click("#compose")  # and a name with markup in a command: the error is shown, nothing breaks
        await pilot.press(*"/dm [/]x[@click=app.quit]", "enter")
        await pilot.pause(0.5)
        assert app.is_running

    async def restarted(app: ChatApp, pilot: Pilot[None]) -> None:  # the same cache: its history shows first
        await sign_in(app, pilot)
        for seq in sorted(sent)[-40:]:
            await shows(app, pilot, seq, sent[seq])

    async def drive() -> None:
        for step in (first_run, restarted):
            app = ChatApp(url, http_url, tmp_path / "client")
            async with app.run_test(size=(120, 40)) as pilot:
                await step(app, pilot)
                assert app.is_running

    with asyncio.Runner(loop_factory=asyncio.SelectorEventLoop) as runner:
        runner.run(asyncio.wait_for(drive(), 240))


def test_lines_show_names_bodies_and_controls_as_they_are() -> None:
    """The pure part: names the server would refuse today (a cache or another server may still hold them),
    system events, media labels, and control characters shown as pictures rather than sent to the terminal."""
    names = {1: "[/]ann", 2: "[@click=app.quit]bob[/]"}
    system = f.Message(room=7, seq=1, ts=0, kind="system", sender=2, event={"type": "member_added", "by": 2, "user": 1})
    assert message_line(system, 1, names).plain == "--:--  * [@click=app.quit]bob[/] added [/]ann"
    odd = f.Message(room=7, seq=1, ts=0, kind="system", event={"type": "{0} {user.__class__}", "by": [1]})
    assert message_line(odd, 1, names).plain == "--:--  * ? {0} {user.__class__}"  # shown, not formatted
    text = f.Message(room=7, seq=2, ts=0, kind="text", sender=2, body="[b]hi\x1b[2J\x07\x9b\x7f\tok\nbye")
    assert message_line(text, 1, names).plain == "--:--  [@click=app.quit]bob[/]: [b]hi␛[2J␇\ufffd␡\tok\nbye"
    room = f.RoomSummary(room=7, kind="direct", name=None, peer=2, unread=3, mentions=1)
    assert room_line(room, names, True).plain == "● [@click=app.quit]bob[/] (3) @1"
    assert typing_line(["[/]ann", "x[red]"]).plain == "[/]ann, x[red] typing…"
    assert literal("a", ("[b]", "bold")).spans[0].style == "bold"
    assert visible("\x1b]0;t\x07") == "␛]0;t␇"
