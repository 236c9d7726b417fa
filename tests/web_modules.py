"""The web app's node_modules, installed once (`npm ci`) for the tests that run its code: the browser tests
(tests/test_web.py) and the crypto interop test (tests/test_e2ee_interop.py)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

WEB = Path(__file__).resolve().parent.parent / "web"


def node_modules() -> str | None:
    """Why the web app's code cannot run here (node/npm missing), or None once web/node_modules is installed.
    A failing `npm ci` is an error, not a reason to skip."""
    npm, node = shutil.which("npm"), shutil.which("node")
    if not npm or not node:
        return "node/npm are not installed: the web client's code needs them"
    if not (WEB / "node_modules").is_dir():
        result = subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=WEB, capture_output=True, text=True,
                                timeout=300, stdin=subprocess.DEVNULL, check=False)
        output = f"{result.stdout[-6000:]}\n{result.stderr[-3000:]}"
        assert result.returncode == 0, f"npm ci failed ({result.returncode}):\n{output}"
    return None
