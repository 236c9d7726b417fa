"""Shared helpers for the peer servers: the peers' own venv, CPU accounting, pinning, and the driver subprocess.

Only the standard library is imported at module level (psutil is imported where it is used), so that
`import bench.peers` works without any peer dependency installed.
"""

from __future__ import annotations

import array
import contextlib
import fcntl
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
PEER_VENV = REPO / "bench" / ".work" / "peers-venv"
# What the peers' load drivers need, installed into PEER_VENV (never into the main .venv).
PEER_PACKAGES = ["matrix-synapse[postgres]", "slixmpp", "aiohttp", "uvloop", "psutil"]
PEER_IMPORTS = ["synapse", "psycopg2", "slixmpp", "aiohttp", "uvloop", "psutil"]

SERVER_CORE = 0
CLIENT_CORE = 1
DRIVER_TIMEOUT_GRACE_S = 300.0  # on top of the bound the peer gives (setup + load + drain), then it is killed


def log(msg: str) -> None:
    print(f"[peers] {msg}", file=sys.stderr, flush=True)


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def peer_python() -> Path:
    """The peers' venv interpreter, creating the venv and installing PEER_PACKAGES if anything is missing."""
    py = PEER_VENV / "bin" / "python"
    probe = "import " + ", ".join(PEER_IMPORTS)
    with _file_lock(PEER_VENV.parent / "peers-venv.lock"):
        if py.exists() and subprocess.run([py, "-c", probe], capture_output=True).returncode == 0:
            return py
        log(f"installing {' '.join(PEER_PACKAGES)} into {PEER_VENV} (a few minutes, once)")
        if not py.exists():
            base = getattr(sys, "_base_executable", sys.executable)
            subprocess.run([base, "-m", "venv", str(PEER_VENV)], check=True)
        subprocess.run([py, "-m", "pip", "install", "-q", "--disable-pip-version-check", *PEER_PACKAGES],
                       check=True)
        subprocess.run([py, "-c", probe], check=True)
    return py


def apt_install(package: str, probe: Path) -> None:
    """`apt-get update` once, then `apt-get install -y package`, unless `probe` already exists."""
    if probe.exists():
        return
    with _file_lock(REPO / "bench" / ".work" / "apt.lock"):
        if probe.exists():
            return
        log(f"installing Debian package {package}")
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        subprocess.run(["apt-get", "update", "-q"], check=True, env=env, stdout=subprocess.DEVNULL)
        subprocess.run(["apt-get", "install", "-y", "-q", package], check=True, env=env, stdout=subprocess.DEVNULL)
    if not probe.exists():
        raise RuntimeError(f"{package} installed but {probe} is missing")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, timeout_s: float, alive: Callable[[], bool] = lambda: True) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not alive():
            raise RuntimeError(f"server exited before listening on 127.0.0.1:{port}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1.0):
            return
        time.sleep(0.25)
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port} after {timeout_s:.0f} s")


def pin_tree(pid: int, core: int) -> None:
    """Pin a process and every thread and descendant it has now to one core (launch under taskset too)."""
    import psutil

    with contextlib.suppress(psutil.Error):
        root = psutil.Process(pid)
        for p in [root, *root.children(recursive=True)]:
            with contextlib.suppress(psutil.Error, OSError):
                for t in p.threads():
                    os.sched_setaffinity(t.id, {core})


def stop_process_group(proc: subprocess.Popen[Any], timeout_s: float = 20.0) -> None:
    """SIGTERM the process group of a process started with start_new_session=True, SIGKILL after timeout_s."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


class CpuMeter:
    """CPU time (user + system) of a process tree, plus extra pids, between start() and stop().

    Children that exit inside the window are counted through their parent's children_user/children_system.
    """

    def __init__(self, root_pid: int, extra_pids: Callable[[], Iterable[int]] | None = None) -> None:
        self.root_pid = root_pid
        self.extra_pids = extra_pids
        self._start: dict[tuple[int, float], float] = {}
        self._end: dict[tuple[int, float], float] = {}
        self._core0 = self._core1 = (0.0, 0.0)

    def _sample(self) -> dict[tuple[int, float], float]:
        import psutil

        procs: list[psutil.Process] = []
        with contextlib.suppress(psutil.Error):
            root = psutil.Process(self.root_pid)
            procs = [root, *root.children(recursive=True)]
        seen = {p.pid for p in procs}
        for pid in self.extra_pids() if self.extra_pids else ():
            if pid not in seen:
                with contextlib.suppress(psutil.Error):
                    procs.append(psutil.Process(pid))
                    seen.add(pid)
        out: dict[tuple[int, float], float] = {}
        for p in procs:
            with contextlib.suppress(psutil.Error):
                t = p.cpu_times()
                out[(p.pid, p.create_time())] = t.user + t.system + t.children_user + t.children_system
        return out

    @staticmethod
    def _core(core: int) -> tuple[float, float]:
        """(busy, total) CPU seconds of one core since boot."""
        import psutil

        t = psutil.cpu_times(percpu=True)[core]
        idle = t.idle + getattr(t, "iowait", 0.0)
        total = sum(t)
        return total - idle, total

    def start(self) -> None:
        self._start = self._sample()
        self._core0 = self._core(SERVER_CORE)

    def stop(self) -> None:
        self._end = self._sample()
        self._core1 = self._core(SERVER_CORE)

    def contention_note(self) -> str:
        """How busy the server's core was with anything but the server (other benchmarks, tests) in the window."""
        total = self.total_s()
        if total is None:
            return ""
        busy = self._core1[0] - self._core0[0]
        span = self._core1[1] - self._core0[1]
        if span <= 0:
            return ""
        tree = self.tree_s()
        other = max(0.0, busy - (tree if tree is not None else total))
        return (f"core {SERVER_CORE} was {busy / span:.0%} busy in the window, {other / span:.0%} of it not this "
                "server (other processes on the machine)")

    def total_s(self) -> float | None:
        if not self._start or not self._end:
            return None
        return sum(self._end.values()) - sum(self._start.values())

    def tree_s(self) -> float | None:
        """The root's own tree only (without the extra pids), for notes."""
        if not self._start or not self._end:
            return None
        import psutil

        try:
            root = psutil.Process(self.root_pid)
            keys = {(p.pid, p.create_time()) for p in [root, *root.children(recursive=True)]}
        except psutil.Error:
            return None
        return sum(v for k, v in self._end.items() if k in keys) - sum(v for k, v in self._start.items() if k in keys)


def run_driver(module: str, args: dict[str, Any], meter: CpuMeter, timeout_s: float, log_path: Path) -> dict[str, Any]:
    """Run a load driver (`python -m module ARGS_JSON`) in the peers' venv pinned to CLIENT_CORE.

    Protocol on the driver's stdout: a line `START` when the measured window opens, `END` when it closes,
    then `RESULT {json}`. The meter is sampled at START and END.
    """
    py = peer_python()
    cmd = ["taskset", "-c", str(CLIENT_CORE), str(py), "-m", module, json.dumps(args)]
    env = dict(os.environ, PYTHONPATH=str(REPO), PYTHONUNBUFFERED="1")
    env.pop("VIRTUAL_ENV", None)
    with open(log_path, "ab") as err:
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=err, text=True,
                                start_new_session=True)
        killer = threading.Timer(timeout_s + DRIVER_TIMEOUT_GRACE_S, lambda: stop_process_group(proc, 5))
        killer.daemon = True
        killer.start()
        result: dict[str, Any] | None = None
        try:
            assert proc.stdout is not None
            for line in proc.stdout:
                line = line.strip()
                if line == "START":
                    meter.start()
                elif line == "END":
                    meter.stop()
                elif line.startswith("RESULT "):
                    result = json.loads(line[len("RESULT "):])
            proc.wait()
        finally:
            killer.cancel()
            stop_process_group(proc, 5)
    if result is None:
        tail = log_path.read_text(errors="replace")[-3000:] if log_path.exists() else ""
        raise RuntimeError(f"driver {module} exited with {proc.returncode} and no result; log tail:\n{tail}")
    return result


def read_latencies(path: Path) -> list[float]:
    """Latencies in seconds written by a driver as raw float64 (array('d'))."""
    arr = array.array("d")
    if path.exists():
        with open(path, "rb") as fh:
            arr.frombytes(fh.read())
        path.unlink()
    return arr.tolist()


def keep_logs(data_dir: Path, names: list[str]) -> None:
    """Copy a peer's log files to <workdir>/<peer>-logs/ before its data dir is removed."""
    dest = data_dir.parent / f"{data_dir.name}-logs"
    for n in names:
        if (data_dir / n).exists():
            dest.mkdir(exist_ok=True)
            shutil.copy2(data_dir / n, dest / n)


def rm_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
