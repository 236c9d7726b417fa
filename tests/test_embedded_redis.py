"""The embedded Redis (chatd.embedded): on 127.0.0.1 only, with a generated password kept 0600 in the data
directory and never on its command line; the URL it gives carries the password, so chatd connects with it and
nothing else on the machine does without it."""

from __future__ import annotations

import socket
import stat
from pathlib import Path

import pytest
import redis

from chatd.embedded import RedisProcess
from chatd.runtime.secretfile import redacted


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def unauthenticated(port: int, command: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(command + b"\r\n")
        return s.recv(256)


def test_embedded_redis_refuses_clients_without_its_password(tmp_path: Path) -> None:
    server = RedisProcess(tmp_path)
    server.start()
    try:
        assert unauthenticated(server.port, b"PING").startswith(b"-NOAUTH")
        assert unauthenticated(server.port, b"SET stolen 1").startswith(b"-NOAUTH")
        assert unauthenticated(server.port, b"CONFIG GET requirepass").startswith(b"-NOAUTH")
        with pytest.raises(redis.AuthenticationError):
            redis.Redis.from_url(server.url.replace(server.password, "guess")).ping()

        client = redis.Redis.from_url(server.url)  # what chatd is given
        assert client.set("k", "v") and client.get("k") == b"v"
        client.close()

        password_file = tmp_path / "redis-password"
        assert password_file.read_text().strip() == server.password and len(server.password) >= 40
        assert mode(password_file) == 0o600 and mode(tmp_path / "redis" / "redis.conf") == 0o600
        assert mode(tmp_path / "redis") == 0o700
        assert server.proc is not None
        command_line = Path(f"/proc/{server.proc.pid}/cmdline").read_bytes()
        assert server.password.encode() not in command_line, "any local user can read a command line"

        server.stop()
        server.start()  # restarted on the same data: the same password and URL
        assert RedisProcess(tmp_path).url.split("@")[0] == server.url.split("@")[0]
        assert redis.Redis.from_url(server.url).ping()
    finally:
        server.stop()
    other = RedisProcess(tmp_path / "elsewhere")
    assert other.password != server.password, "each data directory has a password of its own"


def test_logged_urls_hide_the_password() -> None:
    assert redacted("redis://:s3cret@127.0.0.1:6380/0") == "redis://:***@127.0.0.1:6380/0"
    assert redacted("redis://app:s3cret@cache.internal/1") == "redis://app:***@cache.internal/1"
    assert redacted("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"
