"""The result schema shared by chatd, the relays and the peers in bench/peers/, and percentile helpers."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, TypedDict


class Latency(TypedDict):
    p50: float | None
    p95: float | None
    p99: float | None


class Result(TypedDict):
    peer: str
    scenario: str
    params: dict[str, Any]
    sent: int
    expected: int
    delivered: int
    duplicates: int
    out_of_order: int
    duration_s: float
    delivered_per_s: float
    server_cpu_s: float | None
    cpu_us_per_delivered: float | None
    latency_ms: Latency
    notes: str


RESULT_KEYS = frozenset(Result.__annotations__)


def percentile(sorted_values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100) of already sorted values."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(q / 100 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def latency_ms(seconds: Sequence[float]) -> Latency:
    ordered = sorted(seconds)

    def ms(q: float) -> float | None:
        v = percentile(ordered, q)
        return None if v is None else round(v * 1000, 3)
    return {"p50": ms(50), "p95": ms(95), "p99": ms(99)}


def make_result(*, peer: str, scenario: str, params: dict[str, Any], sent: int, expected: int, delivered: int,
                duplicates: int, out_of_order: int, duration_s: float, server_cpu_s: float | None,
                latencies_s: Sequence[float], notes: str = "") -> Result:
    per_s = delivered / duration_s if duration_s > 0 else 0.0
    cpu_us = server_cpu_s * 1e6 / delivered if server_cpu_s is not None and delivered else None
    return Result(peer=peer, scenario=scenario, params=dict(params), sent=sent, expected=expected,
                  delivered=delivered, duplicates=duplicates, out_of_order=out_of_order,
                  duration_s=round(duration_s, 4), delivered_per_s=round(per_s, 1),
                  server_cpu_s=None if server_cpu_s is None else round(server_cpu_s, 4),
                  cpu_us_per_delivered=None if cpu_us is None else round(cpu_us, 2),
                  latency_ms=latency_ms(latencies_s), notes=notes)


def violations(result: Result) -> list[str]:
    """Correctness problems of one result, in words (empty: delivered == expected, in order, no duplicate)."""
    out = []
    if result["delivered"] != result["expected"]:
        out.append(f"delivered {result['delivered']} != expected {result['expected']} "
                   f"({result['delivered'] - result['expected']:+d})")
    if result["duplicates"]:
        out.append(f"{result['duplicates']} duplicate deliveries")
    if result["out_of_order"]:
        out.append(f"{result['out_of_order']} deliveries out of per-room order")
    return out
