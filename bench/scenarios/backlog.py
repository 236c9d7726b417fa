"""backlog: a member is offline while N messages arrive; time from reconnect to the last one received and acked."""

from __future__ import annotations

import argparse
import time

from bench.context import Context
from bench.outcome import Check, Outcome
from bench.pool import DELIVERED, source_for
from bench.scenarios.fill import fill
from bench.scenarios.ladder import report
from bench.schema import make_result

TARGET_S = 1.0


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--messages", type=int, default=10_000, help="messages that arrive while offline (default 10000)")


def run(ctx: Context) -> Outcome:
    n = ctx.args.messages
    outcome = Outcome("backlog", {"messages": n})
    with ctx.chatd("backlog") as system:
        offline, sender = system.open_users(2, "connecting")
        room = system.make_group([sender, offline])
        time.sleep(0.5)  # the `created` message is delivered, acked and the cursor stored
        (tokens,) = system.pool.run([(system.pool.worker_of(offline), "disconnect", {"keys": [offline]})],
                                    "member goes offline")
        stored, fill_s, errors = fill(system, sender, room, n)
        outcome.summary["fill"] = {"stored": stored, "seconds": round(fill_s, 3), "errors": errors,
                                   "stored_per_s": round(stored / fill_s, 1) if fill_s else None}
        system.wait_idle()
        start = system.window()
        (got,) = system.pool.run([(system.pool.worker_of(offline), "backlog", {
            "key": offline, "token": tokens[offline],
            "source": source_for(offline), "room": room, "expected": stored, "timeout": 120.0})],
            "member reconnects: backlog", total=stored, slot=DELIVERED)
        server_cpu, note = system.close_window(start)
    took = got["reconnect_to_last_s"]
    result = make_result(
        peer="chatd", scenario="backlog", params={"messages": n}, sent=stored, expected=stored,
        delivered=got["delivered"], duplicates=got["duplicates"], out_of_order=got["out_of_order"],
        duration_s=took or 0.0, server_cpu_s=server_cpu, latencies_s=[],
        notes=f"{note}; duration_s is reconnect (TCP connect) to the last message received and acked; "
              f"latency is not meaningful here (messages waited while the member was offline)")
    report(result)
    outcome.results.append(result)
    outcome.summary["reconnect_to_last_s"] = took
    outcome.checks.append(Check(f"{n:,}-message backlog fully received", f"< {TARGET_S:g} s",
                                f"{took:.3f} s" if took else "incomplete", bool(took and took < TARGET_S),
                                "" if took and took < TARGET_S else
                                (f"{took / TARGET_S:.1f}x the target" if took else "not everything arrived")))
    return outcome
