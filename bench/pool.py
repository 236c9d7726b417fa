"""The parent side of the load generator: worker processes pinned to the load core, driven over pipes."""

from __future__ import annotations

import multiprocessing as mp
import time
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection
from types import TracebackType
from typing import Any

import psutil

from bench.progress import Bar
from bench.worker import DELIVERED, OPENED, SENT, SLOTS, worker_main

SOURCES_PER_ADDRESS = 900  # chatd refuses more than 1000 connections per client address (gateway/server.py)


class WorkerError(RuntimeError):
    pass


def source_for(key: int) -> str:
    """Client source address for user `key`: 127.0.0.2, .3, ... so no address holds 1000 connections."""
    block = key // SOURCES_PER_ADDRESS
    return f"127.0.{block // 250}.{2 + block % 250}"


Call = tuple[int, str, dict[str, Any]]


class WorkerPool:
    def __init__(self, size: int, core: int | None, bar: Bar) -> None:
        self.size = size
        self.core = core
        self.bar = bar
        ctx = mp.get_context("spawn")
        self.counters: Any = ctx.Array("q", size * SLOTS, lock=False)
        self.pipes: list[Connection] = []
        self.procs: list[Any] = []
        for i in range(size):
            parent, child = ctx.Pipe()
            proc = ctx.Process(target=worker_main, args=(i, child, self.counters, core), daemon=True,
                               name=f"bench-worker-{i}")
            proc.start()
            self.pipes.append(parent)
            self.procs.append(proc)
        self.ps = [psutil.Process(p.pid) for p in self.procs]

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    def worker_of(self, key: int) -> int:
        return key % self.size

    def cpu_seconds(self) -> float:
        total = 0.0
        for p in self.ps:
            try:
                t = p.cpu_times()
                total += t.user + t.system
            except psutil.Error:
                pass
        return total

    def count(self, slot: int) -> int:
        return sum(self.counters[i * SLOTS + slot] for i in range(self.size))

    def run(self, calls: Sequence[Call], label: str, total: float | None = None, slot: int | None = None,
            timeout: float = 600.0, info: Callable[[], str] | None = None) -> list[Any]:
        """Send each (worker, command, kwargs), show progress until every reply is in, return the replies in
        order. A worker error is raised here (after every reply came back)."""
        self.bar.phase(label, total)
        base = self.count(slot) if slot is not None else 0
        pending: dict[int, list[int]] = {}
        for n, (w, _, _) in enumerate(calls):
            pending.setdefault(w, []).append(n)
        results: list[Any] = [None] * len(calls)
        errors: list[str] = []
        # one command at a time per worker: send the next when the previous replied
        for w, queue in pending.items():
            self.pipes[w].send((calls[queue[0]][1], calls[queue[0]][2]))
        deadline = time.monotonic() + timeout
        while pending:
            if time.monotonic() > deadline:
                raise WorkerError(f"{label}: no reply within {timeout:.0f}s")
            for w in list(pending):
                pipe = self.pipes[w]
                if not pipe.poll(0.02):
                    continue
                status, value = pipe.recv()
                n = pending[w].pop(0)
                if status == "error":
                    errors.append(f"worker {w} {calls[n][1]}: {value}")
                results[n] = value
                if pending[w]:
                    nxt = pending[w][0]
                    pipe.send((calls[nxt][1], calls[nxt][2]))
                else:
                    del pending[w]
            done = self.count(slot) - base if slot is not None else len(calls) - sum(map(len, pending.values()))
            self.bar.update(done, info() if info else "")
        self.bar.done()
        if errors:
            raise WorkerError("; ".join(errors))
        return results

    def everywhere(self, command: str, label: str, **kwargs: Any) -> list[Any]:
        """The same command on every worker."""
        return self.run([(w, command, kwargs) for w in range(self.size)], label)

    def stop(self) -> None:
        for pipe, proc in zip(self.pipes, self.procs, strict=True):
            if proc.is_alive():
                try:
                    pipe.send(("stop", {}))
                    if pipe.poll(10):
                        pipe.recv()
                except (OSError, EOFError):
                    pass
            proc.join(5)
            if proc.is_alive():
                proc.terminate()
                proc.join(2)
        self.pipes, self.procs = [], []


__all__ = ["DELIVERED", "OPENED", "SENT", "Call", "WorkerError", "WorkerPool", "source_for"]
