"""Server configuration from environment variables (CHAT_*) and command-line flags.

Every value is checked at start; a bad one stops the server with a message naming the variable.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any


class ConfigError(ValueError):
    pass


@dataclass(frozen=True)
class Config:
    host: str = "127.0.0.1"
    port: int = 8765
    http_port: int = 8766  # the HTTP side (JSON auth, /healthz, /metrics); 0: any free port
    data_dir: Path = Path(".chatd-data")
    database_url: str | None = None  # None: embedded Postgres under data_dir
    redis_url: str | None = None  # None: embedded Redis under data_dir
    redis_prefix: str = "chat:"
    jwt_secret: str | None = None  # None: generated once and kept in data_dir/jwt-secret
    access_ttl: int = 900
    refresh_ttl: int = 30 * 24 * 3600
    max_frame_bytes: int = 64 * 1024
    allowed_origins: tuple[str, ...] = ()  # browser Origins allowed to connect; no Origin header is allowed
    auth_timeout: float = 30.0  # seconds to say hello after connecting
    handshake_timeout: float = 10.0  # seconds for the websocket opening handshake (slowloris guard)
    max_connections_per_address: int = 1000  # open websockets per client IP address
    send_timeout: float = 10.0  # a socket that does not take a frame within this is closed
    outbox_frames: int = 256
    rate_per_second: float = 200.0  # frames a connection may send, sustained
    rate_burst: int = 400
    login_attempts: int = 10  # failed logins per username+address per window
    login_window: int = 300
    signups_per_hour: int = 20  # per client address
    db_pool_size: int = 10
    argon2_time_cost: int = 2
    argon2_memory_kib: int = 19 * 1024
    room_idle_seconds: float = 300.0
    user_linger_seconds: float = 5.0
    cursor_flush_seconds: float = 0.05
    typing_seconds: float = 6.0  # typing stops by itself this long after the client's last `typing`
    receipts_per_recipient_max: int = 100  # rooms up to this size get per-recipient status, bigger ones counts
    presence_ttl: float = 30.0  # a node renews its users' presence every third of this; a dead node's go after it
    searches_per_minute: int = 30  # search_users requests per user
    lookups_per_minute: int = 3000  # other users' profiles and presence (per user looked up) per user
    node_name: str = field(default_factory=lambda: f"{os.uname().nodename}-{os.getpid()}")

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None, **overrides: Any) -> Config:
        env = dict(os.environ if env is None else env)
        values: dict[str, Any] = {}
        for f in fields(cls):
            name = f"CHAT_{f.name.upper()}"
            if name in env and env[name] != "":
                values[f.name] = _parse(name, f.type, env[name])
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values).validated()

    def validated(self) -> Config:
        def need(ok: bool, var: str, what: str) -> None:
            if not ok:
                raise ConfigError(f"CHAT_{var.upper()}: {what}")
        need(0 <= self.port <= 65535, "port", f"must be 0..65535, got {self.port}")
        need(0 <= self.http_port <= 65535, "http_port", f"must be 0..65535, got {self.http_port}")
        need(1024 <= self.max_frame_bytes <= 16 * 1024 * 1024, "max_frame_bytes", "must be 1 KiB..16 MiB")
        need(self.access_ttl >= 30, "access_ttl", "must be at least 30 seconds")
        need(self.refresh_ttl >= self.access_ttl, "refresh_ttl", "must be at least access_ttl")
        need(self.handshake_timeout > 0, "handshake_timeout", "must be > 0 seconds")
        need(self.max_connections_per_address >= 1, "max_connections_per_address", "must be at least 1")
        need(self.outbox_frames >= 8, "outbox_frames", "must be at least 8")
        need(self.rate_per_second > 0 and self.rate_burst >= 1, "rate_per_second", "rate and burst must be > 0")
        need(0.1 <= self.typing_seconds <= 60, "typing_seconds", "must be 0.1..60 seconds")
        need(self.receipts_per_recipient_max >= 2, "receipts_per_recipient_max", "must be at least 2")
        need(0.3 <= self.presence_ttl <= 3600, "presence_ttl", "must be 0.3..3600 seconds")
        need(self.searches_per_minute >= 1, "searches_per_minute", "must be at least 1")
        need(self.lookups_per_minute >= 100, "lookups_per_minute", "must be at least 100 (one full get_presence)")
        need(self.db_pool_size >= 2, "db_pool_size", "must be at least 2")
        need(self.argon2_memory_kib >= 8, "argon2_memory_kib", "must be at least 8")
        for var in ("database_url", "redis_url"):
            url = getattr(self, var)
            schemes = ("postgres://", "postgresql://") if var == "database_url" else \
                ("redis://", "rediss://", "unix://")
            need(url is None or url.startswith(schemes), var, f"must start with {' or '.join(schemes)}")
        need(self.jwt_secret is None or len(self.jwt_secret) >= 32, "jwt_secret", "needs at least 32 characters")
        return self

    def with_secret(self) -> Config:
        """Fill in the JWT secret from data_dir (created on first start, mode 0600)."""
        if self.jwt_secret:
            return self
        path = self.data_dir / "jwt-secret"
        if not path.exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_urlsafe(48))
        return replace(self, jwt_secret=path.read_text().strip())


def _parse(name: str, tp: Any, raw: str) -> Any:
    tp = str(tp)
    try:
        if tp.startswith("int"):
            return int(raw)
        if tp.startswith("float"):
            return float(raw)
        if tp.startswith("Path"):
            return Path(raw)
        if tp.startswith("tuple"):
            return tuple(part.strip() for part in raw.split(",") if part.strip())
    except ValueError:
        raise ConfigError(f"{name}: expected {tp.split(' ')[0]}, got {raw!r}") from None
    return raw
