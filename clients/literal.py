"""Untrusted strings on a terminal screen: shown as themselves, never as markup or terminal control.

Textual reads a plain ``str`` handed to a widget (Static, Label, Tree labels, DataTable cells, notify) as
markup: a message body ``[/]`` raises MarkupError and takes the app down, ``[@click=app.quit]x`` becomes
a live action, and a file name ``[red]`` vanishes. So everything the terminal client and the admin console
show that came from a user, a server or a file is built here as a rich ``Text``, which Textual displays as
is. Control characters (ESC sequences could retitle or script the terminal) are shown as the Unicode
control pictures (``␛``) instead of being written out; newlines and tabs stay (`clients.visible`).
"""

from __future__ import annotations

from rich.text import Text
from textual.app import App
from textual.notifications import SeverityLevel

from chatd.clients.visible import visible

__all__ = ["LiteralApp", "Part", "literal", "visible"]

Part = str | tuple[str, str]  # text, or (text, style): the style is a rich style name, the text is never parsed


def literal(*parts: Part) -> Text:
    """The parts one after the other as a rich Text: each character shown as itself (see `visible`)."""
    out = Text(end="")
    for part in parts:
        if isinstance(part, str):
            out.append(visible(part))
        else:
            out.append(visible(part[0]), style=part[1])
    return out


class LiteralApp(App[None]):
    """An app whose notifications show their text literally unless a caller asks for markup (ours carry
    server and user text: error messages, invite links, names)."""

    def notify(self, message: str, *, title: str = "", severity: SeverityLevel = "information",
               timeout: float | None = None, markup: bool = False) -> None:
        super().notify(message if markup else visible(message), title=visible(title), severity=severity,
                       timeout=timeout, markup=markup)
