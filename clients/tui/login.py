"""The sign-in screen: a Log in / Sign up switch over one form (email only when signing up), or sign in by
QR code (`QrWanted`, clients/tui/qr_login.py).

The screen stays up while the app signs in (`Submitted`): a refusal comes back through `failed()` and is
shown under the form, which keeps what was typed. The app closes the screen once signed in.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Button, Input, Label, Tab, Tabs

from chatd.clients.literal import literal

Mode = Literal["login", "signup"]
BUTTON = {"login": "Log in", "signup": "Sign up"}


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str
    email: str | None  # set: sign up


class QrWanted(Message):
    """The user chose to sign in by QR code from a device that is signed in already."""


class LoginScreen(Screen[None]):
    DEFAULT_CSS = """
    LoginScreen { align: center middle; }
    #form { width: 64; height: auto; border: round $accent; padding: 1 2; }
    #form Tabs { height: 2; margin-bottom: 1; }
    #error { color: $error; width: 100%; height: auto; }
    #buttons { height: auto; margin-top: 1; }
    #buttons Button { margin-right: 2; }
    """

    class Submitted(Message):
        """The user asked to log in or sign up with these credentials."""

        def __init__(self, credentials: Credentials) -> None:
            super().__init__()
            self.credentials = credentials

    def __init__(self, notice: str = "", username: str = "") -> None:
        """`notice`: why the user is here again (signed out, account disabled), shown as the error line."""
        super().__init__()
        self.notice, self.username = notice, username
        self.mode: Mode = "login"

    def compose(self) -> ComposeResult:
        with Vertical(id="form"):
            yield Tabs(Tab("Log in", id="mode-login"), Tab("Sign up", id="mode-signup"), id="signin-mode")
            yield Input(self.username, placeholder="username (or email to log in)", id="username")
            yield Input(placeholder="email", id="email")
            yield Input(placeholder="password", password=True, id="password")
            with Horizontal(id="buttons"):
                yield Button("Log in", id="submit", variant="primary")
                yield Button("QR code", id="qr")
            yield Label(literal(self.notice), id="error")

    def on_mount(self) -> None:
        self._show_mode("login")
        self.query_one("#password" if self.username else "#username", Input).focus()

    def on_tabs_tab_activated(self, event: Tabs.TabActivated) -> None:
        if event.tab.id:
            self._show_mode("signup" if event.tab.id == "mode-signup" else "login")

    def _show_mode(self, mode: Mode) -> None:
        self.mode = mode
        self.query_one("#email", Input).display = mode == "signup"
        self.query_one("#username", Input).placeholder = "username" if mode == "signup" else \
            "username (or email to log in)"
        self.query_one("#submit", Button).label = BUTTON[mode]

    def show_error(self, message: str) -> None:
        self.query_one("#error", Label).update(literal(message))

    def failed(self, message: str) -> None:
        """The app could not sign in: say why; the form keeps its fields for another try."""
        self.query_one("#submit", Button).disabled = False
        self.show_error(message)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "submit":
            self._submit()
        elif event.button.id == "qr":
            self.post_message(QrWanted())

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._submit()

    def _submit(self) -> None:
        button = self.query_one("#submit", Button)
        if button.disabled:  # already signing in
            return
        value = {name: self.query_one(f"#{name}", Input).value for name in ("username", "password", "email")}
        value["username"], value["email"] = value["username"].strip(), value["email"].strip()  # a password is as typed
        missing = next((name for name in ("username", "email", "password")
                        if not value[name] and (name != "email" or self.mode == "signup")), None)
        if missing is not None:
            self.query_one(f"#{missing}", Input).focus()
            self.show_error(f"enter your {missing}" if missing != "email" else "enter an email address to sign up")
        else:
            button.disabled = True
            self.show_error("signing up…" if self.mode == "signup" else "logging in…")
            self.post_message(self.Submitted(Credentials(value["username"], value["password"],
                                                         value["email"] if self.mode == "signup" else None)))
