"""Configuration as an operator meets it: every bad value is refused at start with the variable named."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from chatd.main import main
from chatd.runtime.config import Config, ConfigError

URLS = {"CHAT_DATABASE_URL": "postgresql://db/chat", "CHAT_REDIS_URL": "redis://cache/0"}


@pytest.mark.parametrize(("env", "named"), [
    ({"CHAT_PORT": "eighty"}, "CHAT_PORT: expected int, got 'eighty'"),
    ({"CHAT_PORT": "70000"}, "CHAT_PORT: must be 0..65535"),
    ({"CHAT_CLUSTER": "maybe"}, "CHAT_CLUSTER: expected bool"),
    ({"CHAT_GAP_CHECK_SECONDS": "nan"}, "CHAT_GAP_CHECK_SECONDS: must be 0.05..60"),
    ({"CHAT_GAP_CHECK_SECONDS": "0"}, "CHAT_GAP_CHECK_SECONDS"),
    ({"CHAT_REUSE_PORT": "true", "CHAT_PORT": "0", "CHAT_HTTP_PORT": "9000", **URLS}, "CHAT_REUSE_PORT: needs fixed"),
    ({"CHAT_REUSE_PORT": "true", "CHAT_PORT": "9001", "CHAT_HTTP_PORT": "9000"}, "set CHAT_DATABASE_URL and"),
    ({"CHAT_JWT_SECRET": "short"}, "CHAT_JWT_SECRET: needs at least 32"),
    ({"CHAT_SEND_TIMEOUT": "0"}, "CHAT_SEND_TIMEOUT: must be > 0 seconds"),
    ({"CHAT_TRUSTED_PROXIES": "10.0.0.0/8, nginx.local"},
     "CHAT_TRUSTED_PROXIES: not an IP address or network: 'nginx.local'"),
    ({"CHAT_PUBLIC_WS_URL": "https://chat.example/"}, "CHAT_PUBLIC_WS_URL: must be a ws:// or wss:// URL"),
    ({"CHAT_TRUSTED_PROXIES": "10.0.0.0/33"}, "CHAT_TRUSTED_PROXIES: not an IP address or network: '10.0.0.0/33'"),
    ({"CHAT_LOGIN_ATTEMPTS": "0"}, "CHAT_LOGIN_ATTEMPTS: must be at least 1"),
    ({"CHAT_LOGIN_FAILURES_PER_ADDRESS": "0"}, "CHAT_LOGIN_FAILURES_PER_ADDRESS: must be at least 1"),
    ({"CHAT_LOGIN_FAILURES_PER_ACCOUNT": "0"}, "CHAT_LOGIN_FAILURES_PER_ACCOUNT: must be at least 1"),
    ({"CHAT_LOGIN_BACKOFF_SECONDS": "2000"}, "CHAT_LOGIN_BACKOFF_SECONDS: must be at least 0.01 s and at most"),
    ({"CHAT_LOGIN_BACKOFF_MAX": "nan"}, "CHAT_LOGIN_BACKOFF_SECONDS"),
    ({"CHAT_PASSWORD_QUEUE": "-1"}, "CHAT_PASSWORD_QUEUE: must be 0..100000"),
    ({"CHAT_RECEIPTS_PER_RECIPIENT_MAX": "500"}, "CHAT_RECEIPTS_PER_RECIPIENT_MAX: must be 2 to 101"),
    ({"CHAT_PASSWORD_CHECKS_PER_ADDRESS": "0"}, "CHAT_PASSWORD_CHECKS_PER_ADDRESS: must be 1..100000"),
    ({"CHAT_MAX_DEVICES_PER_USER": "0"}, "CHAT_MAX_DEVICES_PER_USER: must be 1..100000"),
    ({"CHAT_LOGIN_KNOWN_ADDRESS_DAYS": "nan"}, "CHAT_LOGIN_KNOWN_ADDRESS_DAYS: must be 0..3650"),
    ({"CHAT_PREHELLO_FRAMES": "0"}, "CHAT_PREHELLO_FRAMES: must be 1..10000"),
    ({"CHAT_MAX_PREHELLO_CONNECTIONS": "0"}, "CHAT_MAX_PREHELLO_CONNECTIONS: must be at least 1"),
    ({"CHAT_DATABASE_REPLICA_URL": "mysql://replica/chat", **URLS},
     "CHAT_DATABASE_REPLICA_URL: must start with postgres:// or postgresql://"),
    ({"CHAT_DATABASE_REPLICA_URL": "postgresql://replica/chat"}, "CHAT_DATABASE_REPLICA_URL: a replica streams from"),
    ({"CHAT_DATABASE_REPLICA_URL": URLS["CHAT_DATABASE_URL"], **URLS},
     "CHAT_DATABASE_REPLICA_URL: must name the replica"),
    ({"CHAT_REDIS_CLUSTER": "maybe"}, "CHAT_REDIS_CLUSTER: must be one of auto, yes, no"),
    ({"CHAT_DB_PARTITIONS": "-1"}, "CHAT_DB_PARTITIONS: must be 0..1024"),
    ({"CHAT_DB_PARTITIONS": "2048"}, "CHAT_DB_PARTITIONS: must be 0..1024"),
    ({"CHAT_DB_PARTITIONS": "16 partitions"}, "CHAT_DB_PARTITIONS: expected int"),
])
def test_bad_values_are_refused_naming_the_variable(env: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigError, match=named.replace("(", r"\(").replace(".", r"\.")):
        Config.from_env(env)


def test_a_cluster_member_on_a_shared_port() -> None:
    config = Config.from_env({"CHAT_REUSE_PORT": "yes", "CHAT_PORT": "9001", "CHAT_HTTP_PORT": "9002",
                              "CHAT_NODE_NAME": "web-3", **URLS})
    assert config.reuse_port and config.cluster and config.node_name == "web-3"
    assert Config.from_env({"CHAT_CLUSTER": "off"}).cluster is False


def test_a_replica_is_optional() -> None:
    assert Config.from_env(URLS).database_replica_url is None  # every read on the primary
    replica = "postgresql://chat@replica.internal/chat"
    assert Config.from_env({"CHAT_DATABASE_REPLICA_URL": replica, **URLS}).database_replica_url == replica


def test_the_per_room_tables_are_unpartitioned_unless_asked() -> None:
    assert Config.from_env(URLS).db_partitions == 0  # opt-in: docs/storage.md section 4
    assert Config.from_env({"CHAT_DB_PARTITIONS": "16", **URLS}).db_partitions == 16


def test_trusted_proxies_take_cidrs_and_addresses_of_both_families() -> None:
    config = Config.from_env({"CHAT_TRUSTED_PROXIES": " 10.0.0.1/8 ,127.0.0.1, fd00::/8,::1"})
    assert [str(n) for n in config.trusted_networks] == ["10.0.0.0/8", "127.0.0.1/32", "fd00::/8", "::1/128"]
    assert Config.from_env({}).trusted_networks == ()


def test_chatd_exits_2_and_says_what_is_wrong(monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("CHAT_GAP_CHECK_SECONDS", "-1")
    assert main([]) == 2
    assert "configuration error: CHAT_GAP_CHECK_SECONDS: must be 0.05..60 seconds" in capsys.readouterr().err


def test_processes_starting_together_agree_on_one_secret(tmp_path: Path) -> None:
    secrets: list[str] = []
    start = threading.Barrier(8)

    def boot() -> None:
        start.wait()
        secrets.append(Config(data_dir=tmp_path).with_secret().jwt_secret or "")

    threads = [threading.Thread(target=boot) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(secrets) == 8 and len(set(secrets)) == 1 and len(secrets[0]) >= 32
    assert sorted(p.name for p in tmp_path.iterdir()) == ["jwt-secret", "vapid-private-key"], "no drafts left"
