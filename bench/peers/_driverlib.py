"""Bookkeeping shared by the peers' load drivers (they run in the peers' venv; standard library only here).

A driver prints `START` when the measured window opens, `END` when it closes, then `RESULT {json}`.
"""

from __future__ import annotations

import array
import asyncio
import json
import resource
import sys
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import Any


class Tracker:
    """Unique deliveries, duplicates, per-sender order and latencies, per (receiver, sender) stream."""

    def __init__(self) -> None:
        self.delivered = 0
        self.duplicates = 0
        self.out_of_order = 0
        self.latencies = array.array("d")
        self._seen: dict[tuple[int, int], bytearray] = {}
        self._last: dict[tuple[int, int], int] = {}

    def record(self, receiver: int, sender: int, seq: int, sent_at: float | None, now: float) -> bool:
        """Count one delivery; True when it is new (not a duplicate). sent_at None: no latency sample."""
        key = (receiver, sender)
        seen = self._seen.get(key)
        if seen is None:
            seen = self._seen[key] = bytearray(max(1024, seq + 1))
        elif seq >= len(seen):
            seen.extend(bytes(max(len(seen), seq + 1 - len(seen))))
        if seen[seq]:
            self.duplicates += 1
            return False
        seen[seq] = 1
        self.delivered += 1
        if seq < self._last.get(key, -1):
            self.out_of_order += 1
        else:
            self._last[key] = seq
        if sent_at is not None:
            self.latencies.append(now - sent_at)
        return True


class Window:
    """The measured window: wall time and this driver's own CPU time (to tell when the client saturates)."""

    def __init__(self) -> None:
        self.t0 = self.t1 = 0.0
        self.cpu0 = self.cpu1 = 0.0

    @staticmethod
    def _cpu() -> float:
        ru = resource.getrusage(resource.RUSAGE_SELF)
        return ru.ru_utime + ru.ru_stime

    def start(self) -> None:
        self.t0, self.cpu0 = time.monotonic(), self._cpu()
        log("load phase starts")
        print("START", flush=True)

    def stop(self) -> None:
        self.t1, self.cpu1 = time.monotonic(), self._cpu()
        log(f"load phase ended after {self.t1 - self.t0:.1f} s")
        print("END", flush=True)

    @property
    def duration_s(self) -> float:
        return self.t1 - self.t0

    @property
    def client_cpu_share(self) -> float:
        return (self.cpu1 - self.cpu0) / self.duration_s if self.duration_s > 0 else 0.0


def emit_result(result: dict[str, Any], latencies: array.array[float], latency_path: str) -> None:
    with open(latency_path, "wb") as fh:
        latencies.tofile(fh)
    print("RESULT " + json.dumps(result), flush=True)


def raise_nofile() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def run(coro: Coroutine[Any, Any, None]) -> None:
    raise_nofile()
    try:
        import uvloop  # type: ignore[import-not-found,unused-ignore]

        uvloop.run(coro)
    except ImportError:
        asyncio.run(coro)


def load_args() -> dict[str, Any]:
    args: dict[str, Any] = json.loads(sys.argv[1])
    return args


def log(msg: str) -> None:
    print(f"[driver] {msg}", file=sys.stderr, flush=True)


def read_state(path: str) -> dict[str, Any]:
    p = Path(path)
    if p.exists():
        data: dict[str, Any] = json.loads(p.read_text())
        return data
    return {}


def write_state(path: str, state: dict[str, Any]) -> None:
    p = Path(path)
    tmp = p.with_suffix(".tmp")
    tmp.write_text(json.dumps(state))
    tmp.replace(p)
