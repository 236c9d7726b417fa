"""dm: pairs ping-ponging in direct rooms (closed loop); round-trip p50/p99, for chatd and the peers."""

from __future__ import annotations

import argparse

from bench.context import Context, guarded_run
from bench.outcome import Outcome
from bench.procs import RESULTS, Profiler
from bench.progress import say, warn
from bench.scenarios.ladder import ratio, report
from bench.systems import ChatdSystem


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--pairs", type=int, default=1000, help="ping-pong pairs (default 1000)")
    p.add_argument("--duration", type=float, default=4.0)
    p.add_argument("--profile", action="store_true",
                   help="after chatd's measured run, one more run with py-spy attached (figures not used)")


def run(ctx: Context) -> Outcome:
    params = {"pairs": ctx.args.pairs, "duration": ctx.args.duration}
    outcome = Outcome("dm", params)
    for name, system, note in ctx.systems("dm"):
        if system is None:
            outcome.notes.append(note)
            continue
        try:
            with system:
                result, why = guarded_run(system, "dm", params)
        except Exception as exc:
            if name == "chatd":
                raise
            warn(f"{name} failed: {exc}")
            outcome.notes.append(f"{name} failed: {type(exc).__name__}: {exc}")
            continue
        if result is None:
            outcome.notes.append(f"{name}: {why}")
            continue
        report(result)
        outcome.results.append(result)
        if isinstance(system, ChatdSystem) and system.last_bus:
            outcome.summary["bus_per_process_per_s"] = system.last_bus  # --processes N: each one's bus traffic
        if name == "chatd" and ctx.args.profile:
            _profile(ctx, params, outcome)
    ours = next((r for r in outcome.results if r["peer"] == "chatd"), None)
    if ours is not None:
        for r in outcome.results:
            if r is not ours:
                outcome.summary[f"ours/{r['peer']}"] = {
                    "delivered_per_s": ratio(ours["delivered_per_s"], r["delivered_per_s"]),
                    "cpu_us_per_delivered": ratio(ours["cpu_us_per_delivered"], r["cpu_us_per_delivered"]),
                    "p99": ratio(ours["latency_ms"]["p99"], r["latency_ms"]["p99"])}
    return outcome


def _profile(ctx: Context, params: dict[str, float], outcome: Outcome) -> None:
    """A second chatd run of the same scenario with py-spy attached; its figures are not used."""
    if not Profiler.available():
        outcome.notes.append("no profile: py-spy is not installed (pip install py-spy)")
        return
    svg = RESULTS / f"profile-dm-{ctx.run_id}.svg"
    system = ctx.chatd("dm")
    with system:
        assert isinstance(system, ChatdSystem) and system.server is not None
        system.dm_pairs(int(params["pairs"]))  # connecting and signing up are not profiled
        system.wait_idle()
        say("profiling chatd (py-spy) during dm")
        with Profiler(system.server.pid, svg, ctx.load_core):
            system.run("dm", params)
    outcome.artifacts["profile_svg"] = str(svg)
    outcome.artifacts["profile_folded"] = str(svg.with_suffix(".folded.txt"))
