"""The deployment files under deploy/ (docs/deployment.md) say what the server needs: the compose file runs
two chatd that share what must be shared behind a proxy they trust, the image runs the server unprivileged
from the lock with the built web client, the systemd unit is confined. Every CHAT_* name they set is one the
server reads, so a typo cannot pass for a setting.

`docker compose config`, `caddy adapt` and `systemd-analyze verify` check the files as the tools read them
where those tools are installed; the rest reads the files here."""

from __future__ import annotations

import configparser
import json
import os
import re
import shutil
import subprocess
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest
import yaml

from chatd.runtime.config import Config

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
SECRETS = {"POSTGRES_PASSWORD": "pg-secret", "REDIS_PASSWORD": "redis-secret", "CHAT_JWT_SECRET": "j" * 48,
           "CHAT_PUSH_VAPID_KEY": "v" * 43}
# what the server reads from the environment: Config's fields, and the web client's directory (httpapi/webapp.py)
SETTINGS = {f"CHAT_{f.name.upper()}" for f in fields(Config)} | {"CHAT_WEB_DIR"}
# what two processes must agree on (docs/deployment.md, "Several processes")
SHARED = ("CHAT_DATABASE_URL", "CHAT_REDIS_URL", "CHAT_REDIS_PREFIX", "CHAT_JWT_SECRET", "CHAT_PUSH_VAPID_KEY",
          "CHAT_MEDIA_DIR")
DEFAULTS = Config()


def compose() -> dict[str, Any]:
    """compose.yaml as compose reads it: the YAML first, then its ${VAR} references filled in from SECRETS
    (or their defaults)."""
    def fill(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: fill(v) for k, v in value.items()}
        if isinstance(value, list):
            return [fill(v) for v in value]
        if isinstance(value, str):
            value = re.sub(r"(?<!\$)\$\{(?P<name>\w+)(?::[-?](?P<default>[^}]*))?\}",
                           lambda m: SECRETS.get(m["name"]) or m["default"] or "", value)
            return value.replace("$$", "$")
        return value
    loaded: dict[str, Any] = fill(yaml.safe_load((DEPLOY / "compose.yaml").read_text()))
    return loaded


def chatd_services(spec: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: s for name, s in spec["services"].items() if s.get("image") == "chatd:local"}


def test_compose_runs_two_chatd_that_share_what_must_be_shared() -> None:
    spec = compose()
    chatd = chatd_services(spec)
    assert len(chatd) == 2
    envs = [s["environment"] for s in chatd.values()]
    for var in SHARED:
        assert envs[0][var] and envs[0][var] == envs[1][var], var
    assert len({e["CHAT_NODE_NAME"] for e in envs}) == 2
    assert all(e["CHAT_DATABASE_URL"].split("@")[1].startswith("postgres:") for e in envs)
    assert all(e["CHAT_REDIS_URL"].split("@")[1].startswith("redis:") for e in envs)
    for service in chatd.values():
        assert service["build"] == {"context": "..", "dockerfile": "deploy/Dockerfile"}
        assert f"media:{service['environment']['CHAT_MEDIA_DIR']}" in service["volumes"]
        assert {d["condition"] for d in service["depends_on"].values()} == {"service_healthy"}
        assert set(service["depends_on"]) == {"postgres", "redis"}
        assert set(service["environment"]) <= SETTINGS, set(service["environment"]) - SETTINGS


def test_compose_chatd_trust_the_proxy_and_only_it() -> None:
    spec = compose()
    proxy = spec["services"]["proxy"]
    address = proxy["networks"]["chat"]["ipv4_address"]
    for service in chatd_services(spec).values():
        env = service["environment"]
        assert env["CHAT_TRUSTED_PROXIES"] == address
        assert env.get("CHAT_FORWARDED_HEADER", DEFAULTS.forwarded_header).lower() == "x-forwarded-for"
        assert env["CHAT_PUBLIC_WS_URL"].startswith(("ws://", "wss://")) and env["CHAT_ALLOWED_ORIGINS"]
    assert "./Caddyfile:/etc/caddy/Caddyfile:ro" in proxy["volumes"]
    caddyfile = (DEPLOY / "Caddyfile").read_text()
    for name in chatd_services(spec):  # the proxy sends websockets and HTTP to every chatd
        assert f"{name}:{DEFAULTS.port}" in caddyfile and f"{name}:{DEFAULTS.http_port}" in caddyfile


def test_caddy_sends_upgrades_to_the_websocket_port_and_the_rest_to_http() -> None:
    caddy = shutil.which("caddy")
    if caddy is None:
        pytest.skip("caddy is not installed")
    out = subprocess.run([caddy, "adapt", "--adapter", "caddyfile", "--config", str(DEPLOY / "Caddyfile")],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    routes = json.loads(out.stdout)["apps"]["http"]["servers"]["srv0"]["routes"]

    def ports(route: dict[str, Any]) -> set[str]:
        return set(re.findall(r'"dial": "[\w-]+:(\d+)"', json.dumps(route)))
    upgrade = [r for r in routes if "Upgrade" in json.dumps(r.get("match", []))]
    rest = [r for r in routes if "match" not in r and ports(r)]
    assert [ports(r) for r in upgrade] == [{str(DEFAULTS.port)}]
    assert [ports(r) for r in rest] == [{str(DEFAULTS.http_port)}]


def docker_compose() -> list[str]:
    docker = shutil.which("docker")
    if docker and subprocess.run([docker, "compose", "version"], capture_output=True, timeout=60).returncode == 0:
        return [docker, "compose"]
    pytest.skip("`docker compose` is not installed")


def test_docker_compose_reads_the_compose_file() -> None:
    command = [*docker_compose(), "-f", str(DEPLOY / "compose.yaml")]
    # none of this shell's settings, nor a deploy/.env made for a real run (--env-file /dev/null)
    plain = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "DOCKER_CONFIG")}
    ok = subprocess.run([*command, "--env-file", "/dev/null", "config", "--format", "json"], capture_output=True,
                        text=True, timeout=120, env=plain | SECRETS)
    assert ok.returncode == 0, ok.stderr
    assert {"chatd-1", "chatd-2", "proxy", "postgres", "redis"} <= set(json.loads(ok.stdout)["services"])
    missing = subprocess.run([*command, "--env-file", "/dev/null", "config", "--quiet"], capture_output=True,
                             text=True, timeout=120, env=plain)
    assert missing.returncode != 0 and "deploy/make-env.sh" in missing.stderr  # no secret: no start


def dockerfile_stages() -> list[list[str]]:
    """The Dockerfile's instructions (continuation lines joined), one list per FROM."""
    text = re.sub(r"\\\n\s*", " ", (DEPLOY / "Dockerfile").read_text())
    stages: list[list[str]] = []
    for line in (ln.strip() for ln in text.splitlines()):
        if line.startswith("FROM "):
            stages.append([])
        if line and not line.startswith("#") and stages:
            stages[-1].append(line)
    return stages


def test_the_image_builds_the_client_and_runs_the_locked_server_unprivileged() -> None:
    stages = dockerfile_stages()
    text = "\n".join(map("\n".join, stages))
    assert len(stages) >= 3 and "npm run build" in "\n".join(stages[0])
    assert "pip install --require-hashes --no-deps -r /tmp/server.txt" in text
    assert "COPY requirements/server.txt /tmp/server.txt" in text
    final = stages[-1]
    user = [line.split()[1] for line in final if line.startswith("USER ")]
    assert user and user[-1] not in ("root", "0")
    web_dir = re.search(r"CHAT_WEB_DIR=(\S+)", text)
    assert web_dir and f"COPY --from=web /web/dist {web_dir[1]}" in final
    assert any(line.startswith("HEALTHCHECK ") and "/healthz" in line for line in final)
    assert f"EXPOSE {DEFAULTS.port} {DEFAULTS.http_port}" in final
    assert set(re.findall(r"\b(CHAT_[A-Z_]+)=", text)) <= SETTINGS
    ignored = (DEPLOY / "Dockerfile.dockerignore").read_text().split()
    assert {"**/.venv", "**/node_modules", ".chatd-data", "deploy/.env"} <= set(ignored)


def unit() -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser(strict=False)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string((DEPLOY / "chatd@.service").read_text())
    return parser


def test_the_systemd_unit_is_confined_and_reads_its_settings_from_a_file() -> None:
    service = unit()["Service"]
    assert service["ExecStart"].endswith("/bin/chatd") and service["EnvironmentFile"].startswith("/etc/chatd/")
    assert service["DynamicUser"] == "yes" and service["StateDirectory"] == "chatd"
    for setting, value in (("ProtectSystem", "strict"), ("ProtectHome", "yes"), ("NoNewPrivileges", "yes"),
                           ("PrivateTmp", "yes"), ("CapabilityBoundingSet", "")):
        assert service[setting] == value, setting
    environment = dict(pair.split("=", 1) for pair in service["Environment"].split())
    assert set(environment) <= SETTINGS and environment["CHAT_DATA_DIR"] == "/var/lib/chatd"
    example = [line.split("=", 1)[0] for line in (DEPLOY / "chatd.env.example").read_text().splitlines()
               if line and not line.startswith("#")]
    assert set(example) <= SETTINGS and {"CHAT_DATABASE_URL", "CHAT_REDIS_URL", "CHAT_JWT_SECRET"} <= set(example)


def test_systemd_accepts_the_unit(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed")
    # an instance of the template, started by a command that exists here (verify checks ExecStart= is there)
    text = (DEPLOY / "chatd@.service").read_text().replace("ExecStart=/opt/chatd/venv/bin/chatd", "ExecStart=/bin/true")
    (tmp_path / "chatd@1.service").write_text(text)
    out = subprocess.run([analyze, "verify", str(tmp_path / "chatd@1.service")], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0 and "chatd@1.service" not in out.stderr, out.stderr
