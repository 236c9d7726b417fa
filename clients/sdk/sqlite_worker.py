"""One SQLite connection owned by one dedicated worker thread, driven from trio.

The thread is started with ``trio.to_thread.run_sync`` and lives as long as the ``open_worker`` block;
every job runs on it, one at a time, so the connection is never shared between threads and writers never
contend. Results come back to trio through ``trio.from_thread.run_sync``.
"""

from __future__ import annotations

import contextlib
import queue
import sqlite3
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import TypeVar

import outcome
import trio

from chatd.clients.sdk.private import private_dir, private_file

T = TypeVar("T")
Job = tuple[Callable[[sqlite3.Connection], object], Callable[[outcome.Outcome[object]], None]]


class SqliteWorker:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._jobs: queue.SimpleQueue[Job | None] = queue.SimpleQueue()

    async def run(self, job: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``job(connection)`` on the worker thread and return (or raise) what it did."""
        done = trio.Event()
        result: list[outcome.Outcome[object]] = []

        def finished(value: outcome.Outcome[object]) -> None:
            result.append(value)
            done.set()
        self._jobs.put((job, finished))
        await done.wait()
        return result[0].unwrap()  # type: ignore[return-value]

    def _serve(self) -> None:
        connection = sqlite3.connect(self.path)
        try:
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=NORMAL")
            while (job := self._jobs.get()) is not None:
                work, reply = job
                value = outcome.capture(work, connection)
                with contextlib.suppress(trio.RunFinishedError):
                    trio.from_thread.run_sync(reply, value)
        finally:
            connection.close()

    def stop(self) -> None:
        self._jobs.put(None)


@contextlib.asynccontextmanager
async def open_worker(path: Path) -> AsyncIterator[SqliteWorker]:
    private_dir(path.parent)
    private_file(path)  # before SQLite opens it: its -wal and -shm files take this mode
    worker = SqliteWorker(path)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(trio.to_thread.run_sync, worker._serve)
        try:
            yield worker
        finally:
            worker.stop()  # queued jobs finish first; the nursery then waits for the thread to close
