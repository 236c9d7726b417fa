"""ESLint on the web client (web/eslint.config.js: typescript-eslint with type information, React hooks rules),
apart from the browser e2e (tests/test_web.py) so that a lint finding fails fast and on its own.

Skipped only when node/npm are missing. Installs web/node_modules first when it lacks ESLint (a checkout
from before ESLint was added, or none at all)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

WEB = Path(__file__).resolve().parent.parent / "web"


def test_the_web_client_passes_eslint() -> None:
    npm = shutil.which("npm")
    if not npm or not shutil.which("node"):
        pytest.skip("node/npm are not installed: linting the web client needs them")
    if not (WEB / "node_modules" / ".bin" / "eslint").exists():
        ci = subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=WEB, capture_output=True, text=True,
                            timeout=600, stdin=subprocess.DEVNULL)
        assert ci.returncode == 0, f"npm ci failed:\n{ci.stdout[-4000:]}\n{ci.stderr[-4000:]}"
    lint = subprocess.run([npm, "run", "--silent", "lint"], cwd=WEB, capture_output=True, text=True, timeout=600,
                          stdin=subprocess.DEVNULL)
    assert lint.returncode == 0, f"npm run lint found problems:\n{lint.stdout[-12000:]}\n{lint.stderr[-4000:]}"
