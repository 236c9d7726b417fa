"""QR device login in the terminal (docs/protocol.md 3.9).

`QrLoginScreen`: the sign-in screen's "QR" choice. It asks the server for a request, draws its link as a QR code
with half-block characters (two modules per character cell, dark on light so phone cameras read it) plus the
code as text, and waits; once a signed-in device approves, it closes with this device's tokens.
`ApproveScreen`: what `/approve CODE` shows a signed-in user before they approve: who asks, from where.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import segno
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import Button, Label, Static

from chatd.clients.literal import literal
from chatd.clients.sdk import ChatError
from chatd.clients.sdk.qr import QrLogin, start_qr_login, wait_for_approval
from chatd.protocol import frames as f
from chatd.protocol import qr

HALF_BLOCKS = {(False, False): " ", (True, False): "▀", (False, True): "▄", (True, True): "█"}

TrioCall = Callable[..., Awaitable[Any]]  # clients.tui.bridge.TrioGuest.call


def qr_text(data: str, border: int = 2) -> Text:
    """`data` as a QR code of text: each character is two modules, one above the other (dark = █)."""
    rows = [[bool(m) for m in row] for row in segno.make(data, error="l", micro=False).matrix_iter(border=border)]
    if len(rows) % 2:
        rows.append([False] * len(rows[0]))
    lines = ["".join(HALF_BLOCKS[pair] for pair in zip(top, bottom, strict=True))
             for top, bottom in zip(rows[::2], rows[1::2], strict=True)]
    return Text("\n".join(lines), style="black on white", no_wrap=True)


class QrLoginScreen(Screen[f.AuthOk | None]):
    """Closes with the tokens of this device once approved, or None (Back)."""

    DEFAULT_CSS = """
    QrLoginScreen { align: center middle; }
    #qr-box { width: auto; height: auto; border: round $accent; padding: 1 2; }
    #qr { width: auto; height: auto; margin: 1 0; }
    #qr-status { color: $text-muted; }
    #qr-box Horizontal { height: auto; }
    """

    def __init__(self, http_url: str, call: TrioCall, device: str = "chat-tui") -> None:
        super().__init__()
        self.http_url, self.call, self.device = http_url, call, device
        self.request: QrLogin | None = None

    def compose(self) -> ComposeResult:
        with Vertical(id="qr-box"):
            yield Label("Sign in from a device where you are signed in: in the web client Settings > Devices >\n"
                        "Link a device (scan this), or in a terminal client /approve CODE.")
            yield Static("", id="qr")
            yield Label("", id="qr-code")
            yield Label("asking the server for a code…", id="qr-status")
            with Horizontal():
                yield Button("New code", id="qr-new")
                yield Button("Back", id="qr-back")

    def on_mount(self) -> None:
        self._begin()

    def _begin(self) -> None:
        self.run_worker(self._flow(), exclusive=True, group="qr")

    async def _flow(self) -> None:
        status = self.query_one("#qr-status", Label)
        try:
            self.request = request = await self.call(start_qr_login, self.http_url, self.device)
            self.query_one("#qr", Static).update(qr_text(request.link))
            self.query_one("#qr-code", Label).update(literal(f"code: {request.shown}"))
            status.update("waiting for approval (the code works once, for two minutes; show it to nobody else)")
            auth = await self.call(wait_for_approval, self.http_url, request)
        except (ChatError, OSError) as exc:
            gone = isinstance(exc, ChatError) and exc.code == "not_found"
            status.update(literal("this code has expired: press New code" if gone else str(exc)))
            return
        self.dismiss(auth)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "qr-new":
            self._begin()
        elif event.button.id == "qr-back":
            self.workers.cancel_group(self, "qr")
            self.dismiss(None)


class ApproveScreen(ModalScreen[bool]):
    """Who asks to sign in to this account; closes with True (approve) or False (decline)."""

    DEFAULT_CSS = """
    ApproveScreen { align: center middle; }
    #approve-box { width: 72; height: auto; border: round $warning; padding: 1 2; }
    #approve-box Label { width: 100%; }
    #approve-box Horizontal { height: auto; margin-top: 1; }
    """

    def __init__(self, asking: qr.QrLoginRequest) -> None:
        super().__init__()
        self.asking = asking

    def compose(self) -> ComposeResult:
        a = self.asking
        with Vertical(id="approve-box"):
            yield Label(literal(f"Sign in “{a.device or 'an unnamed device'}” to your account?"), id="approve-who")
            yield Label(literal(f"from address {a.address}" + (f"\n{a.user_agent}" if a.user_agent else "")),
                        id="approve-where")
            yield Label("Approve only a device you are holding yourself: whoever sent you a code gets into your "
                        "account if you approve it.")
            with Horizontal():
                yield Button("Approve", id="qr-approve", variant="warning")
                yield Button("Decline", id="qr-decline")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "qr-approve")
