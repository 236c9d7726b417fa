"""fanout: S senders at an offered rate into rooms of 10, 100 and 1,000 members, stepping the rate up."""

from __future__ import annotations

import argparse
from typing import Any

from bench.context import Context
from bench.outcome import Check, Outcome
from bench.plot import latency_plot
from bench.procs import RESULTS, Profiler
from bench.progress import say, warn
from bench.scenarios.ladder import held, ratio, report, step_up
from bench.schema import Result
from bench.systems import ChatdSystem

TARGET_DELIVERIES = 20_000
TARGET_P99_MS = 50.0
TARGET_CPU_US = 40.0


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--members", default="10,100,1000", help="room sizes, comma-separated (default 10,100,1000)")
    p.add_argument("--senders", type=int, default=4, help="senders per room (default 4)")
    p.add_argument("--rates", default="", help="offered msgs/s to step through (default: a ladder by deliveries/s)")
    p.add_argument("--start-deliveries", type=float, default=1000.0,
                   help="first step of the ladder in offered deliveries/s (doubling each step)")
    p.add_argument("--max-steps", type=int, default=7)
    p.add_argument("--duration", type=float, default=2.0, help="seconds of sending per step")
    p.add_argument("--no-profile", action="store_true", help="skip the py-spy profile of chatd")
    p.add_argument("--profile-members", type=int, default=100, help="room size of the profiled step (default 100)")


def ladder(args: argparse.Namespace, members: int) -> list[float]:
    if args.rates:
        return [float(r) for r in args.rates.split(",")]
    # at least one message per sender in the first step, so big rooms do not start from a single burst
    first = max(args.start_deliveries / (members - 1), min(args.senders, members) / args.duration)
    return [first * 2**i for i in range(args.max_steps)]


def best_held(steps: list[Result], p99_limit: float = 100.0) -> Result | None:
    good = [r for r in steps if held(r, r["params"]["rate"] * (r["params"]["members"] - 1), p99_limit)[0]]
    return max(good, key=lambda r: r["delivered_per_s"], default=None)


def run(ctx: Context) -> Outcome:
    args = ctx.args
    sizes = [int(m) for m in args.members.split(",")]
    outcome = Outcome("fanout", {"members": sizes, "senders": args.senders, "duration": args.duration,
                                 "rates": {m: [round(r, 3) for r in ladder(args, m)] for m in sizes}})
    by_system: dict[str, dict[int, list[Result]]] = {}
    for name, system, note in ctx.systems("fanout"):
        if system is None:
            outcome.notes.append(note)
            continue
        try:
            with system:
                for m in sizes:
                    senders = min(args.senders, m)

                    def params(rate: float, m: int = m, senders: int = senders) -> dict[str, Any]:
                        return {"members": m, "senders": senders, "rate": round(rate, 3),
                                "duration": args.duration}
                    steps = step_up(system, name, "fanout", ladder(args, m), params, m - 1, outcome.notes)
                    by_system.setdefault(name, {})[m] = steps
                    outcome.results += steps
                    if isinstance(system, ChatdSystem) and m == args.profile_members and not args.no_profile \
                            and steps:
                        _profile(ctx, system, senders, steps[-1]["params"]["rate"], args.duration, outcome)
        except Exception as exc:  # a peer that fails must not take the others with it
            if name == "chatd":
                raise
            warn(f"{name} failed: {exc}")
            outcome.notes.append(f"{name} failed: {type(exc).__name__}: {exc}")
    _summarise(sizes, by_system, outcome)
    outcome.artifacts["plot"] = str(latency_plot(by_system, RESULTS / f"fanout-{ctx.run_id}.png"))
    return outcome


def _profile(ctx: Context, system: ChatdSystem, senders: int, rate: float, duration: float,
             outcome: Outcome) -> None:
    """One extra step with py-spy attached, at the highest rate of the ladder (where chatd broke, or the top
    step if it never did); its figures are not used."""
    if not Profiler.available() or system.server is None:
        outcome.notes.append("no profile: py-spy is not installed (pip install py-spy)")
        return
    svg = RESULTS / f"profile-fanout-{ctx.args.profile_members}-{ctx.run_id}.svg"
    members = ctx.args.profile_members
    say(f"profiling chatd (py-spy) during fanout into {members} members at {rate:g} msg/s")
    with Profiler(system.server.pid, svg, ctx.load_core):
        result = system.run("fanout", {"members": members, "senders": senders, "rate": round(rate, 3),
                                       "duration": duration})
    if result is not None:
        report(result)
        outcome.summary["profiled_step"] = result
    outcome.artifacts["profile_svg"] = str(svg)
    outcome.artifacts["profile_folded"] = str(svg.with_suffix(".folded.txt"))


def _summarise(sizes: list[int], by_system: dict[str, dict[int, list[Result]]], outcome: Outcome) -> None:
    ours = by_system.get("chatd", {})
    table: dict[str, Any] = {}
    for m in sizes:
        row: dict[str, Any] = {}
        for name, per_size in by_system.items():
            steps = per_size.get(m, [])
            best = best_held(steps)
            row[name] = {"max_rate_held_msgs_s": best["params"]["rate"] if best else None,
                         "max_delivered_per_s_held": best["delivered_per_s"] if best else None,
                         "steps": len(steps)}
        for name, per_size in by_system.items():
            if name == "chatd":
                continue
            mine, theirs = ours.get(m, []), per_size.get(m, [])
            common = sorted({r["params"]["rate"] for r in mine} & {r["params"]["rate"] for r in theirs})
            at = common[-1] if common else None
            a = next((r for r in mine if r["params"]["rate"] == at), None)
            b = next((r for r in theirs if r["params"]["rate"] == at), None)
            row[f"ours/{name}"] = {
                "max_delivered_per_s_held": ratio(row["chatd"]["max_delivered_per_s_held"] or 0.0
                                                  if "chatd" in row else None, row[name]["max_delivered_per_s_held"]),
                "at_rate_msgs_s": at,
                "delivered_per_s": ratio(a and a["delivered_per_s"], b and b["delivered_per_s"]),
                "cpu_us_per_delivered": ratio(a and a["cpu_us_per_delivered"], b and b["cpu_us_per_delivered"]),
                "p99": ratio(a and a["latency_ms"]["p99"], b and b["latency_ms"]["p99"]),
            }
        table[str(m)] = row
    outcome.summary["by_members"] = table
    steps100 = ours.get(100, [])
    best50 = best_held(steps100, TARGET_P99_MS)
    got = best50["delivered_per_s"] if best50 else 0.0
    outcome.checks.append(Check(
        "fan-out into 100-member rooms", f">= {TARGET_DELIVERIES:,} deliveries/s with p99 < {TARGET_P99_MS:g} ms",
        f"{got:,.0f} deliveries/s held with p99 < {TARGET_P99_MS:g} ms" if steps100 else "not run",
        got >= TARGET_DELIVERIES if steps100 else None,
        "" if not steps100 or got >= TARGET_DELIVERIES else
        f"short by {TARGET_DELIVERIES - got:,.0f}/s ({got / TARGET_DELIVERIES:.1%} of target)"))
    cpu_step = best_held(steps100) or (steps100[0] if steps100 else None)
    cpu = cpu_step["cpu_us_per_delivered"] if cpu_step else None
    outcome.checks.append(Check(
        "server CPU per delivered message", f"<= {TARGET_CPU_US:g} us (100-member room)",
        f"{cpu:g} us at {cpu_step['params']['rate']:g} msg/s" if cpu is not None and cpu_step else "not run",
        cpu <= TARGET_CPU_US if cpu is not None else None,
        f"{cpu / TARGET_CPU_US:.1f}x the target" if cpu is not None and cpu > TARGET_CPU_US else ""))
