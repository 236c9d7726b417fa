"""The open conversation: one line (a Static with id `msg-SEQ`) per message, oldest first, and a selected
message to act on. Up and Down move the selection (Up from the input line selects the newest message);
the app's actions (edit, delete, ...) act on `selected`."""

from __future__ import annotations

from textual import events
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widget import Widget
from textual.widgets import Input, Static

SELECTABLE = "message"  # the class of lines that are messages from people (not system lines)


def seq_of(line: Static) -> int:
    return int((line.id or "msg-0").removeprefix("msg-"))


ACTION_KEYS = ("e", "d", "r", "plus")  # the bindings below that act on the selected message


class Conversation(VerticalScroll):
    BINDINGS = [
        Binding("up", "move(-1)", "Previous", show=False),
        Binding("down", "move(1)", "Next", show=False),
        Binding("e", "app.edit_selected", "Edit"),
        Binding("d", "app.delete_selected", "Delete"),
        Binding("r", "app.reply_selected", "Reply"),
        Binding("plus", "app.react_selected", "React"),
        Binding("escape", "app.back_to_input", "Back to input"),
    ]
    DEFAULT_CSS = """
    Conversation > .-selected { background: $accent 40%; }
    Conversation:focus > .-selected { background: $accent; }
    """

    def __init__(self, *, id: str) -> None:
        super().__init__(id=id)
        self.selected: int | None = None

    def lines(self) -> list[Static]:
        return [line for line in self.query_children(f".{SELECTABLE}") if isinstance(line, Static)]

    def select(self, seq: int | None) -> None:
        for line in self.query_children(".-selected"):
            line.remove_class("-selected")
        self.selected = None
        for line in self.query_children(f"#msg-{seq}") if seq is not None else []:
            line.add_class("-selected")
            self.selected = seq
            self.scroll_to_widget(line, animate=False)

    def select_newest(self) -> bool:
        lines = self.lines()
        if lines:
            self.select(seq_of(lines[-1]))
            self.focus()
        return bool(lines)

    def action_move(self, step: int) -> None:
        seqs = [seq_of(line) for line in self.lines()]
        if not seqs:
            return
        at = seqs.index(self.selected) if self.selected in seqs else len(seqs)
        if at + step >= len(seqs):  # down from the newest: back to the input line
            self.select(None)
            self.app.query_one("#compose").focus()
            return
        self.select(seqs[max(0, at + step)])

    def on_key(self, event: events.Key) -> None:
        """Typing anything but an action key goes to the input line: no keystroke is lost to the selection."""
        if event.is_printable and event.character and event.key not in ACTION_KEYS:
            event.stop()
            event.prevent_default()
            self.select(None)
            compose = self.app.query_one("#compose", Input)
            compose.focus()
            compose.insert_text_at_cursor(event.character)

    def on_click(self, event: events.Click) -> None:
        """A click on a message selects it (and focuses the conversation, so e / d / r / + act on it)."""
        line = event.widget
        while line is not None and line is not self and not (isinstance(line, Static) and line.has_class(SELECTABLE)):
            line = line.parent if isinstance(line.parent, Widget) else None
        if isinstance(line, Static):  # (never self: a Conversation is not a Static)
            self.select(seq_of(line))
            self.focus()
