"""Server configuration from environment variables (CHAT_*) and command-line flags.

Every value is checked at start; a bad one stops the server with a message naming the variable.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace
from functools import cached_property
from pathlib import Path
from typing import Any, Final, Literal, get_args
from urllib.parse import urlsplit

from chatd.persistence.migrate import DEFAULT_PARTITIONS, MAX_PARTITIONS
from chatd.protocol.frames import MAX_BATCH
from chatd.runtime.client_address import HEADERS as FORWARDING_HEADERS
from chatd.runtime.client_address import IPNetwork, parse_networks
from chatd.runtime.secretfile import kept_secret


class ConfigError(ValueError):
    pass


# Where browsers' push subscriptions point: FCM (Chrome, Edge, Opera, Samsung), Mozilla, Apple, Windows.
# A host matches an entry equal to it or ending in "." + entry; "*" allows any https host.
PUSH_SERVICE_HOSTS = ("fcm.googleapis.com", "push.services.mozilla.com", "push.apple.com", "notify.windows.com")
Registration = Literal["open", "invite", "closed"]  # who may sign up (CHAT_REGISTRATION)
REGISTRATION_MODES: Final[tuple[Registration, ...]] = get_args(Registration)
RedisMode = Literal["auto", "yes", "no"]  # is CHAT_REDIS_URL a Redis Cluster (CHAT_REDIS_CLUSTER)
REDIS_MODES: Final[tuple[RedisMode, ...]] = get_args(RedisMode)
P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


@dataclass(frozen=True)
class Config:
    host: str = "127.0.0.1"
    port: int = 8765
    http_port: int = 8766  # the HTTP side (JSON auth, /healthz, /metrics); 0: any free port
    data_dir: Path = Path(".chatd-data")
    database_url: str | None = None  # None: embedded Postgres under data_dir
    database_replica_url: str | None = None  # a streaming replica for history and backlog reads; None: the primary
    redis_url: str | None = None  # None: embedded Redis under data_dir
    redis_prefix: str = "chat:"
    redis_cluster: RedisMode = "auto"  # auto: ask the server at start; yes / no: a cluster or one server, no asking
    jwt_secret: str | None = None  # None: generated once and kept in data_dir/jwt-secret
    access_ttl: int = 900
    refresh_ttl: int = 30 * 24 * 3600
    refresh_retry_seconds: float = 30.0  # a spent refresh token may be retried this long if its reply was lost
    max_frame_bytes: int = 64 * 1024
    public_ws_url: str = ""  # where browsers reach the websocket behind a proxy (wss://...); "" = derive it
    allowed_origins: tuple[str, ...] = ()  # browser Origins allowed to connect; no Origin header is allowed
    auth_timeout: float = 30.0  # seconds to say hello after connecting
    handshake_timeout: float = 10.0  # seconds for the websocket opening handshake (slowloris guard)
    max_connections_per_address: int = 1000  # open websockets per client IP address (an IPv6 client's /64)
    forwarded_header: str = "x-forwarded-for"  # the one header trusted proxies name the client in (or "forwarded")
    trusted_proxies: tuple[str, ...] = ()  # CIDRs/addresses whose Forwarded / X-Forwarded-For are believed
    send_timeout: float = 10.0  # a socket that does not take a frame within this is closed
    outbox_frames: int = 256
    rate_per_second: float = 200.0  # frames a connection may send, sustained
    rate_burst: int = 400
    login_attempts: int = 10  # failed logins per (login name, address) per window
    login_window: int = 300
    login_failures_per_address: int = 50  # failed logins from one address per window, whatever the login name
    login_failures_per_account: int = 10  # failed logins per login name (any address) before the back-off starts
    login_backoff_seconds: float = 1.0  # the first back-off wait; each further failure doubles it
    login_backoff_max: float = 900.0  # the back-off never waits longer than this
    login_known_address_days: float = 30  # an address where a name logged in skips that name's back-off this long
    password_queue: int = 32  # password hashes/checks waiting for the 2 argon2 threads; more get `retry`
    password_checks_per_address: int = 4  # password checks/hashes one client address has under way per process
    max_devices_per_user: int = 100  # live devices per account; a login beyond signs out the least recently seen
    prehello_frames: int = 10  # frames a connection may send before a successful hello (then closed 1008)
    max_prehello_connections: int = 1024  # connections that have not said hello yet, per process (more: 503)
    prehello_per_address: int = 32  # of those, from one client address (limit key; more: 429)
    signups_per_hour: int = 20  # per client address
    qr_login_ttl: int = 120  # seconds a QR login request waits for its approval (docs/protocol.md 3.9)
    qr_logins_per_hour: int = 30  # QR login requests one client address may start per hour
    qr_polls_per_minute: int = 30  # QR login waits one client address may make per minute
    qr_waits_per_address: int = 4  # QR login waits one client address may hold open at once on a process
    qr_wait_seconds: float = 25.0  # one wait answers "pending" after this (the client asks again)
    registration: Registration = "open"  # open: anyone signs up; invite: with a valid invite code; closed: chatctl only
    db_pool_size: int = 10
    db_partitions: int = DEFAULT_PARTITIONS  # hash partitions by room made by 0017 (default 0: none)
    argon2_time_cost: int = 2
    argon2_memory_kib: int = 19 * 1024
    room_idle_seconds: float = 300.0
    user_linger_seconds: float = 5.0
    cursor_flush_seconds: float = 0.0
    typing_seconds: float = 6.0  # typing stops by itself this long after the client's last `typing`
    receipts_per_recipient_max: int = 100  # rooms up to this size get per-recipient status, bigger ones counts
    presence_ttl: float = 30.0  # a node renews its users' presence every third of this; a dead node's go after it
    searches_per_minute: int = 30  # search_users requests per user
    lookups_per_minute: int = 3000  # other users' profiles and presence (per user looked up) per user
    media_dir: Path | None = None  # uploaded files (content-addressed blobs); None: data_dir/media
    max_upload_bytes: int = 100 * 1024 * 1024  # one media upload; larger ones get 413 as soon as they pass it
    media_link_ttl: int = 300  # signed media links (GET /api/media/links) live this long to twice this long
    upload_bytes_per_day: int = 1024**3  # bytes one user may upload per UTC calendar day; 0: no limit
    uploads_at_once: int = 4  # one user's uploads in progress at once, on all processes together
    media_grace_seconds: float = 86400.0  # unreferenced uploads are deleted this long after they were made
    media_gc_seconds: float = 3600.0  # how often the media collector looks for them
    push_delay: float = 10.0  # a message still not delivered to a subscribed user after this makes a push
    push_scan_seconds: float = 1.0  # how often the push scan looks for undelivered messages
    push_lookback: float = 86400.0  # messages older than this never make a push
    push_ttl: int = 86400  # TTL header: how long a push service keeps a push for an offline device
    push_max_attempts: int = 10  # sends of one push before giving up (5xx, 429, network errors)
    push_retry_base: float = 5.0  # first retry after this; doubling each attempt, at most an hour
    push_max_subscriptions: int = 20  # per user; a new one replaces the least recently renewed
    push_allow_insecure: bool = False  # also accept http:// push endpoints on loopback (tests, local servers)
    push_endpoint_hosts: tuple[str, ...] = PUSH_SERVICE_HOSTS  # push services subscriptions may point at
    push_vapid_subject: str = "mailto:admin@localhost"  # VAPID `sub`: a contact for push services
    push_vapid_key: str | None = None  # base64url P-256 private key; None: generated once into data_dir
    log_format: str = "text"  # "json": one JSON object per log line (admin/logjson.py), with actor and room ids
    cluster: bool = True  # tell other chatd processes on this Postgres and Redis (actors/bus.py); false: alone
    gap_check_seconds: float = 2.0  # cluster: how often Postgres is asked what the bus may have dropped
    reuse_port: bool = False  # SO_REUSEPORT on both ports: several processes on one machine share them
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
        need(0 <= self.refresh_retry_seconds <= 300, "refresh_retry_seconds", "must be 0..300 seconds")
        need(self.handshake_timeout > 0, "handshake_timeout", "must be > 0 seconds")
        need(not self.public_ws_url or (urlsplit(self.public_ws_url).scheme in ("ws", "wss")
                                        and bool(urlsplit(self.public_ws_url).hostname)),
             "public_ws_url", f"must be a ws:// or wss:// URL with a host, got {self.public_ws_url!r}")
        need(self.send_timeout > 0, "send_timeout", "must be > 0 seconds")
        need(0.05 <= self.gap_check_seconds <= 60, "gap_check_seconds", "must be 0.05..60 seconds")
        need(not self.reuse_port or (self.port != 0 and self.http_port != 0), "reuse_port",
             "needs fixed ports (CHAT_PORT and CHAT_HTTP_PORT other than 0) to share")
        need(not self.reuse_port or bool(self.database_url and self.redis_url), "reuse_port",
             "the processes sharing a port must share one Postgres and one Redis: set CHAT_DATABASE_URL and "
             "CHAT_REDIS_URL (`chatd --services-only` starts embedded ones and prints their URLs)")
        need(self.max_connections_per_address >= 1, "max_connections_per_address", "must be at least 1")
        try:
            parse_networks(self.trusted_proxies)
        except ValueError as exc:
            need(False, "trusted_proxies", f"{exc} (give comma-separated CIDRs or addresses, IPv4 or IPv6)")
        need(self.forwarded_header.lower() in FORWARDING_HEADERS, "forwarded_header",
             f"must be one of {', '.join(FORWARDING_HEADERS)}, got {self.forwarded_header!r}")
        need(self.outbox_frames >= 8, "outbox_frames", "must be at least 8")
        need(self.rate_per_second > 0 and self.rate_burst >= 1, "rate_per_second", "rate and burst must be > 0")
        need(0.1 <= self.typing_seconds <= 60, "typing_seconds", "must be 0.1..60 seconds")
        need(2 <= self.receipts_per_recipient_max <= MAX_BATCH + 1, "receipts_per_recipient_max",
             f"must be 2 to {MAX_BATCH + 1} (a `receipts` reply lists at most {MAX_BATCH} other members)")
        need(0.3 <= self.presence_ttl <= 3600, "presence_ttl", "must be 0.3..3600 seconds")
        need(self.searches_per_minute >= 1, "searches_per_minute", "must be at least 1")
        need(self.lookups_per_minute >= 100, "lookups_per_minute", "must be at least 100 (one full get_presence)")
        need(1 <= self.max_upload_bytes <= 2**40, "max_upload_bytes", "must be 1 byte..1 TiB")
        need(120 <= self.media_link_ttl <= 3600, "media_link_ttl",
             "must be 120..3600 seconds (the web client renews links 30 s before they expire)")
        need(0 <= self.upload_bytes_per_day <= 2**50, "upload_bytes_per_day", "must be 0 (no limit)..1 PiB")
        need(1 <= self.uploads_at_once <= 1000, "uploads_at_once", "must be 1..1000")
        need(1 <= self.media_grace_seconds <= 365 * 86400, "media_grace_seconds", "must be 1 second..365 days")
        need(0.05 <= self.media_gc_seconds <= 86400, "media_gc_seconds", "must be 0.05..86400 seconds")
        need(0.05 <= self.push_delay <= 86400, "push_delay", "must be 0.05..86400 seconds")
        need(0.01 <= self.push_scan_seconds <= 60, "push_scan_seconds", "must be 0.01..60 seconds")
        need(self.push_delay < self.push_lookback <= 30 * 86400, "push_lookback",
             "must be more than push_delay and at most 30 days")
        need(0 <= self.push_ttl <= 28 * 86400, "push_ttl", "must be 0..2419200 seconds (4 weeks)")
        need(1 <= self.push_max_attempts <= 100, "push_max_attempts", "must be 1..100")
        need(0.01 <= self.push_retry_base <= 3600, "push_retry_base", "must be 0.01..3600 seconds")
        need(1 <= self.push_max_subscriptions <= 1000, "push_max_subscriptions", "must be 1..1000")
        need(bool(self.push_endpoint_hosts), "push_endpoint_hosts", "name at least one host, or * for any")
        need(self.push_vapid_subject.startswith(("mailto:", "https://")), "push_vapid_subject",
             "must be a mailto: or https:// URL")
        need(self.push_vapid_key is None or vapid_key_ok(self.push_vapid_key), "push_vapid_key",
             "must be a base64url P-256 private key (32 bytes)")
        need(self.log_format in ("text", "json"), "log_format", f"must be text or json, got {self.log_format!r}")
        need(self.redis_cluster in REDIS_MODES, "redis_cluster",
             f"must be one of {', '.join(REDIS_MODES)}, got {self.redis_cluster!r}")
        need(self.registration in REGISTRATION_MODES, "registration",
             f"must be one of {', '.join(REGISTRATION_MODES)}, got {self.registration!r}")
        need(self.login_attempts >= 1, "login_attempts", "must be at least 1")
        need(10 <= self.login_window <= 86400, "login_window", "must be 10..86400 seconds")
        need(self.login_failures_per_address >= 1, "login_failures_per_address", "must be at least 1")
        need(self.login_failures_per_account >= 1, "login_failures_per_account", "must be at least 1")
        need(0.01 <= self.login_backoff_seconds <= self.login_backoff_max <= 86400, "login_backoff_seconds",
             "must be at least 0.01 s and at most CHAT_LOGIN_BACKOFF_MAX (at most 86400 s)")
        need(0 <= self.password_queue <= 100_000, "password_queue", "must be 0..100000")
        need(1 <= self.password_checks_per_address <= 100_000, "password_checks_per_address", "must be 1..100000")
        need(1 <= self.max_devices_per_user <= 100_000, "max_devices_per_user", "must be 1..100000")
        need(0 <= self.login_known_address_days <= 3650, "login_known_address_days", "must be 0..3650")
        need(1 <= self.prehello_frames <= 10_000, "prehello_frames", "must be 1..10000")
        need(self.max_prehello_connections >= 1, "max_prehello_connections", "must be at least 1")
        need(self.prehello_per_address >= 1, "prehello_per_address", "must be at least 1")
        need(1 <= self.qr_login_ttl <= 600, "qr_login_ttl", "must be 1..600 seconds")
        need(self.qr_logins_per_hour >= 1, "qr_logins_per_hour", "must be at least 1")
        need(self.qr_polls_per_minute >= 1, "qr_polls_per_minute", "must be at least 1")
        need(self.qr_waits_per_address >= 1, "qr_waits_per_address", "must be at least 1")
        need(0.1 <= self.qr_wait_seconds <= 60, "qr_wait_seconds",
             "must be 0.1..60 seconds (proxies close idle requests after about a minute)")
        need(self.db_pool_size >= 2, "db_pool_size", "must be at least 2")
        need(0 <= self.db_partitions <= MAX_PARTITIONS, "db_partitions",
             f"must be 0..{MAX_PARTITIONS} (0: unpartitioned), got {self.db_partitions}")
        need(self.argon2_memory_kib >= 8, "argon2_memory_kib", "must be at least 8")
        for var in ("database_url", "database_replica_url", "redis_url"):
            url = getattr(self, var)
            schemes = ("postgres://", "postgresql://") if var.startswith("database") else \
                ("redis://", "rediss://", "unix://")
            need(url is None or url.startswith(schemes), var, f"must start with {' or '.join(schemes)}")
        need(self.database_replica_url is None or self.database_url is not None, "database_replica_url",
             "a replica streams from a Postgres you run: set CHAT_DATABASE_URL to its primary too")
        need(self.database_replica_url is None or self.database_replica_url != self.database_url,
             "database_replica_url", "must name the replica, not the primary (CHAT_DATABASE_URL)")
        need(self.jwt_secret is None or len(self.jwt_secret) >= 32, "jwt_secret", "needs at least 32 characters")
        return self

    @cached_property
    def trusted_networks(self) -> tuple[IPNetwork, ...]:
        """CHAT_TRUSTED_PROXIES parsed (runtime/client_address.py): whose forwarding headers are believed."""
        return parse_networks(self.trusted_proxies)

    @property
    def media_root(self) -> Path:
        """Where uploaded files are kept: media_dir, else data_dir/media."""
        return self.media_dir or self.data_dir / "media"

    def with_secret(self) -> Config:
        """Fill in the JWT secret and the VAPID key from data_dir (each created on first start, mode 0600)."""
        jwt_secret = self.jwt_secret or self._kept("jwt-secret", lambda: secrets.token_urlsafe(48))
        vapid_key = self.push_vapid_key or self._kept("vapid-private-key", new_vapid_key)
        return replace(self, jwt_secret=jwt_secret, push_vapid_key=vapid_key)

    def _kept(self, name: str, make: Callable[[], str]) -> str:
        """The value kept in data_dir/name, made first if absent (processes starting together agree on one)."""
        return kept_secret(self.data_dir, name, make)


def new_vapid_key() -> str:
    """A P-256 private key as VAPID tools write it: the 32-byte scalar, base64url without padding."""
    while True:
        raw = secrets.token_bytes(32)
        if 0 < int.from_bytes(raw, "big") < P256_ORDER:
            return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def vapid_key_ok(key: str) -> bool:
    if not re.fullmatch(r"[A-Za-z0-9_-]{43}=?", key):
        return False
    try:
        raw = base64.urlsafe_b64decode(key + "=" * (-len(key) % 4))
    except (binascii.Error, ValueError):
        return False
    return len(raw) == 32 and 0 < int.from_bytes(raw, "big") < P256_ORDER


def _parse(name: str, tp: Any, raw: str) -> Any:
    tp = str(tp)
    try:
        if tp.startswith("int"):
            return int(raw)
        if tp.startswith("float"):
            return float(raw)
        if tp.startswith("bool"):
            if raw.strip().lower() not in ("1", "true", "yes", "on", "0", "false", "no", "off"):
                raise ValueError(raw)
            return raw.strip().lower() in ("1", "true", "yes", "on")
        if tp.startswith("Path"):
            return Path(raw)
        if tp.startswith("tuple"):
            return tuple(part.strip() for part in raw.split(",") if part.strip())
    except ValueError:
        raise ConfigError(f"{name}: expected {tp.split(' ')[0]}, got {raw!r}") from None
    return raw
