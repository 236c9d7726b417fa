"""Server processes under test (chatd or a relay): started pinned to the server core with a raised fd
limit, watched with psutil (CPU seconds, RSS), profiled with py-spy on request, stopped with SIGTERM."""

from __future__ import annotations

import contextlib
import os
import resource
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

import psutil

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
RESULTS = BENCH_DIR / "results"
WORK = BENCH_DIR / ".work"
VENV_BIN = Path(sys.executable).parent
SERVER_CORE = 0
LOAD_CORE = 1
NOFILE = 65536


def cores() -> tuple[int | None, int | None]:
    """(server core, load core), or (None, None) on a machine with one CPU: then nothing is pinned."""
    available = sorted(os.sched_getaffinity(0))
    if len(available) < 2:
        return None, None
    return available[0], available[1]


def raise_nofile(want: int = NOFILE) -> int:
    """Raise this process's RLIMIT_NOFILE (children inherit it); returns the soft limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    for limit in ((max(want, hard), max(want, hard)), (hard, hard)):
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, limit)
            break
        except (ValueError, OSError):
            continue
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ServerProcess:
    """A server under test. `ready` is a line it prints once it listens."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], ready: str, core: int | None,
                 log: Path, nofile: int = NOFILE) -> None:
        self.name, self.argv, self.env, self.ready, self.core, self.log = name, argv, env, ready, core, log
        self.nofile = nofile
        self.proc: subprocess.Popen[bytes] | None = None
        self.ps: psutil.Process | None = None

    def _child_setup(self) -> None:  # runs in the child before exec: its own fd limit and CPU
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (self.nofile, self.nofile))
        if self.core is not None:
            os.sched_setaffinity(0, {self.core})

    def __enter__(self) -> ServerProcess:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen(self.argv, env=self.env, stdout=out, stderr=subprocess.STDOUT,
                                         cwd=REPO, preexec_fn=self._child_setup)
        self.ps = psutil.Process(self.proc.pid)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.ready in self.log.read_text(errors="replace"):
                return self
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        tail = self.log.read_text(errors="replace")[-3000:]
        self.stop()
        raise RuntimeError(f"{self.name} did not start (see {self.log}):\n{tail}")

    def __exit__(self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def cpu_seconds(self) -> float:
        assert self.ps is not None
        t = self.ps.cpu_times()
        return float(t.user + t.system)

    def rss(self) -> int:
        assert self.ps is not None
        return int(self.ps.memory_info().rss)

    def nofile_limit(self) -> int | None:
        assert self.ps is not None
        with contextlib.suppress(psutil.Error, AttributeError):
            return int(self.ps.rlimit(psutil.RLIMIT_NOFILE)[0])
        return None

    def log_mentions(self, *needles: str) -> list[str]:
        text = self.log.read_text(errors="replace")
        return [n for n in needles if n in text]

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)


class ServerGroup:
    """Several server processes measured as one (chatd --processes N): CPU and memory summed."""

    def __init__(self, members: list[ServerProcess]) -> None:
        self.members = members
        self._stack = contextlib.ExitStack()

    def __enter__(self) -> ServerGroup:
        with contextlib.ExitStack() as stack:
            for member in self.members:
                stack.enter_context(member)
            self._stack = stack.pop_all()
        return self

    def __exit__(self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        self._stack.close()

    @property
    def pid(self) -> int:
        return self.members[0].pid  # the profiler watches the first

    def cpu_seconds(self) -> float:
        return sum(m.cpu_seconds() for m in self.members)

    def rss(self) -> int:
        return sum(m.rss() for m in self.members)

    def nofile_limit(self) -> int | None:
        return self.members[0].nofile_limit()

    def log_mentions(self, *needles: str) -> list[str]:
        return sorted({n for m in self.members for n in m.log_mentions(*needles)})

    def stop(self) -> None:
        for member in self.members:
            member.stop()


class Profiler:
    """py-spy on a running server: a flame graph (SVG) and the raw folded stacks for the hot-spot summary."""

    def __init__(self, pid: int, svg: Path, core: int | None, rate: int = 97) -> None:
        self.pid, self.svg, self.core, self.rate = pid, svg, core, rate
        self.folded = svg.with_suffix(".folded.txt")
        self.procs: list[subprocess.Popen[bytes]] = []

    @staticmethod
    def available() -> bool:
        return (VENV_BIN / "py-spy").exists()

    def __enter__(self) -> Profiler:
        exe = str(VENV_BIN / "py-spy")
        common = ["--pid", str(self.pid), "--rate", str(self.rate), "--nonblocking", "--gil"]  # the GIL holder: CPU
        core = self.core
        pin = (lambda: os.sched_setaffinity(0, {core})) if core is not None else None
        for fmt, out in (("flamegraph", self.svg), ("raw", self.folded)):
            self.procs.append(subprocess.Popen([exe, "record", "-o", str(out), "--format", fmt, *common],
                                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                               preexec_fn=pin))
        time.sleep(0.5)  # let py-spy attach
        return self

    def __exit__(self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGINT)  # py-spy writes its output on SIGINT
        for p in self.procs:
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
