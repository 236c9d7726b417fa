"""The sign-in screen: log in, sign up with an email address, or sign in by QR code (clients/tui/qr_login.py)."""

from __future__ import annotations

from dataclasses import dataclass

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Button, Input, Label

from clients.literal import literal


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str
    email: str | None  # set: sign up


@dataclass(frozen=True)
class QrWanted:
    """The user chose to sign in by QR code from a device that is signed in already."""


class LoginScreen(Screen[Credentials | QrWanted]):
    DEFAULT_CSS = """
    LoginScreen { align: center middle; }
    #form { width: 60; height: auto; border: round $accent; padding: 1 2; }
    #error { color: $error; }
    """

    def compose(self) -> ComposeResult:
        with Vertical(id="form"):
            yield Label("chatd: sign in")
            yield Input(placeholder="username or email", id="username")
            yield Input(placeholder="password", password=True, id="password")
            yield Input(placeholder="email (only to sign up)", id="email")
            with Horizontal():
                yield Button("Log in", id="login", variant="primary")
                yield Button("Sign up", id="signup")
                yield Button("QR", id="qr")
            yield Label("", id="error")

    def show_error(self, message: str) -> None:
        self.query_one("#error", Label).update(literal(message))

    def on_button_pressed(self, event: Button.Pressed) -> None:
        value = {name: self.query_one(f"#{name}", Input).value.strip() for name in ("username", "password", "email")}
        if event.button.id == "qr":
            self.dismiss(QrWanted())
        elif not value["username"] or not value["password"]:
            self.show_error("enter a username and a password")
        elif event.button.id == "signup" and not value["email"]:
            self.show_error("enter an email address to sign up")
        else:
            self.dismiss(Credentials(value["username"], value["password"],
                                     value["email"] if event.button.id == "signup" else None))

    def on_input_submitted(self) -> None:
        self.query_one("#login", Button).press()
