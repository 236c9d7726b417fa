"""Synapse (the Matrix homeserver, `matrix-synapse` from PyPI) as a benchmark peer, on the local Postgres.

On __enter__: install Synapse into bench/.work/peers-venv if missing, create a fresh UTF8/C database, write a
homeserver.yaml (loopback client listener, shared-secret registration, rate limits and presence off), start
the homeserver pinned to core 0. run() drives it from a subprocess pinned to core 1 (bench/peers/_synapse_driver.py).
On __exit__: stop it, drop the database, remove its files.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import time
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Any

from bench.peers import _common as c

PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres"}
SERVER_NAME = "bench.local"
MAX_POLLERS = 100  # receiving clients long-polling /sync at once; larger rooms get passive members
START_TIMEOUT_S = 180.0
DRAIN_S = 15.0  # after the send phase, how long to wait for outstanding deliveries
UNLIMITED = {"per_second": 1_000_000, "burst_count": 1_000_000}


def _psql(sql: str, db: str = "postgres") -> str:
    out = subprocess.run(["psql", "-h", str(PG["host"]), "-p", str(PG["port"]), "-U", str(PG["user"]), "-d", db,
                          "-v", "ON_ERROR_STOP=1", "-At", "-c", sql], check=True, capture_output=True, text=True)
    return out.stdout


class SynapsePeer:
    name = "synapse"
    scenarios = {"fanout", "dm"}

    def __init__(self, workdir: Path) -> None:
        self.dir = Path(workdir).resolve() / "synapse"
        self.port = 0
        self.db = ""
        self.secret = ""
        self.proc: subprocess.Popen[bytes] | None = None
        self._pg_pids: set[int] = set()

    # -- lifecycle ----------------------------------------------------------------------------------------

    def __enter__(self) -> SynapsePeer:
        py = c.peer_python()
        try:
            self._configure(py)
            self._start(py)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self.proc is not None:
            c.stop_process_group(self.proc, 30)
            self.proc = None
        if self.db:
            try:
                _psql(f'DROP DATABASE IF EXISTS "{self.db}" WITH (FORCE)')
            except subprocess.CalledProcessError as e:
                c.log(f"could not drop database {self.db}: {e.stderr}")
            self.db = ""
        c.keep_logs(self.dir, ["homeserver.log", "stdout.log", "driver.log"])
        c.rm_tree(self.dir)

    def _configure(self, py: Path) -> None:
        c.rm_tree(self.dir)
        (self.dir / "media").mkdir(parents=True)
        self.port = c.free_port()
        self.secret = secrets.token_hex(16)
        self.db = f"synapse_bench_{os.getpid()}_{secrets.token_hex(3)}"
        _psql(f"CREATE DATABASE \"{self.db}\" ENCODING 'UTF8' LC_COLLATE='C' LC_CTYPE='C' TEMPLATE template0")
        log_cfg = self.dir / "log.yaml"
        log_cfg.write_text(json.dumps({
            "version": 1,
            "formatters": {"f": {"format": "%(asctime)s %(name)s %(levelname)s %(message)s"}},
            "handlers": {"file": {"class": "logging.FileHandler", "formatter": "f",
                                  "filename": str(self.dir / "homeserver.log")}},
            "root": {"level": "WARNING", "handlers": ["file"]},
            "disable_existing_loggers": False}))
        cfg = {
            "server_name": SERVER_NAME,
            "pid_file": str(self.dir / "homeserver.pid"),
            "listeners": [{"port": self.port, "bind_addresses": ["127.0.0.1"], "type": "http", "tls": False,
                           "x_forwarded": False, "resources": [{"names": ["client"], "compress": False}]}],
            "database": {"name": "psycopg2", "args": {**PG, "database": self.db, "cp_min": 5, "cp_max": 10}},
            "log_config": str(log_cfg),
            "media_store_path": str(self.dir / "media"),
            "signing_key_path": str(self.dir / "signing.key"),
            "registration_shared_secret": self.secret,
            "enable_registration": False,
            "report_stats": False,
            "enable_metrics": False,
            "macaroon_secret_key": secrets.token_hex(16),
            "form_secret": secrets.token_hex(16),
            "trusted_key_servers": [],
            "suppress_key_server_warning": True,
            "federation_domain_whitelist": [],
            "url_preview_enabled": False,
            "presence": {"enabled": False},
            "bcrypt_rounds": 4,
            "rc_message": UNLIMITED,
            "rc_registration": UNLIMITED,
            "rc_registration_token_validity": UNLIMITED,
            "rc_login": {"address": UNLIMITED, "account": UNLIMITED, "failed_attempts": UNLIMITED},
            "rc_joins": {"local": UNLIMITED, "remote": UNLIMITED},
            "rc_joins_per_room": UNLIMITED,
            "rc_invites": {"per_room": UNLIMITED, "per_user": UNLIMITED, "per_issuer": UNLIMITED},
            "rc_room_creation": UNLIMITED,
            "rc_presence": {"per_user": UNLIMITED},
            "rc_admin_redaction": UNLIMITED,
        }
        # JSON is YAML: Synapse reads this as its homeserver.yaml
        (self.dir / "homeserver.yaml").write_text(json.dumps(cfg, indent=1))
        subprocess.run([py, "-m", "synapse.app.homeserver", "-c", str(self.dir / "homeserver.yaml"),
                        "--generate-keys"], check=True, capture_output=True, cwd=self.dir)

    def _start(self, py: Path) -> None:
        out = open(self.dir / "stdout.log", "wb")
        self.proc = subprocess.Popen(
            ["taskset", "-c", str(c.SERVER_CORE), str(py), "-m", "synapse.app.homeserver",
             "-c", str(self.dir / "homeserver.yaml")],
            cwd=self.dir, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        out.close()
        deadline = time.monotonic() + START_TIMEOUT_S
        url = f"http://127.0.0.1:{self.port}/health"
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"synapse exited with {self.proc.returncode}: "
                                   + (self.dir / "stdout.log").read_text(errors="replace")[-3000:])
            try:
                with urllib.request.urlopen(url, timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"synapse not healthy after {START_TIMEOUT_S:.0f} s")
            time.sleep(0.5)
        c.pin_tree(self.proc.pid, c.SERVER_CORE)
        c.log(f"synapse up on 127.0.0.1:{self.port}, database {self.db}")

    def _pg_backends(self) -> list[int]:
        try:
            out = _psql(f"SELECT pid FROM pg_stat_activity WHERE datname = '{self.db}'")
        except subprocess.CalledProcessError:
            return []
        pids = [int(x) for x in out.split()]
        self._pg_pids.update(pids)
        return pids

    # -- scenarios ----------------------------------------------------------------------------------------

    def run(self, scenario: str, params: dict[str, Any]) -> dict[str, Any] | None:
        if scenario not in self.scenarios:
            return None
        if self.proc is None or self.proc.poll() is not None:
            raise RuntimeError("synapse is not running (use the peer as a context manager)")
        from bench.schema import make_result

        lat_path = self.dir / f"latencies-{secrets.token_hex(4)}.bin"
        args = {"base_url": f"http://127.0.0.1:{self.port}", "shared_secret": self.secret,
                "state_path": str(self.dir / "driver-state.json"), "latency_path": str(lat_path),
                "scenario": scenario, "params": params, "max_pollers": MAX_POLLERS, "drain_s": DRAIN_S,
                "rtt_timeout_s": 10.0}
        meter = c.CpuMeter(self.proc.pid, self._pg_backends)
        # setup (registering users, joining a room, uploading filters) grows with the number of users
        users = int(params.get("members", 0)) + 2 * int(params.get("pairs", 0))
        bound = float(params.get("duration", 10)) + DRAIN_S + 2.0 * users
        raw = c.run_driver("bench.peers._synapse_driver", args, meter, bound, self.dir / "driver.log")
        total, synapse_only = meter.total_s(), meter.tree_s()
        notes: list[str] = list(raw["notes"])
        if total is not None and synapse_only is not None:
            notes.append(f"server_cpu_s = Synapse process {synapse_only:.2f} s + its Postgres backends "
                         f"{total - synapse_only:.2f} s (Postgres is shared and not pinned)")
        notes.append(meter.contention_note())
        notes.append("out_of_order is per sender (Matrix gives no room sequence number to check)")
        recipients = "pollers" if scenario == "fanout" else "the other side"
        notes.append(f"expected = sent x recipients ({recipients}); the sender's own echo is not counted")
        return dict(make_result(
            peer=self.name, scenario=scenario, params=params, sent=raw["sent"], expected=raw["expected"],
            delivered=raw["delivered"], duplicates=raw["duplicates"], out_of_order=raw["out_of_order"],
            duration_s=raw["duration_s"], server_cpu_s=total, latencies_s=c.read_latencies(lat_path),
            notes="; ".join(n for n in notes if n)))
