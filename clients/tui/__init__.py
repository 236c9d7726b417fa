"""`chat`: a terminal chat client (Textual) on the SDK in clients/sdk."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> None:
    """The `chat` command: says which extra to install when Textual is missing, then runs the app."""
    from chatd import __version__
    from chatd.runtime.extras import MissingExtra, require_extra

    if "--version" in (sys.argv[1:] if argv is None else argv):  # answered without the extra too
        print(f"chat {__version__}")
        return
    try:
        require_extra("tui", "The terminal client", "textual", "segno", "vodozemac")  # vodozemac: encryption
    except MissingExtra as exc:
        print(f"chat: {exc}", file=sys.stderr)
        sys.exit(2)
    from chatd.clients.tui.app import main as run

    run(argv)
