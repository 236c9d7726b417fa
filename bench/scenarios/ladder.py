"""Stepping the offered load up for fanout (and comparing systems at the same load), shared by scenarios."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bench.context import guarded_run
from bench.progress import say, warn
from bench.schema import Result, violations

P99_LIMIT_MS = 100.0
BEHIND = 0.9  # delivered/s below this share of the offered deliveries/s: the system fell behind


def held(result: Result, offered_deliveries: float, p99_limit: float = P99_LIMIT_MS) -> tuple[bool, str]:
    """Did the system hold this load? (p99 under the limit, everything delivered, keeping up.)"""
    p99 = result["latency_ms"]["p99"]
    if violations(result):
        return False, "; ".join(violations(result))
    if p99 is None or p99 >= p99_limit:
        return False, f"p99 {p99} ms >= {p99_limit:g} ms"
    if result["delivered_per_s"] < BEHIND * offered_deliveries:
        return False, f"fell behind: {result['delivered_per_s']:.0f}/s delivered of {offered_deliveries:.0f}/s offered"
    return True, ""


def line(r: Result) -> str:
    lat = r["latency_ms"]
    cpu = r["cpu_us_per_delivered"]
    return (f"{r['peer']:>17} {r['scenario']} {r['params']}: delivered {r['delivered']}/{r['expected']} "
            f"{r['delivered_per_s']:.0f}/s, p50/p95/p99 {lat['p50']}/{lat['p95']}/{lat['p99']} ms, "
            f"cpu {cpu if cpu is not None else '-'} us/msg; {r['notes']}")


def report(r: Result) -> None:
    say(line(r))
    for v in violations(r):
        warn(f"CORRECTNESS VIOLATION: {r['peer']} {r['scenario']} {r['params']}: {v}")


def step_up(system: Any, name: str, scenario: str, rates: list[float], params: Callable[[float], dict[str, Any]],
            deliveries_per_msg: float, notes: list[str]) -> list[Result]:
    """Run the rates in order until one is not held; returns every step run (the last may be the broken one)."""
    out: list[Result] = []
    for rate in rates:
        result, note = guarded_run(system, scenario, params(rate))
        if result is None:
            notes.append(f"{name} {scenario} at {rate:g} msg/s: {note}")
            break
        report(result)
        out.append(result)
        ok, why = held(result, rate * deliveries_per_msg)
        if not ok:
            say(f"   {name} did not hold {rate:g} msg/s: {why}")
            break
    return out


def ratio(ours: float | None, peer: float | None) -> float | None:
    if ours is None or peer is None or peer == 0:
        return None
    return round(ours / peer, 3)
