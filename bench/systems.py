"""Systems under test, all with the interface of the peers in bench/peers/: a context manager (start on
__enter__, stop on __exit__) with `name`, `scenarios` and `run(scenario, params) -> Result | None`.

`ChatdSystem` is our server on a fresh database; `RelaySystem` is one of the minimal relays. Both are
driven by the same worker pool and the same code (fanout and dm below), so only the server differs.
"""

from __future__ import annotations

import os
import re
import secrets
import sys
import time
import urllib.request
from array import array
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from bench import wire
from bench.pool import DELIVERED, OPENED, SENT, WorkerPool, source_for
from bench.procs import VENV_BIN, WORK, ServerGroup, ServerProcess, free_port
from bench.progress import warn
from bench.schema import Result, make_result
from bench.services import Services, fresh_services

SATURATED = 0.80  # generator CPU share of its core above which figures may be a lower bound
SETTLE_S = 10.0  # after the last send: how long replies and deliveries may take before they count as late
LATE_S = 30.0  # then how much longer a late delivery is waited for before it counts as lost


@dataclass
class Window:
    """CPU and wall clock of the server and of the generator over one measured step."""
    server_cpu: float
    load_cpu: float
    wall: float = field(default_factory=time.monotonic)


@dataclass
class FanoutRoom:
    members: int
    senders: list[int]
    keys: list[int]
    room: int


class LocalSystem:
    name = "local"
    scenarios: set[str] = {"fanout", "dm"}
    signup = False

    def __init__(self, pool: WorkerPool, core: int | None, tag: str) -> None:
        self.pool = pool
        self.core = core
        self.tag = tag
        self.url = ""
        self.server: ServerProcess | ServerGroup | None = None
        self._stack = ExitStack()
        self._next_key = 0
        self.usernames: dict[int, str] = {}
        self._fanout: FanoutRoom | None = None
        self._pairs: list[tuple[int, int, int]] | None = None
        self.last_load_cpu = 0.0

    # ------------------------------------------------------------------ lifecycle

    def start_server(self) -> ServerProcess | ServerGroup:
        raise NotImplementedError

    def __enter__(self) -> Self:
        server = self.start_server()
        self._stack.enter_context(server)
        self.server = server
        return self

    def __exit__(self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        try:
            self.reset()
        finally:
            self._stack.close()

    def reset(self) -> None:
        """Close every load connection (between room sizes and at the end)."""
        self.pool.everywhere("close_all", "closing connections")
        self._fanout, self._pairs = None, None

    # ------------------------------------------------------------------ users and rooms

    def open_users(self, count: int, label: str) -> list[int]:
        keys = list(range(self._next_key, self._next_key + count))
        self._next_key += count
        by_worker: dict[int, list[tuple[int, str, str]]] = {}
        for key in keys:
            self.usernames[key] = f"{self.tag}_{key}"
            by_worker.setdefault(self.pool.worker_of(key), []).append((key, self.usernames[key], source_for(key)))
        self.pool.run([(w, "open", {"url": self.url, "users": users, "signup": self.signup})
                       for w, users in by_worker.items()], label, total=count, slot=OPENED)
        return keys

    def requests(self, calls: list[tuple[int, dict[str, Any]]], label: str) -> list[dict[str, Any]]:
        by_worker: dict[int, list[int]] = {}
        for n, (key, _) in enumerate(calls):
            by_worker.setdefault(self.pool.worker_of(key), []).append(n)
        replies = self.pool.run([(w, "requests", {"calls": [calls[n] for n in ns]}) for w, ns in by_worker.items()],
                                label)
        out: list[dict[str, Any]] = [{}] * len(calls)
        for ns, got in zip(by_worker.values(), replies, strict=True):
            for n, reply in zip(ns, got, strict=True):
                out[n] = reply
        return out

    def make_group(self, keys: list[int]) -> int:
        owner, *others = keys
        (reply,) = self.requests([(owner, {"t": "create_group", "name": f"bench {len(keys)}",
                                           "members": [self.usernames[k] for k in others]})], "creating room")
        return int(reply["room"]["room"])

    # ------------------------------------------------------------------ measuring

    def wait_idle(self, busy: float = 0.1, limit_s: float = 30.0) -> None:
        """Wait (at most limit_s) until the server uses less than `busy` of a core: a step starts from quiet."""
        assert self.server is not None
        deadline = time.monotonic() + limit_s
        before = self.server.cpu_seconds()
        while time.monotonic() < deadline:
            time.sleep(0.25)
            now = self.server.cpu_seconds()
            if now - before < busy * 0.25:
                return
            before = now
        warn(f"{self.name} still busy after {limit_s:g}s; measuring anyway")

    def window(self) -> Window:
        assert self.server is not None
        return Window(self.server.cpu_seconds(), self.pool.cpu_seconds())

    def close_window(self, start: Window) -> tuple[float, str]:
        """Server CPU seconds over the window, and a note on the generator's CPU."""
        end = self.window()
        wall = max(1e-9, end.wall - start.wall)
        load = (end.load_cpu - start.load_cpu) / wall
        self.last_load_cpu = load
        note = f"generator CPU {load:.0%} of its core"
        if load >= SATURATED:
            note += " (SATURATED: the generator may have been the bottleneck; figures are a lower bound)"
        return end.server_cpu - start.server_cpu, note

    def run(self, scenario: str, params: dict[str, Any]) -> Result | None:
        if scenario == "fanout":
            return self.fanout(int(params["members"]), int(params["senders"]), float(params["rate"]),
                               float(params["duration"]), params)
        if scenario == "dm":
            return self.dm(int(params["pairs"]), float(params["duration"]), params)
        return None

    def fanout_room(self, members: int, senders: int) -> FanoutRoom:
        if self._fanout is None or (self._fanout.members, len(self._fanout.senders)) != (members, senders):
            self.reset()
            keys = self.open_users(members, f"{self.name}: {members} members connect")
            room = self.make_group(keys)
            self._fanout = FanoutRoom(members, keys[:senders], keys, room)
            time.sleep(0.5)  # the `created` backlog batch reaches every member and is acked
        return self._fanout

    def fanout(self, members: int, senders: int, rate: float, duration: float, params: dict[str, Any]) -> Result:
        setup = self.fanout_room(members, senders)
        self.wait_idle()
        self.pool.everywhere("reset", "reset counters")
        per_sender = rate / senders
        count = max(1, round(per_sender * duration))
        by_worker: dict[int, list[tuple[int, int, float, int]]] = {}
        for key in setup.senders:
            by_worker.setdefault(self.pool.worker_of(key), []).append((key, setup.room, per_sender, count))
        start = self.window()
        start_at = time.monotonic() + 0.2
        delivered_base = self.pool.count(DELIVERED)
        replies = self.pool.run(
            [(w, "send_plan", {"plan": plan, "start_at": start_at, "kind": wire.FANOUT, "window": 100_000,
                               "settle_s": SETTLE_S}) for w, plan in by_worker.items()],
            f"{self.name}: fanout m={members} {rate:g} msg/s", total=count * senders, slot=SENT,
            info=lambda: f"delivered {self.pool.count(DELIVERED) - delivered_base}")
        sent_by: dict[int, int] = {}
        errors: dict[str, int] = {}
        unanswered = 0
        for reply in replies:
            for key_room, n in reply["sent"].items():
                key = int(key_room.split(":")[0])
                sent_by[key] = sent_by.get(key, 0) + n
            for code, n in reply["errors"].items():
                errors[code] = errors.get(code, 0) + n
            unanswered += reply["unanswered"]
        late_notes: list[str] = []
        if unanswered:
            extra, unanswered, late_errors = self._answers()
            for key, n in extra.items():
                sent_by[key] = sent_by.get(key, 0) + n
            for code, n in late_errors.items():
                errors[code] = errors.get(code, 0) + n
            late_notes.append(f"LATE: {sum(extra.values())} sends were confirmed more than {SETTLE_S:g}s after "
                              "the last send")
        total_sent = sum(sent_by.values())
        expected = {k: total_sent - sent_by.get(k, 0) for k in setup.keys}
        got = self._collect(expected, [wire.FANOUT], f"{self.name}: delivering", SETTLE_S)
        late = self._late(got, [wire.FANOUT])
        server_cpu, note = self.close_window(start)
        notes = [note, *late_notes, *late, *self._problems(errors, unanswered, got)]
        return make_result(peer=self.name, scenario="fanout", params=params, sent=total_sent,
                           expected=sum(expected.values()), delivered=got["delivered"],
                           duplicates=got["duplicates"], out_of_order=got["out_of_order"],
                           duration_s=max(got["last_at"] - start_at, 1e-9), server_cpu_s=server_cpu,
                           latencies_s=got["latencies"], notes="; ".join(notes))

    def _collect(self, expected: dict[int, int], kinds: list[str], label: str, timeout: float) -> dict[str, Any]:
        by_worker: dict[int, dict[int, int]] = {}
        for key, n in expected.items():
            by_worker.setdefault(self.pool.worker_of(key), {})[key] = n
        for w in range(self.pool.size):
            by_worker.setdefault(w, {})
        replies = self.pool.run([(w, "collect", {"expected": exp, "kinds": kinds, "timeout": timeout})
                                 for w, exp in by_worker.items()], label, total=sum(expected.values()),
                                slot=DELIVERED)
        return merge(replies)

    def _answers(self) -> tuple[dict[int, int], int, dict[str, int]]:
        """Replies to sends that were still unanswered after the settle window: (confirmed per key, still
        unanswered, errors)."""
        replies = self.pool.everywhere("answers", f"{self.name}: waiting for late replies", timeout=LATE_S)
        sent: dict[int, int] = {}
        errors: dict[str, int] = {}
        for r in replies:
            sent.update(r["sent"])
            for code, n in r["errors"].items():
                errors[code] = errors.get(code, 0) + n
        return sent, sum(r["unanswered"] for r in replies), errors

    def _late(self, got: dict[str, Any], kinds: list[str]) -> list[str]:
        """Deliveries still missing after the settle window: wait up to LATE_S more so that a late message is told
        apart from a lost one. Late arrivals are added to `got` (their latency and the duration included)."""
        if not got["short"]:
            return []
        late = self._collect(got["short_by_key"], kinds, f"{self.name}: {got['short']} deliveries are late", LATE_S)
        for k in ("delivered", "duplicates", "out_of_order", "frames", "status", "ws_in", "ws_out"):
            got[k] += late[k]
        got["latencies"] += late["latencies"]
        got["last_at"] = max(got["last_at"], late["last_at"])
        got["short"] = late["short"]
        notes = [f"LATE: {late['delivered']} deliveries came more than {SETTLE_S:g}s after the last send"]
        if late["short"]:
            notes.append(f"LOST: {late['short']} never arrived ({SETTLE_S + LATE_S:g}s after the last send)")
        return notes

    @staticmethod
    def _expect_more(got: dict[str, Any], key: int, n: int) -> None:
        """`key` is owed n more deliveries than counted so far (their sends were confirmed late)."""
        surplus = got["surplus_by_key"].get(key, 0)
        used = min(surplus, n)
        got["surplus_by_key"][key] = surplus - used
        if n > used:
            got["short_by_key"][key] = got["short_by_key"].get(key, 0) + n - used
            got["short"] += n - used

    @staticmethod
    def _problems(errors: dict[str, int], unanswered: int, got: dict[str, Any]) -> Iterator[str]:
        if errors:
            yield f"send errors {errors}"
        if unanswered:
            yield f"{unanswered} sends unanswered after {SETTLE_S:g}s"
        if got.get("closed"):
            yield f"connections closed by the server (code: count) {got['closed']}"
        if got.get("delivered"):
            yield f"{got['delivered'] / max(1, got['frames']):.1f} messages per msgs frame"
        if got.get("status"):
            per = got["status"] / max(1, got["delivered"])
            yield f"{got['status']} status frames received ({per:.1f} per delivery)"
        if got.get("ws_in") and got.get("delivered"):
            yield (f"websocket messages per delivery: {got['ws_in'] / got['delivered']:.2f} from the server, "
                   f"{got['ws_out'] / got['delivered']:.2f} to it")

    def dm_pairs(self, pairs: int) -> list[tuple[int, int, int]]:
        if self._pairs is None or len(self._pairs) != pairs:
            self.reset()
            keys = self.open_users(2 * pairs, f"{self.name}: {pairs} pairs connect")
            by_worker: dict[int, list[int]] = {}
            for key in keys:
                by_worker.setdefault(self.pool.worker_of(key), []).append(key)
            couples = [(ks[i], ks[i + 1]) for ks in by_worker.values() for i in range(0, len(ks) - 1, 2)]
            replies = self.requests([(a, {"t": "open_direct", "user": self.usernames[b]}) for a, b in couples],
                                    f"{self.name}: opening direct rooms")
            self._pairs = [(a, b, int(r["room"]["room"])) for (a, b), r in zip(couples, replies, strict=True)]
            time.sleep(0.5)
        return self._pairs

    def dm(self, pairs: int, duration: float, params: dict[str, Any]) -> Result:
        setup = self.dm_pairs(pairs)
        self.wait_idle()
        self.pool.everywhere("reset", "reset counters")
        by_worker: dict[int, list[tuple[int, int, int]]] = {}
        for a, b, room in setup:
            by_worker.setdefault(self.pool.worker_of(a), []).append((a, b, room))
        start = self.window()
        start_at = time.monotonic() + 0.2
        replies = self.pool.run([(w, "pingpong", {"pairs": ps, "start_at": start_at, "duration": duration,
                                                 "settle_s": SETTLE_S}) for w, ps in by_worker.items()],
                                f"{self.name}: dm {len(setup)} pairs", total=None, slot=SENT,
                                info=lambda: f"messages {self.pool.count(SENT)}")
        got = merge(replies)
        errors: dict[str, int] = {}
        for r in replies:
            for code, n in r["errors"].items():
                errors[code] = errors.get(code, 0) + n
        sent = sum(r["sent"] for r in replies)
        unanswered = sum(r["unanswered"] for r in replies)
        late = []
        if unanswered:
            extra, unanswered, late_errors = self._answers()
            for code, n in late_errors.items():
                errors[code] = errors.get(code, 0) + n
            sent += sum(extra.values())
            partner = {a: b for a, b, _ in setup} | {b: a for a, b, _ in setup}
            for key, n in extra.items():
                self._expect_more(got, partner[key], n)
            late.append(f"LATE: {sum(extra.values())} sends were confirmed more than {SETTLE_S:g}s after the "
                        "last ping")
        late += self._late(got, [wire.PING, wire.PONG])
        server_cpu, note = self.close_window(start)
        return make_result(peer=self.name, scenario="dm", params=params, sent=sent, expected=sent,
                           delivered=got["delivered"], duplicates=got["duplicates"],
                           out_of_order=got["out_of_order"], duration_s=max(got["last_at"] - start_at, 1e-9),
                           server_cpu_s=server_cpu, latencies_s=got["latencies"],
                           notes="; ".join([note, *late, *self._problems(errors, unanswered, got)]))


def merge(replies: list[dict[str, Any]]) -> dict[str, Any]:
    """Sum the workers' collect/pingpong replies; latencies become one list of seconds."""
    latencies = array("d")
    out: dict[str, Any] = {"delivered": 0, "duplicates": 0, "out_of_order": 0, "short": 0, "last_at": 0.0,
                           "closed": {}, "frames": 0, "status": 0, "ws_in": 0, "ws_out": 0, "short_by_key": {},
                           "surplus_by_key": {}}
    for r in replies:
        out["short_by_key"].update(r["short_by_key"])
        out["surplus_by_key"].update(r["surplus_by_key"])
        for k in ("delivered", "duplicates", "out_of_order", "short", "frames", "status", "ws_in", "ws_out"):
            out[k] += r[k]
        out["last_at"] = max(out["last_at"], r["last_at"])
        latencies.frombytes(r["latencies"])
        for code, n in r["closed"].items():
            out["closed"][code] = out["closed"].get(code, 0) + n
    out["latencies"] = latencies.tolist()
    return out


def chatd_env(services: Services, data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHAT_")}
    env.update({
        "CHAT_DATA_DIR": str(data_dir), "CHAT_JWT_SECRET": secrets.token_urlsafe(48),
        "CHAT_REDIS_PREFIX": services.redis_prefix,
        # raised for load tests: the generator sends far more than one person would
        "CHAT_RATE_PER_SECOND": "1000000", "CHAT_RATE_BURST": "1000000", "CHAT_SIGNUPS_PER_HOUR": "1000000",
        "CHAT_LOGIN_ATTEMPTS": "1000000", "CHAT_ARGON2_TIME_COST": "1", "CHAT_ARGON2_MEMORY_KIB": "64",
        "CHAT_OUTBOX_FRAMES": "4096", "CHAT_AUTH_TIMEOUT": "120", "CHAT_HTTP_PORT": "0",
        "CHAT_MAX_PREHELLO_CONNECTIONS": "1000000", "CHAT_PREHELLO_PER_ADDRESS": "1000000",
        "CHAT_PASSWORD_QUEUE": "100000", "CHAT_PASSWORD_CHECKS_PER_ADDRESS": "100000", "CHAT_UPLOADS_AT_ONCE": "1000",
    })
    if services.database_url:
        env["CHAT_DATABASE_URL"] = services.database_url
    if services.redis_url:
        env["CHAT_REDIS_URL"] = services.redis_url
    return env


BUS_METRIC = re.compile(r'^chatd_(?:bus\{what="([a-z_]+)"\}|(connections)) ([0-9.e+]+)$', re.M)


class ChatdSystem(LocalSystem):
    name = "chatd"
    scenarios = {"fanout", "dm", "connections", "backlog", "history"}
    signup = True

    def __init__(self, pool: WorkerPool, core: int | None, tag: str, processes: int = 1, pinned: bool = True,
                 settings: dict[str, str] | None = None, redis_cluster: bool = False) -> None:
        super().__init__(pool, core, tag)
        self.settings = settings or {}  # CHAT_* overrides (--chatd-env), e.g. for an A/B of one setting
        self.services: Services | None = None
        self.command = ""
        self.processes = processes
        self.pinned = pinned
        self.redis_cluster = redis_cluster  # a local Redis Cluster (3 masters, 3 replicas) instead of one Redis
        self.http_ports: list[int] = []  # each process's own (its /metrics), when there are several
        self._bus_start: list[dict[str, float]] = []
        self.last_bus: dict[str, Any] = {}  # per process: bus traffic per second over the last window

    def start_server(self) -> ServerProcess | ServerGroup:
        self.services = self._stack.enter_context(fresh_services())
        if self.redis_cluster:
            from tests.redis_cluster import redis_cluster
            cluster = self._stack.enter_context(redis_cluster(WORK / f"{self.tag}-redis-cluster"))
            self.services = replace(self.services, redis_url=cluster.url)
        if self.services.database_url is None or self.services.redis_url is None:
            if self.processes > 1:
                raise RuntimeError("--processes needs the Postgres and Redis at 127.0.0.1 (embedded ones are "
                                   "per process)")
            warn("Postgres or Redis at 127.0.0.1 did not answer: chatd starts its embedded ones")
        port = free_port()
        data_dir = WORK / self.tag
        argv = [str(VENV_BIN / "chatd"), "--port", str(port), "--log-level", "WARNING"]
        env = {**chatd_env(self.services, data_dir), **self.settings}
        self.url = f"ws://127.0.0.1:{port}/"
        if self.processes == 1:
            self.command = " ".join([*(f"{k}={v}" for k, v in sorted(env.items())
                                       if k.startswith("CHAT_") and k != "CHAT_JWT_SECRET"), *argv])
            return ServerProcess("chatd", argv, env, "chatd ready", self.core, WORK / f"{self.tag}-chatd.log")
        env.update({"CHAT_REUSE_PORT": "true"})
        self.http_ports = [free_port() for _ in range(self.processes)]  # each its own: its bus figures
        on = sorted(os.sched_getaffinity(0)) if self.pinned else []
        self.command = " ".join([*(f"{k}={v}" for k, v in sorted(env.items())
                                   if k.startswith("CHAT_") and k != "CHAT_JWT_SECRET"), *argv,
                                 f"(x{self.processes}, CHAT_NODE_NAME=bench-i, CHAT_HTTP_PORT its own, each pinned to "
                                 f"core i mod {len(on)})"])
        return ServerGroup([ServerProcess(f"chatd-{i}", argv, {**env, "CHAT_NODE_NAME": f"bench-{i}",
                                                               "CHAT_HTTP_PORT": str(self.http_ports[i])},
                                          "chatd ready", on[i % len(on)] if on else None,
                                          WORK / f"{self.tag}-chatd-{i}.log")
                            for i in range(self.processes)])

    def bus_counts(self) -> list[dict[str, float]]:
        """Each process's bus counters (`chatd_bus` on its /metrics); empty with one process."""
        out = []
        for port in self.http_ports:
            text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
            out.append({m.group(1) or m.group(2): float(m.group(3)) for m in BUS_METRIC.finditer(text)})
        return out

    def window(self) -> Window:
        self._bus_start = self.bus_counts()
        return super().window()

    def close_window(self, start: Window) -> tuple[float, str]:
        at_start = self._bus_start  # (the base class's close_window takes a window() of its own)
        cpu, note = super().close_window(start)
        wall = max(1e-9, time.monotonic() - start.wall)
        self.last_bus = {f"chatd-{i}": {"connections": after.pop("connections", 0.0),
                                        **{k: round((v - before.get(k, 0.0)) / wall, 1) for k, v in after.items()}}
                         for i, (before, after) in enumerate(zip(at_start, self.bus_counts(), strict=True))}
        return cpu, note


class RelaySystem(LocalSystem):
    def __init__(self, pool: WorkerPool, core: int | None, tag: str, module: str, name: str) -> None:
        super().__init__(pool, core, tag)
        self.module = module
        self.name = name

    def start_server(self) -> ServerProcess:
        port = free_port()
        self.url = f"ws://127.0.0.1:{port}/"
        return ServerProcess(self.name, [sys.executable, "-m", self.module, "--port", str(port)], dict(os.environ),
                             "relay ready", self.core, WORK / f"{self.tag}-{self.name}.log")


RELAYS = {"trio-relay": "bench.relays.trio_relay", "websockets-relay": "bench.relays.websockets_relay"}
