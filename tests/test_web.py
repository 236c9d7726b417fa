"""The web client's own tests, from pytest: Vitest (client module, cache), a production build, then the
browser specs (web/e2e/*.spec.ts, @playwright/test) in headless Chromium against one real server that
web/e2e/global-setup.ts starts (web/e2e/server.py, fresh database).

Skipped, with the reason, only when node/npm are missing or no Chromium can be had (none at
/usr/bin/chromium or $CHROMIUM_PATH and apt-get cannot install it).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from tests.web_modules import node_modules

WEB = Path(__file__).resolve().parent.parent / "web"
BUDGET = 480.0  # seconds for the whole test, the one-time npm ci / chromium install aside (a shared 2-core box)


def run(cmd: list[str], timeout: float, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=WEB, env=env, capture_output=True, text=True, timeout=max(timeout, 10),
                          stdin=subprocess.DEVNULL, check=False)


def ok(result: subprocess.CompletedProcess[str], what: str) -> None:
    output = f"{result.stdout[-12000:]}\n{result.stderr[-6000:]}"
    assert result.returncode == 0, f"{what} failed ({result.returncode}):\n{output}"


def chromium() -> str | None:
    path = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
    if Path(path).exists():
        return path
    if shutil.which("apt-get") is None or os.geteuid() != 0:
        return None
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (["apt-get", "install", "-y", "-qq", "chromium"], ["apt-get", "update", "-qq"],
                ["apt-get", "install", "-y", "-qq", "chromium"]):
        subprocess.run(cmd, env=env, capture_output=True, timeout=600, check=False, stdin=subprocess.DEVNULL)
        if Path(path).exists():
            return path
    return None


def test_web_client() -> None:
    missing = node_modules()
    if missing:
        pytest.skip(missing)
    npm = shutil.which("npm")
    assert npm is not None
    browser = chromium()
    if browser is None:
        pytest.skip("no Chromium at /usr/bin/chromium ($CHROMIUM_PATH) and apt-get could not install one")
    start = time.monotonic()
    left = lambda: BUDGET - (time.monotonic() - start)  # noqa: E731
    ok(run([npm, "exec", "--", "vitest", "run"], left()), "vitest")
    ok(run([npm, "run", "build"], left()), "npm run build")
    ok(run([npm, "exec", "--", "tsc", "-p", "e2e"], left()), "typechecking the browser specs (tsc -p e2e)")
    env = {**os.environ, "CHROMIUM_PATH": browser, "E2E_TIMEOUT_MS": str(int(max(left() - 20, 30) * 1000))}
    e2e = run([npm, "exec", "--", "playwright", "test", "--reporter=line"], left(), env)
    ok(e2e, "the browser specs (npx playwright test)")
    assert " passed" in e2e.stdout and " failed" not in e2e.stdout, e2e.stdout[-12000:]
