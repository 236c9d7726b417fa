"""`chatctl console` driven headless (Textual's run_test and pilot) against a real node: it shows the supervision
tree and its actors, and restarts a room actor after the confirmation."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from pathlib import Path

from textual.pilot import Pilot
from textual.widgets import DataTable, Tree

from chatd.clients.ws import ChatClient
from chatd.console.app import AdminApp, Confirm
from chatd.console.client import AdminClient
from chatd.console.grant import grant_admin
from chatd.protocol import frames as f
from tests.admin_support import NodeThread, actor
from tests.conftest import PASSWORD, Backing, make_config


async def signup(client: ChatClient, name: str) -> f.AuthOk:
    username = f"{name}_{uuid.uuid4().hex[:8]}"
    return await client.call(f.Signup, username=username,  # type: ignore[no-any-return]
                             email=f"{username}@example.com", password=PASSWORD)


async def an_admin_in_a_room(url: str) -> tuple[f.AuthOk, int]:
    """An admin-to-be and a direct room with a message in it (so the room has an actor)."""
    async with ChatClient.connect(url) as ann, ChatClient.connect(url) as bob:
        admin, peer = await signup(ann, "admin"), await signup(bob, "bob")
        await ann.hello(admin.access_token)
        room = (await ann.call(f.OpenDirect, user=peer.username)).room.room
        await ann.send_text(room, "hello")
    return admin, room


async def until(pilot: Pilot[None], check: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        assert asyncio.get_running_loop().time() < deadline, f"timed out waiting for {what}"
        await pilot.pause(0.05)


def test_console_shows_the_tree_and_restarts_a_room(backing: Backing, tmp_path: Path) -> None:
    with NodeThread(make_config(backing, tmp_path)) as (thread, node):
        admin, room = thread.call(lambda: an_admin_in_a_room(node.url))
        assert grant_admin(backing.database_url, admin.username)

        async def drive() -> None:
            app = AdminApp(AdminClient(node.http_url, admin.access_token), interval=0.2)
            async with app.run_test(size=(180, 50)) as pilot:
                await until(pilot, lambda: app.status is not None and actor(app.status["tree"], "room", room)
                            is not None, "the room actor in the report")
                assert app.status is not None
                name = actor(app.status["tree"], "room", room)["name"]  # type: ignore[index]
                tree = app.query_one(Tree)
                labels = [str(n.label) for n in tree.root.children]
                assert any(label.startswith("rooms (supervisor") for label in labels), labels
                assert any(label.startswith("gateway (worker") for label in labels), labels
                table = app.query_one(DataTable)
                table.move_cursor(row=table.get_row_index(name))
                await until(pilot, lambda: app.selected == name, "the room selected")
                assert "restarts 0" in str(app.query_one("#detail").render())

                await pilot.press("r")
                await until(pilot, lambda: isinstance(app.screen, Confirm), "the confirmation")
                await pilot.press("y")
                await until(pilot, lambda: app.status is not None and
                            (actor(app.status["tree"], "room", room) or {}).get("restarts") == 1,
                            "the restart in the report")
                await until(pilot, lambda: "restart requested by admin" in str(app.query_one("#detail").render()),
                            "the reason in the detail pane")
                rooms = next(n for n in tree.root.children if str(n.label).startswith("rooms"))
                assert any("↻1" in str(n.label) for n in rooms.children)
        asyncio.run(drive())


def test_console_shows_names_and_crash_reasons_literally(backing: Backing, tmp_path: Path) -> None:
    """A crash reason carries whatever the crashing code put in it (a message body, a name): the console shows
    it, and the node's name, as they are, in the summary, the tree, the table, the detail pane and the
    confirmation, and stays up."""
    node_name = f"[/]node-{uuid.uuid4().hex[:6]} [@click=app.quit]q[/] [link=http://x]y[/link]"
    reason = "[/]boom [@click=app.quit]q[/] [bold]b[/bold] \\[ \x1b[2J"
    with NodeThread(make_config(backing, tmp_path, node_name=node_name)) as (thread, node):
        async def a_crashed_room() -> tuple[f.AuthOk, int]:
            admin, room = await an_admin_in_a_room(node.url)
            assert node.services is not None and node.services.rooms.inject_crash(room, reason)
            return admin, room
        admin, room = thread.call(a_crashed_room)
        assert grant_admin(backing.database_url, admin.username)

        async def drive() -> None:
            app = AdminApp(AdminClient(node.http_url, admin.access_token), interval=0.2)
            async with app.run_test(size=(200, 50)) as pilot:
                def crashed() -> dict[str, object] | None:
                    found = actor(app.status["tree"], "room", room) if app.status else None
                    return found if found and found.get("restarts") == 1 else None
                await until(pilot, lambda: crashed() is not None, "the crash in the report")
                name = str(crashed()["name"])  # type: ignore[index]
                assert node_name in str(app.query_one("#summary").render())
                table = app.query_one(DataTable)
                await until(pilot, lambda: name in table.rows, "the room in the table")
                last_exit = str(table.get_row(name)[-1])
                assert reason.replace("\x1b", "␛") in last_exit, last_exit
                table.move_cursor(row=table.get_row_index(name))
                await until(pilot, lambda: app.selected == name, "the room selected")
                assert reason.replace("\x1b", "␛") in str(app.query_one("#detail").render())
                tree = app.query_one(Tree)
                rooms = next(n for n in tree.root.children if str(n.label).startswith("rooms"))
                assert any("↻1" in str(n.label) for n in rooms.children)
                await pilot.press("r")
                await until(pilot, lambda: isinstance(app.screen, Confirm), "the confirmation")
                assert name in str(app.screen.query_one("#question").render())
                await pilot.press("n")
                await pilot.pause(0.3)
                assert app.is_running
        asyncio.run(drive())
