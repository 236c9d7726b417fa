"""Real services the fault tests break on purpose: a chatd process, a Postgres, a Redis of their own.

Each fault test gets its own instance, so killing or restarting it disturbs nothing else in the suite.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import trio

from chatd.embedded import RedisProcess
from tests.conftest import Backing

__all__ = ["ChatdProcess", "RedisProcess", "own_postgres", "restart_postgres"]

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ChatdProcess:
    """`python -m chatd.main` as a child process on a fixed port, so it can be killed and started again."""

    def __init__(self, backing: Backing, data_dir: Path, **settings: str) -> None:
        self.port = free_port()
        self.data_dir = data_dir
        self.log_path = data_dir / "chatd.log"
        self.env = {**os.environ, "CHAT_DATABASE_URL": backing.database_url, "CHAT_REDIS_URL": backing.redis_url,
                    "CHAT_REDIS_PREFIX": backing.redis_prefix, "CHAT_JWT_SECRET": "t" * 40,
                    "CHAT_ARGON2_TIME_COST": "1", "CHAT_ARGON2_MEMORY_KIB": "64", "CHAT_SIGNUPS_PER_HOUR": "100000",
                    "CHAT_DATA_DIR": str(data_dir), "CHAT_HOST": "127.0.0.1", "CHAT_PORT": str(self.port),
                    "CHAT_HTTP_PORT": "0",
                    **{f"CHAT_{k.upper()}": v for k, v in settings.items()}}
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/"

    async def start(self) -> None:
        self.starts += 1
        self.proc = await trio.to_thread.run_sync(self._spawn)
        with trio.fail_after(30):
            while self.log_path.read_text(errors="replace").count("chatd ready") < self.starts:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"chatd exited with {self.proc.returncode}:\n{self.log_path.read_text()}")
                await trio.sleep(0.05)

    def _spawn(self) -> subprocess.Popen[bytes]:
        with open(self.log_path, "ab") as log:
            return subprocess.Popen([sys.executable, "-m", "chatd.main"], cwd=ROOT, env=self.env, stdout=log,
                                    stderr=subprocess.STDOUT)

    async def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        await trio.to_thread.run_sync(self.proc.wait)

    async def stop(self) -> int:
        """SIGTERM (graceful drain); returns the exit code."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        self.proc.send_signal(signal.SIGTERM)
        try:
            return await trio.to_thread.run_sync(lambda: self.proc.wait(timeout=20))  # type: ignore[union-attr]
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise


@contextlib.asynccontextmanager
async def two_processes(backing: Backing, data_dir: Path, **settings: str
                        ) -> AsyncIterator[tuple[ChatdProcess, ChatdProcess]]:
    """chatd processes `a` and `b` on one Postgres and Redis, each with a data directory of its own under
    `data_dir`, started; both stopped at the end (one the test killed is left as it is)."""
    a, b = (ChatdProcess(backing, data_dir / name, node_name=name, **settings) for name in ("a", "b"))
    try:
        for process in (a, b):
            process.data_dir.mkdir()
            await process.start()
        yield a, b
    finally:
        await a.stop()
        await b.stop()


@contextlib.contextmanager
def own_postgres(data_dir: Path) -> Iterator[object]:
    """A Postgres of the test's own (pgserver), so it can be restarted without touching the suite's."""
    import pgserver

    server = pgserver.get_server((data_dir / "pg").resolve(), cleanup_mode="stop")
    try:
        yield server
    finally:
        server.cleanup()


async def restart_postgres(server: object) -> None:
    """Crash-stop Postgres (immediate: no checkpoint, recovery from WAL on start) and start it again."""
    from pgserver import _commands

    pg_ctl = _commands.pg_ctl  # type: ignore[attr-defined]  # made at import, one per Postgres binary

    def restart() -> None:
        pg_ctl(["-w", "-m", "immediate", "restart"], pgdata=server.pgdata,  # type: ignore[attr-defined]
               user=server.system_user, timeout=60)  # type: ignore[attr-defined]
    await trio.to_thread.run_sync(restart)
