"""history: paging back through N messages, 100 at a time; per-page latency and total time."""

from __future__ import annotations

import argparse

from bench.context import Context
from bench.outcome import Outcome
from bench.pool import DELIVERED
from bench.scenarios.fill import fill
from bench.scenarios.ladder import report
from bench.schema import make_result


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--messages", type=int, default=10_000, help="messages to page through (default 10000)")
    p.add_argument("--page", type=int, default=100, help="history limit per page (<= 100)")


def run(ctx: Context) -> Outcome:
    n, page = ctx.args.messages, ctx.args.page
    outcome = Outcome("history", {"messages": n, "page": page})
    with ctx.chatd("history") as system:
        (reader,) = system.open_users(1, "connecting")
        room = system.make_group([reader])
        stored, fill_s, errors = fill(system, reader, room, n)
        outcome.summary["fill"] = {"stored": stored, "seconds": round(fill_s, 3), "errors": errors}
        system.wait_idle()
        start = system.window()
        (got,) = system.pool.run([(system.pool.worker_of(reader), "history", {
            "key": reader, "room": room, "page": page, "max_pages": n // page + 10})],
            "paging back", total=stored + 1, slot=DELIVERED)
        server_cpu, note = system.close_window(start)
    expected = stored + 1  # and the room's `created` message at seq 1
    problems = got["problems"]
    result = make_result(
        peer="chatd", scenario="history", params={"messages": n, "page": page}, sent=stored, expected=expected,
        delivered=got["distinct"], duplicates=got["messages"] - got["distinct"], out_of_order=len(problems),
        duration_s=got["total_s"], server_cpu_s=server_cpu, latencies_s=got["page_s"],
        notes=f"{note}; latency_ms is per page request (request -> history_page); {got['pages']} pages"
              + (f"; problems: {problems[:5]}" if problems else ""))
    report(result)
    outcome.results.append(result)
    outcome.summary.update({"pages": got["pages"], "total_s": round(got["total_s"], 3),
                            "seqs": [got["min_seq"], got["max_seq"]]})
    return outcome
