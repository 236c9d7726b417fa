"""The terminal client's pieces of end-to-end encryption (docs/e2ee.md): the password dialog that unlocks a
device's keys, the banner that says they are locked, the recovery key shown once, and the bar that runs an
emoji (SAS) verification. The app (clients/tui/app.py) drives them; the crypto itself is the SDK's.

Encryption needs the user's password (it derives the key of the device's crypto store, §5). After a login
with a password the app unlocks at once; a device signed in without one (by QR code) shows the banner
until the user types it: a modal dialog at once would take the first keys and clicks meant for the chat.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from chatd.clients.literal import literal
from chatd.clients.sdk.crypto import Verification
from chatd.clients.tui.render import LOCK, who


def crypto_store_path(cache_file: Path, device: str) -> Path:
    """Where this device's crypto store lives: next to the account's cache file, one per DEVICE.

    The store is sealed under a key derived from the password AND the device id, so a store made by an
    earlier device of the account (signed out since, say) never opens for the next one: sharing one
    file per account made a second sign-in fail with WrongPassword."""
    safe = re.sub(r"[^A-Za-z0-9-]", "_", device)  # a UUID from the server; never a path either way
    return cache_file.with_name(f"{cache_file.stem}.{safe}.crypto.sqlite3")


def device_label(device: str, name: str | None = None) -> str:
    """A device as people compare it: its id's first 8 characters, and its name when it has one."""
    return f"{device[:8]}" + (f" ({name})" if name else "")


class LockedBanner(Horizontal):
    """Encrypted messages are locked on this device until the password is typed (Unlock or /unlock)."""

    DEFAULT_CSS = """
    LockedBanner { height: auto; border: round $warning; padding: 0 1; }
    LockedBanner Label { width: 1fr; padding: 1 0; }
    """

    def __init__(self) -> None:
        super().__init__(id="locked")

    def compose(self) -> ComposeResult:
        yield Label(literal(f"{LOCK} Encrypted messages are locked on this device: type your password to read "
                            "and send them (/unlock)."))
        yield Button("Unlock", id="unlock")


class UnlockScreen(ModalScreen[str | None]):
    """Asks for the account password; `twice` (no crypto store on this device yet: nothing can check the
    password but the user) asks for it again so a typo does not lock the keys under a wrong one."""

    DEFAULT_CSS = """
    UnlockScreen { align: center middle; }
    #unlock-dialog { width: 64; height: auto; border: thick $accent; padding: 1 2; background: $surface; }
    #unlock-dialog Horizontal { height: auto; margin-top: 1; }
    #unlock-dialog Button { margin-right: 2; }
    #unlock-error { color: $error; }
    """
    BINDINGS = [Binding("escape", "later", "Later")]

    def __init__(self, twice: bool) -> None:
        super().__init__()
        self.twice = twice

    def compose(self) -> ComposeResult:
        with Vertical(id="unlock-dialog"):
            yield Label(literal((f"{LOCK} Unlock end-to-end encryption", "bold")))
            yield Label(literal("Your account password opens this device's message keys."))
            yield Input(placeholder="password", password=True, id="unlock-password")
            yield Input(placeholder="password again", password=True, id="unlock-again")
            yield Label("", id="unlock-error")
            with Horizontal():
                yield Button("Unlock", id="unlock-ok", variant="primary")
                yield Button("Later", id="unlock-later")

    def on_mount(self) -> None:
        self.query_one("#unlock-again", Input).display = self.twice
        self.query_one("#unlock-password", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if event.input.id == "unlock-password" and self.twice:
            self.query_one("#unlock-again", Input).focus()
        else:
            self._submit()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "unlock-ok":
            self._submit()
        else:
            self.dismiss(None)

    def action_later(self) -> None:
        self.dismiss(None)

    def _submit(self) -> None:
        password = self.query_one("#unlock-password", Input).value
        error = self.query_one("#unlock-error", Label)
        if not password:
            error.update("enter your password")
        elif self.twice and password != self.query_one("#unlock-again", Input).value:
            error.update("the two passwords differ: type it again")
        else:
            self.dismiss(password)


class RecoveryKeyScreen(ModalScreen[None]):
    """The recovery key of a new key backup, shown this once (the server cannot derive it)."""

    DEFAULT_CSS = """
    RecoveryKeyScreen { align: center middle; }
    #recovery-dialog { width: 72; height: auto; border: thick $warning; padding: 1 2; background: $surface; }
    #recovery-key { padding: 1 0; text-style: bold; }
    #recovery-dialog Horizontal { height: auto; }
    #recovery-dialog Button { margin-right: 2; }
    """
    BINDINGS = [Binding("escape", "done", "Done")]

    def __init__(self, recovery_key: str) -> None:
        super().__init__()
        self.recovery_key = recovery_key

    def compose(self) -> ComposeResult:
        with Vertical(id="recovery-dialog"):
            yield Label(literal(("Your recovery key", "bold")))
            yield Label(literal("Write it down or keep it in a password manager: it is shown only this once. "
                                "On a new device, /restore followed by this key reads your encrypted history."))
            yield Static(literal(self.recovery_key), id="recovery-key")
            with Horizontal():
                yield Button("Copy", id="recovery-copy")
                yield Button("Done", id="recovery-done", variant="primary")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "recovery-copy":
            self.app.copy_to_clipboard(self.recovery_key)
            self.app.notify("recovery key copied")
        else:
            self.dismiss(None)

    def action_done(self) -> None:
        self.dismiss(None)


def emoji_text(flow: Verification) -> str:
    """The 7 emoji to compare, each with its name (people read names aloud; terminals draw emoji badly)."""
    return "   ".join(f"{emoji} {name}" for emoji, name in flow.emoji)


def verification_text(flow: Verification, names: Mapping[int, str]) -> Text:
    """Where a verification stands and what the user can do, in words."""
    them = f"{who(flow.them[0], names)}'s device {device_label(flow.them[1])}"
    if flow.state == "requested" and not flow.we_started:
        return literal((f"{them} asks to verify this device.", "bold"), " Accept (/verify accept) or Cancel "
                       "(/verify cancel).")
    if flow.state in ("requested", "ready", "started"):
        waiting = "to accept" if flow.state == "requested" else "to answer"
        return literal(f"Verifying {them}: waiting for it {waiting}…  (/verify cancel stops)")
    if flow.state == "showing":
        return literal(f"Verifying {them}. Do these emoji show on the other screen, in this order?\n",
                       (emoji_text(flow), "bold"),
                       "\nThey match (/verify confirm) · They don't match (/verify cancel)")
    if flow.state == "confirmed":
        return literal(f"Verifying {them}: you confirmed; waiting for the other side to confirm…")
    if flow.state == "done":
        return literal(("✓ ", "bold"), f"{them} is verified." if flow.verified else f"{them}: verification ended.")
    return literal(f"Verification with {them} cancelled: {flow.cancel_reason or 'cancelled'}")


class VerificationBar(Vertical):
    """One SAS verification under way, with the buttons its state allows; stays until closed."""

    DEFAULT_CSS = """
    VerificationBar { height: auto; border: round $accent; padding: 0 1; }
    VerificationBar Horizontal { height: auto; }
    VerificationBar Button { margin-right: 1; }
    """

    class Step(Message):
        """The user pressed accept, confirm (the emoji match), cancel (they don't, or stop) or close."""

        def __init__(self, txn: str, step: str) -> None:
            super().__init__()
            self.txn, self.step = txn, step

    def __init__(self, flow: Verification, names: Mapping[int, str]) -> None:
        super().__init__(id="verification")
        self.flow, self.names = flow, names

    def compose(self) -> ComposeResult:
        yield Static(id="verification-text")
        with Horizontal():
            yield Button("Accept", id="sas-accept", variant="primary")
            yield Button("They match", id="sas-confirm", variant="success")
            yield Button("They don't match", id="sas-mismatch", variant="error")
            yield Button("Cancel", id="sas-cancel")
            yield Button("Close", id="sas-close")

    def on_mount(self) -> None:
        self.show(self.flow)

    def show(self, flow: Verification) -> None:
        """Redraw for `flow`'s state now (the SDK updates the flow object in place)."""
        self.flow = flow
        self.query_one("#verification-text", Static).update(verification_text(flow, self.names))
        finished = flow.state in ("done", "cancelled")
        buttons = {"sas-accept": flow.state == "requested" and not flow.we_started,
                   "sas-confirm": flow.state == "showing", "sas-mismatch": flow.state == "showing",
                   "sas-cancel": not finished and flow.state != "showing", "sas-close": finished}
        for button, shown in buttons.items():
            self.query_one(f"#{button}", Button).display = shown

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        step = (event.button.id or "").removeprefix("sas-")
        self.post_message(self.Step(self.flow.txn, "cancel" if step == "mismatch" else step))
