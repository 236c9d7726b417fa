"""Small pieces around the conversation: the yes/no question before a delete, and the invite link bar
that stays until dismissed (its text can be selected with the mouse, or copied with the button)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Label, Static

from chatd.clients.literal import literal


class Confirm(ModalScreen[bool]):
    """A question with a yes button (`yes` names the action) and Cancel; y / n / Esc work too."""

    DEFAULT_CSS = """
    Confirm { align: center middle; }
    #dialog { width: 64; height: auto; border: thick $error; padding: 1 2; background: $surface; }
    #dialog Horizontal { height: auto; margin-top: 1; }
    #dialog Button { margin-right: 2; }
    """
    BINDINGS = [Binding("y", "answer(True)", "Yes"), Binding("n,escape", "answer(False)", "No")]

    def __init__(self, question: str, detail: str, yes: str) -> None:
        super().__init__()
        self.question, self.detail, self.yes = question, detail, yes

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label(literal((self.question, "bold")), id="question")
            yield Static(literal(self.detail), id="detail")
            with Horizontal():
                yield Button(self.yes, id="yes", variant="error")
                yield Button("Cancel", id="no")

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()  # Enter alone does not delete

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


class InviteBar(Vertical):
    """An invite link the user made, shown until dismissed."""

    DEFAULT_CSS = """
    InviteBar { height: auto; border: round $success; padding: 0 1; }
    InviteBar Horizontal { height: auto; }
    InviteBar #invite-link { width: 1fr; padding: 1 0; }
    InviteBar Button { margin-left: 1; }
    """

    def __init__(self, link: str, room_name: str) -> None:
        super().__init__(id="invite")
        self.link, self.room_name = link, room_name

    def compose(self) -> ComposeResult:
        yield Label(literal(f"Invite link to {self.room_name} (select it, or Copy; anyone with it can join):"))
        with Horizontal():
            yield Static(literal(self.link), id="invite-link")
            yield Button("Copy", id="invite-copy")
            yield Button("Dismiss", id="invite-dismiss")

    async def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "invite-copy":
            self.app.copy_to_clipboard(self.link)
            self.app.notify("invite link copied")
        else:
            await self.remove()
