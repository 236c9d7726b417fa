"""What a run records about where it ran: machine, versions, command, how busy the machine was."""

from __future__ import annotations

import os
import platform
import shlex
import subprocess
import sys
from importlib import metadata
from typing import Any

import psutil

from bench.procs import REPO


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine() -> dict[str, Any]:
    return {"cores": os.cpu_count(), "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
            "cpu_model": cpu_model(), "os": platform.platform(), "load_average": os.getloadavg()}


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True,
                             timeout=5, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", ".",
                                ":!bench/RESULTS.md", ":!bench/fanout-latency.png"],  # what the runs write
                               cwd=REPO, capture_output=True, text=True, timeout=5).stdout.strip()
        return out + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return None


def versions(postgres: str | None) -> dict[str, Any]:
    return {"python": platform.python_version(), "trio": _version("trio"),
            "trio-websocket": _version("trio-websocket"), "websockets": _version("websockets"),
            "uvloop": _version("uvloop"), "msgpack": _version("msgpack"), "postgres": postgres,
            "chatd_commit": git_commit()}


def command() -> str:
    return shlex.join([".venv/bin/python", "-m", "bench", *sys.argv[1:]])


def others_busy() -> float:
    """CPU seconds per second that processes outside this bench tree used over a short sample: > 0.3 means
    someone else (a test suite) was running while we measured."""
    mine = {os.getpid(), *(c.pid for c in psutil.Process().children(recursive=True))}
    before = psutil.cpu_times()
    mine_before = _cpu_of(mine)
    psutil.cpu_percent(None)
    import time
    time.sleep(1.0)
    after = psutil.cpu_times()
    busy = (after.user + after.system + after.nice) - (before.user + before.system + before.nice)
    return max(0.0, busy - (_cpu_of(mine) - mine_before))


def _cpu_of(pids: set[int]) -> float:
    total = 0.0
    for pid in pids:
        try:
            t = psutil.Process(pid).cpu_times()
            total += t.user + t.system + t.children_user + t.children_system
        except psutil.Error:
            pass
    return total
