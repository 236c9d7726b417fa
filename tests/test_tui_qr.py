"""QR device login in the terminal client, headless against a real server (see tests/test_tui.py): the sign-in
screen's QR choice draws a code and signs in once another device approves it, and `/approve CODE` shows who asks
before it signs another device in."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from textual.widgets import Button, Input, Label, Static

from chatd.clients.tui.app import ChatApp
from chatd.clients.tui.qr_login import ApproveScreen, QrLoginScreen, qr_text
from chatd.clients.ws import ChatClient
from chatd.protocol import frames as f
from chatd.protocol import qr
from tests.conftest import PASSWORD, Backing
from tests.tui_support import ServerThread, until


@pytest.fixture
def chatd(backing: Backing, tmp_path: Path) -> Iterator[ServerThread]:
    with ServerThread(backing, tmp_path / "server") as running:
        yield running


def test_a_qr_code_is_drawn_two_modules_a_cell_dark_on_light() -> None:
    drawn = qr_text("https://chat.example.com/qr/0123456789ABCDEFGHJK", border=2)
    lines = drawn.plain.split("\n")
    assert len({len(line) for line in lines}) == 1 and len(lines) == (len(lines[0]) + 1) // 2
    assert set(lines[0]) == {" "}  # the quiet zone's first two rows
    assert set("".join(lines)) <= {" ", "▀", "▄", "█"} and "█" in drawn.plain
    assert str(drawn.style) == "black on white"


def test_sign_in_by_qr_then_approve_another_device(chatd: ServerThread, tmp_path: Path) -> None:
    server = chatd
    assert server.node is not None
    url, http_url = server.node.url, server.node.http_url
    ann = f"ann_{uuid.uuid4().hex[:6]}"
    phone: dict[str, Any] = {}

    async def sign_up_phone() -> None:  # in the server's thread: ann's phone, signed in
        client = await ChatClient.open_in(server.nursery, url)  # type: ignore[arg-type]
        auth = await client.call(f.Signup, username=ann, email=f"{ann}@example.com", password=PASSWORD)
        await client.hello(auth.access_token)
        phone["client"] = client

    async def phone_approves(code: str) -> None:
        await phone["client"].call(qr.QrLoginAnswer, code=code, approve=True)

    async def drive() -> None:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, server.run, sign_up_phone)
        app = ChatApp(url, http_url, tmp_path / "client")
        async with app.run_test(size=(120, 50)) as pilot:
            await pilot.click("#qr")
            await until(pilot, lambda: isinstance(app.screen, QrLoginScreen) and app.screen.request is not None,
                        "the QR code")
            screen = app.screen
            assert isinstance(screen, QrLoginScreen) and screen.request is not None
            code = screen.request.code
            assert qr.shown(code) in str(screen.query_one("#qr-code", Label).render())
            assert "█" in str(screen.query_one("#qr", Static).render())
            await loop.run_in_executor(None, server.run, phone_approves, code)
            await until(pilot, lambda: app.chat is not None and app.chat.username == ann
                        and "connected" in app.sub_title, "signed in as ann")

            # now this terminal approves a browser that asks
            async with httpx.AsyncClient() as browser:
                started = (await browser.post(f"{http_url.rstrip('/')}/api/qr/start", json={"device": "web (Firefox)"},
                                              headers={"User-Agent": "[b]Firefox[/b]"})).json()
                await pilot.click("#compose")
                await pilot.press(*f"/approve {qr.shown(started['code']).lower()}", "enter")
                await until(pilot, lambda: isinstance(app.screen, ApproveScreen), "who asks")
                who = str(app.screen.query_one("#approve-who", Label).render())
                where = str(app.screen.query_one("#approve-where", Label).render())
                assert "web (Firefox)" in who and "127.0.0.1" in where and "[b]Firefox[/b]" in where
                assert isinstance(app.focused, Button), "the dialog answers keys (Enter, Tab) at once"
                await pilot.click("#qr-approve")
                answer = await browser.post(f"{http_url.rstrip('/')}/api/qr/wait",
                                            json={"code": started["code"], "secret": started["secret"]})
                assert answer.status_code == 200 and answer.json()["username"] == ann
            assert app.query_one("#compose", Input).value == ""

    with asyncio.Runner(loop_factory=asyncio.SelectorEventLoop) as runner:
        runner.run(asyncio.wait_for(drive(), 60))
