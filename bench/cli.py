"""`python -m bench SCENARIO [options]` and `python -m bench all`."""

from __future__ import annotations

import argparse
import os
import sys
import time
from types import ModuleType
from typing import Any

from bench import machine, report
from bench.context import Context
from bench.outcome import Outcome
from bench.pool import WorkerPool
from bench.procs import cores, raise_nofile
from bench.progress import Bar, say, warn
from bench.scenarios import backlog, connections, dm, fanout, history
from bench.services import PG_ADMIN_URL, postgres_version

SCENARIOS: dict[str, ModuleType] = {"connections": connections, "fanout": fanout, "dm": dm, "backlog": backlog,
                                    "history": history}
# `all --quick`: a smoke run of every scenario in about a minute
QUICK: dict[str, dict[str, Any]] = {
    "connections": {"connections": 300, "hold": 1.0},
    "fanout": {"members": "10,100", "max_steps": 2, "duration": 1.5, "no_profile": True},
    "dm": {"pairs": 50, "duration": 2.0},
    "backlog": {"messages": 1000},
    "history": {"messages": 1000},
}


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--workers", type=int, default=2, help="load-generator processes (default 2)")
    p.add_argument("--peers", default="relays",
                   help="comma-separated: relays, and peers of bench/peers/ (synapse, ejabberd); 'none' for chatd only")
    p.add_argument("--no-pin", action="store_true", help="do not pin server and generator to separate cores")
    p.add_argument("--processes", type=int, default=1,
                   help="chatd processes sharing one port (SO_REUSEPORT, issue 9); with pinning, process i runs on "
                        "core i mod #cores, so with 2 the second shares the load generator's core (default 1)")
    p.add_argument("--redis-cluster", action="store_true",
                   help="run chatd on a local Redis Cluster (3 masters with a replica each, redis-server 7) started "
                        "for the run, instead of the Redis at 127.0.0.1; with --processes N, each process's bus "
                        "traffic is reported")
    p.add_argument("--chatd-env", action="append", metavar="CHAT_X=VALUE",
                   help="a setting for chatd (repeatable), e.g. CHAT_CLUSTER=false for an A/B of one setting")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench", description="chatd load benchmarks (see bench/RESULTS.md)")
    sub = p.add_subparsers(dest="scenario", required=True)
    for name, module in SCENARIOS.items():
        sp = sub.add_parser(name, help=(module.__doc__ or "").split("\n")[0])
        module.add_arguments(sp)
        _common(sp)
    sp = sub.add_parser("all", help="the standard set, in order; rebuilds bench/RESULTS.md")
    sp.add_argument("--quick", action="store_true", help="small N and short durations (a smoke run)")
    sp.add_argument("--only", default="", help="comma-separated subset of scenarios")
    _common(sp)
    return p


def scenario_args(name: str, common: argparse.Namespace, quick: bool) -> argparse.Namespace:
    sp = argparse.ArgumentParser()
    SCENARIOS[name].add_arguments(sp)
    args = sp.parse_args([])
    for k in ("workers", "peers", "no_pin", "processes", "chatd_env", "redis_cluster"):
        setattr(args, k, getattr(common, k))
    if quick:
        for k, v in QUICK[name].items():
            setattr(args, k, v)
    return args


def run_one(name: str, args: argparse.Namespace, pool: WorkerPool, server_core: int | None,
            load_core: int | None) -> Outcome:
    started = time.time()
    busy = machine.others_busy()
    if busy > 0.3:
        warn(f"other processes are using {busy:.2f} CPU-seconds/s: figures will be noisy")
    say(f"[bold]== {name}[/bold] ({machine.command()})")
    ctx = Context(pool, server_core, load_core, args)
    outcome = SCENARIOS[name].run(ctx)
    record = {
        "run_id": ctx.run_id, "command": machine.command(), "started": started,
        "started_iso": time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime(started)),
        "duration_s": round(time.time() - started, 1), "machine": machine.machine(),
        "versions": machine.versions(postgres_version(PG_ADMIN_URL)), "busy_other_cpu": round(busy, 2),
        "pinning": {"server_core": server_core, "load_core": load_core, "workers": pool.size},
        "args": {k: v for k, v in vars(args).items()}, "outcome": outcome.to_json()}
    path = report.save(record)
    report.copy_plot(outcome.artifacts.get("plot"))
    for c in outcome.checks:
        verdict = "n/a" if c.met is None else ("MET" if c.met else "MISSED")
        say(f"target {c.name}: {c.target}; measured {c.actual} -> [bold]{verdict}[/bold] {c.detail}")
    for v in outcome.violations():
        warn(f"CORRECTNESS VIOLATION: {v}")
    say(f"result: {path}")
    return outcome


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    server_core, load_core = (None, None) if args.no_pin else cores()
    raise_nofile()
    if load_core is not None:
        os.sched_setaffinity(0, {load_core})  # the orchestrator is part of the load side
    names = list(SCENARIOS) if args.scenario == "all" else [args.scenario]
    if args.scenario == "all" and args.only:
        names = [n for n in names if n in args.only.split(",")]
    violations = 0
    with Bar() as bar, WorkerPool(args.workers, load_core, bar) as pool:
        for name in names:
            sargs = scenario_args(name, args, args.quick) if args.scenario == "all" else args
            violations += len(run_one(name, sargs, pool, server_core, load_core).violations())
    say(f"summary: {report.write_markdown()}")
    if violations:
        warn(f"{violations} correctness violations (see above)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
