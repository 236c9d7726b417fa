"""connections: hold N authenticated idle connections; server RSS per connection (after - before) / N."""

from __future__ import annotations

import argparse
import time

from bench.context import Context
from bench.outcome import Check, Outcome
from bench.procs import raise_nofile
from bench.progress import say, warn
from bench.schema import make_result

TARGET_KIB = 48.0
BATCH = 1000


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--connections", "-n", type=int, default=10_000, help="idle connections to hold (default 10000)")
    p.add_argument("--hold", type=float, default=5.0, help="seconds to hold them idle while measuring")


def run(ctx: Context) -> Outcome:
    n = ctx.args.connections
    limit = raise_nofile()
    outcome = Outcome("connections", {"connections": n})
    if limit < n + 1000:
        warn(f"fd limit {limit} is low for {n} connections; some may fail")
    with ctx.chatd("conn") as system:
        assert system.server is not None
        server_limit = system.server.nofile_limit()
        system.wait_idle()
        rss_before = system.server.rss()
        start = system.window()
        batches = []
        for done in range(0, n, BATCH):
            t0 = time.monotonic()
            system.open_users(min(BATCH, n - done), f"connections {done + 1}..{min(n, done + BATCH)} of {n}")
            batches.append(round(time.monotonic() - t0, 2))
        connect_cpu, note = system.close_window(start)
        connect_s = sum(batches)
        system.wait_idle(limit_s=15)
        idle = system.window()
        time.sleep(ctx.args.hold)
        idle_cpu, _ = system.close_window(idle)
        rss_after = system.server.rss()
        alive = system.pool.everywhere("alive", "checking connections")
        still_open = sum(a["open"] for a in alive)
        closed: dict[str, int] = {}
        for a in alive:
            for code, k in a["closed"].items():
                closed[code] = closed.get(code, 0) + k
        emfile = system.server.log_mentions("Too many open files", "EMFILE")
    per_conn = (rss_after - rss_before) / n
    kib = per_conn / 1024
    say(f"chatd: {still_open}/{n} connections open; RSS {rss_before / 2**20:.1f} -> {rss_after / 2**20:.1f} MiB, "
        f"{kib:.1f} KiB per connection; signup+hello {connect_cpu * 1e3 / n:.1f} ms server CPU each; "
        f"idle CPU {idle_cpu / ctx.args.hold:.1%} of a core")
    if still_open != n or emfile:
        warn(f"connections lost: {n - still_open} (close codes {closed}); server log mentions {emfile or 'no EMFILE'}")
    outcome.results.append(make_result(
        peer="chatd", scenario="connections", params={"connections": n}, sent=0, expected=n, delivered=still_open,
        duplicates=0, out_of_order=0, duration_s=connect_s, server_cpu_s=connect_cpu, latencies_s=[],
        notes=f"delivered = connections still open after the hold; duration/cpu are for signing up and saying "
              f"hello on all of them (cpu_us_per_delivered = server CPU per signup+hello); {note}"))
    outcome.summary.update({
        "rss_before_mib": round(rss_before / 2**20, 1), "rss_after_mib": round(rss_after / 2**20, 1),
        "rss_per_connection_kib": round(kib, 2), "still_open": still_open, "closed": closed,
        "signup_hello_cpu_ms_each": round(connect_cpu * 1e3 / n, 2), "seconds_per_batch_of_1000": batches,
        "idle_cpu_share_of_core": round(idle_cpu / ctx.args.hold, 4), "server_fd_limit": server_limit,
        "generator_fd_limit": limit, "emfile_in_server_log": emfile})
    over = "" if kib <= TARGET_KIB else f"{kib - TARGET_KIB:.1f} KiB over ({kib / TARGET_KIB:.2f}x)"
    outcome.checks.append(Check(f"{n:,} idle connections", f"<= {TARGET_KIB:g} KiB server RSS each",
                                f"{kib:.1f} KiB each, {still_open:,} of {n:,} held",
                                kib <= TARGET_KIB and still_open == n, over))
    if n < 10_000:
        outcome.checks[-1].detail += f" (measured at {n:,}, the target is for 10,000)"
    return outcome
