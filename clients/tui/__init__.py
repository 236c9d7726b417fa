"""`chat`: a terminal chat client (Textual) on the SDK in clients/sdk."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> None:
    """The `chat` command: says which extra to install when Textual is missing, then runs the app."""
    from chatd.runtime.extras import MissingExtra, require_extra

    try:
        require_extra("tui", "The terminal client", "textual", "segno")
    except MissingExtra as exc:
        print(f"chat: {exc}", file=sys.stderr)
        sys.exit(2)
    from chatd.clients.tui.app import main as run

    run(argv)
