"""ejabberd (Erlang XMPP server, Debian package `ejabberd`) as a benchmark peer, with MUC rooms for groups.

On __enter__: `apt-get install ejabberd` if missing (the system service is never used), write an ejabberd.yml
and ejabberdctl.cfg of its own under the work dir (c2s on loopback without starttls, mod_http_api on loopback,
mod_muc without history or presence broadcast, Mnesia spool in the work dir, a node name and distribution port
of its own so no shared epmd is involved), start `ejabberdctl foreground` pinned to core 0 and check
`ejabberdctl register`. run() drives it from a subprocess pinned to core 1 (bench/peers/_xmpp_driver.py).
On __exit__: `ejabberdctl stop`, then its process group is ended and its files removed.
"""

from __future__ import annotations

import secrets
import subprocess
import time
from pathlib import Path
from types import TracebackType
from typing import Any

from bench.peers import _common as c

EJABBERDCTL = Path("/usr/sbin/ejabberdctl")
DOMAIN = "bench.local"
MUC_HOST = f"conference.{DOMAIN}"
START_TIMEOUT_S = 90.0
DRAIN_S = 10.0
MAX_ROOM = 5000

CONFIG = """\
hosts:
  - "{domain}"
loglevel: warning
log_rotate_count: 0
hide_sensitive_log_data: true
auth_method: internal
auth_password_format: plain
max_fsm_queue: 1000000
cache_size: 100000
listen:
  -
    port: {c2s_port}
    ip: "127.0.0.1"
    module: ejabberd_c2s
    max_stanza_size: 262144
    shaper: none
    access: c2s
    starttls: false
    starttls_required: false
  -
    port: {api_port}
    ip: "127.0.0.1"
    module: ejabberd_http
    request_handlers:
      /api: mod_http_api
acl:
  loopback:
    ip:
      - 127.0.0.0/8
access_rules:
  c2s:
    allow: all
  local:
    allow: all
  muc_create:
    allow: all
api_permissions:
  "bench on loopback":
    from:
      - ejabberd_ctl
      - mod_http_api
    who: all
    what: "*"
shaper_rules:
  max_user_sessions: 10
  c2s_shaper: none
  s2s_shaper: none
s2s_access: none
modules:
  mod_http_api: {{}}
  mod_disco: {{}}
  mod_muc:
    host: "{muc_host}"
    access: all
    access_create: all
    access_persistent: all
    access_admin: none
    history_size: 0
    max_users: {max_room}
    max_users_admin_threshold: 5
    max_user_conferences: 1000
    max_users_presence: {max_room}
    default_room_options:
      persistent: false
      mam: false
      logging: false
      max_users: {max_room}
      presence_broadcast: []
"""

CTL_CONFIG = """\
ERLANG_NODE={node}
INSTALLUSER=root
EXEC_CMD=as_current_user
ERL_DIST_PORT={dist_port}
INET_DIST_INTERFACE=127.0.0.1
ERL_OPTIONS="-env ERL_CRASH_DUMP_BYTES 0 -setcookie {cookie}"
EJABBERD_BYPASS_WARNINGS=true
EJABBERD_PID_PATH={dir}/ejabberd.pid
"""


class EjabberdPeer:
    name = "ejabberd"
    scenarios = {"fanout", "dm"}

    def __init__(self, workdir: Path) -> None:
        self.dir = Path(workdir).resolve() / "ejabberd"
        self.c2s_port = 0
        self.api_port = 0
        self.proc: subprocess.Popen[bytes] | None = None

    # -- lifecycle ----------------------------------------------------------------------------------------

    def __enter__(self) -> EjabberdPeer:
        c.apt_install("ejabberd", EJABBERDCTL)
        c.peer_python()
        try:
            self._configure()
            self._start()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self.proc is not None:
            if self.proc.poll() is None:
                try:
                    self.ctl("stop", timeout_s=30)
                    self.proc.wait(timeout=30)
                except (subprocess.SubprocessError, OSError) as e:
                    c.log(f"ejabberdctl stop: {e!r}")
            c.stop_process_group(self.proc, 10)
            self.proc = None
        c.keep_logs(self.dir, ["ejabberd.log", "error.log", "stdout.log", "driver.log"])
        c.rm_tree(self.dir)

    def _argv(self, *args: str) -> list[str]:
        return [str(EJABBERDCTL), "--config-dir", str(self.dir), "--config", str(self.dir / "ejabberd.yml"),
                "--ctl-config", str(self.dir / "ejabberdctl.cfg"), "--logs", str(self.dir),
                "--spool", str(self.dir / "spool"), *args]

    def ctl(self, *args: str, timeout_s: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(self._argv(*args), capture_output=True, text=True, timeout=timeout_s)

    def _configure(self) -> None:
        c.rm_tree(self.dir)
        (self.dir / "spool").mkdir(parents=True)
        self.c2s_port, self.api_port = c.free_port(), c.free_port()
        (self.dir / "ejabberd.yml").write_text(CONFIG.format(
            domain=DOMAIN, muc_host=MUC_HOST, c2s_port=self.c2s_port, api_port=self.api_port, max_room=MAX_ROOM))
        (self.dir / "ejabberdctl.cfg").write_text(CTL_CONFIG.format(
            node=f"ejabberd_bench_{secrets.token_hex(3)}@localhost", dist_port=c.free_port(),
            cookie=secrets.token_hex(12), dir=self.dir))
        (self.dir / "inetrc").write_text('{lookup,["file","native"]}.\n{host,{127,0,0,1}, ["localhost"]}.\n')

    def _start(self) -> None:
        out = open(self.dir / "stdout.log", "wb")
        self.proc = subprocess.Popen(
            ["taskset", "-c", str(c.SERVER_CORE), *self._argv("foreground")], cwd=self.dir, stdout=out,
            stderr=subprocess.STDOUT, start_new_session=True)
        out.close()
        alive = lambda: self.proc is not None and self.proc.poll() is None  # noqa: E731
        try:
            c.wait_port(self.c2s_port, START_TIMEOUT_S, alive)
            c.wait_port(self.api_port, 30, alive)
        except (RuntimeError, TimeoutError) as e:
            raise RuntimeError(f"ejabberd did not start: {e}\n"
                               + (self.dir / "stdout.log").read_text(errors="replace")[-3000:]) from e
        deadline = time.monotonic() + 60
        while True:  # the ctl path too: the check user is registered with `ejabberdctl register`
            r = self.ctl("register", "benchcheck", DOMAIN, secrets.token_hex(8))
            if r.returncode == 0 or "already" in (r.stdout + r.stderr):
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"ejabberdctl register failed: {r.stdout} {r.stderr}")
            time.sleep(1)
        c.pin_tree(self.proc.pid, c.SERVER_CORE)
        c.log(f"ejabberd up: c2s 127.0.0.1:{self.c2s_port}, api 127.0.0.1:{self.api_port}")

    # -- scenarios ----------------------------------------------------------------------------------------

    def run(self, scenario: str, params: dict[str, Any]) -> dict[str, Any] | None:
        if scenario not in self.scenarios:
            return None
        if self.proc is None or self.proc.poll() is not None:
            raise RuntimeError("ejabberd is not running (use the peer as a context manager)")
        from bench.schema import make_result

        lat_path = self.dir / f"latencies-{secrets.token_hex(4)}.bin"
        args = {"c2s_port": self.c2s_port, "api_port": self.api_port, "domain": DOMAIN, "muc_host": MUC_HOST,
                "state_path": str(self.dir / "driver-state.json"), "latency_path": str(lat_path),
                "scenario": scenario, "params": params, "drain_s": DRAIN_S, "rtt_timeout_s": 10.0}
        meter = c.CpuMeter(self.proc.pid)
        users = int(params.get("members", 0)) + 2 * int(params.get("pairs", 0))
        bound = float(params.get("duration", 10)) + DRAIN_S + 0.2 * users
        raw = c.run_driver("bench.peers._xmpp_driver", args, meter, bound, self.dir / "driver.log")
        notes: list[str] = list(raw["notes"])
        notes.append("server_cpu_s = the ejabberd Erlang VM and its children (Mnesia in the VM, no Postgres)")
        notes.append(meter.contention_note())
        notes.append("out_of_order is per sender (XMPP gives no room sequence number to check)")
        recipients = "members other than the sender" if scenario == "fanout" else "the other side"
        notes.append(f"expected = sent x recipients ({recipients})")
        return dict(make_result(
            peer=self.name, scenario=scenario, params=params, sent=raw["sent"], expected=raw["expected"],
            delivered=raw["delivered"], duplicates=raw["duplicates"], out_of_order=raw["out_of_order"],
            duration_s=raw["duration_s"], server_cpu_s=meter.total_s(), latencies_s=c.read_latencies(lat_path),
            notes="; ".join(n for n in notes if n)))
