"""Writing results: one JSON file per scenario run under bench/results/, and bench/RESULTS.md rebuilt from the
latest JSON of each scenario (a hand-written notes block between markers is kept across rebuilds)."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

from bench.hotspots import markdown, summarise
from bench.procs import BENCH_DIR, RESULTS

RESULTS_MD = BENCH_DIR / "RESULTS.md"
PLOT_COPY = BENCH_DIR / "fanout-latency.png"
ORDER = ("connections", "fanout", "dm", "backlog", "history")
NOTES_START, NOTES_END = "<!-- notes:start -->", "<!-- notes:end -->"


def save(record: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(record["started"]))
    path = RESULTS / f"{record['outcome']['scenario']}-{stamp}-{record['run_id']}.json"
    path.write_text(json.dumps(record, indent=1, default=str))
    return path


def latest() -> dict[str, dict[str, Any]]:
    found: dict[str, tuple[float, dict[str, Any]]] = {}
    for path in RESULTS.glob("*.json"):
        try:
            record = json.loads(path.read_text())
            scenario = record["outcome"]["scenario"]
        except (ValueError, KeyError, OSError):
            continue
        if scenario not in found or record["started"] > found[scenario][0]:
            found[scenario] = (record["started"], record)
    return {s: r for s, (_, r) in found.items()}


def _fmt(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:,.1f}" if abs(v) >= 100 else f"{v:.3g}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


def _results_table(results: list[dict[str, Any]], extra: tuple[str, ...] = ()) -> list[str]:
    head = ["system", "params", *extra, "sent", "delivered / expected", "dup", "ooo", "delivered/s", "p50 ms",
            "p95 ms", "p99 ms", "server CPU µs/msg", "notes"]
    rows = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in results:
        params = ", ".join(f"{k}={_fmt(v)}" for k, v in r["params"].items())
        cells = [r["peer"], params]
        if "offered deliveries/s" in extra:
            cells.append(_fmt(r["params"]["rate"] * (r["params"]["members"] - 1)))
        lat = r["latency_ms"]
        cells += [_fmt(r["sent"]), f"{_fmt(r['delivered'])} / {_fmt(r['expected'])}", _fmt(r["duplicates"]),
                  _fmt(r["out_of_order"]), _fmt(r["delivered_per_s"]), _fmt(lat["p50"]), _fmt(lat["p95"]),
                  _fmt(lat["p99"]), _fmt(r["cpu_us_per_delivered"]), r["notes"].replace("|", "/").replace("\n", " ")]
        rows.append("| " + " | ".join(cells) + " |")
    return rows


def _section(record: dict[str, Any]) -> list[str]:
    o = record["outcome"]
    m = record["machine"]
    out = [f"## {o['scenario']}", "",
           f"Command: `{record['command']}`  ",
           f"Taken: {record['started_iso']}, chatd {record['versions']['chatd_commit']}, "
           f"{record['duration_s']:.0f} s; other processes used {record['busy_other_cpu']:.2f} CPU-seconds/s when it "
           f"started (load average {', '.join(f'{x:.2f}' for x in m['load_average'])})", ""]
    if o["violations"]:
        out += ["**CORRECTNESS VIOLATIONS:**", "", *[f"- {v}" for v in o["violations"]], ""]
    extra = ("offered deliveries/s",) if o["scenario"] == "fanout" else ()
    out += [*_results_table(o["results"], extra), ""]
    if o["scenario"] == "fanout":
        out += _fanout_summary(o)
    else:
        if o["summary"]:
            out += ["Summary: `" + json.dumps(o["summary"], default=str) + "`", ""]
        out += _profile_section(o, o["scenario"], "A second run of the same scenario with py-spy attached; its "
                                "figures are not used above.")
    if o["notes"]:
        out += [*[f"- {n}" for n in o["notes"]], ""]
    return out


def _fanout_summary(o: dict[str, Any]) -> list[str]:
    out = ["Highest load held (p99 < 100 ms, everything delivered in order, keeping up) and ours/peer ratios "
           "(delivered/s ratio of the maxima held; CPU and p99 ratios at the highest rate both ran):", "",
           "| members | system | max msgs/s held | deliveries/s there | ours/peer delivered/s | at msgs/s | "
           "ours/peer CPU per msg | ours/peer p99 |", "|---|---|---|---|---|---|---|---|"]
    for m, row in o["summary"].get("by_members", {}).items():
        for name, v in row.items():
            if name.startswith("ours/"):
                continue
            r = row.get(f"ours/{name}", {})
            out.append(f"| {m} | {name} | {_fmt(v['max_rate_held_msgs_s'])} | {_fmt(v['max_delivered_per_s_held'])} | "
                       f"{_fmt(r.get('max_delivered_per_s_held'))} | {_fmt(r.get('at_rate_msgs_s'))} | "
                       f"{_fmt(r.get('cpu_us_per_delivered'))} | {_fmt(r.get('p99'))} |")
    out.append("")
    if (PLOT_COPY).exists():
        out += [f"![latency against offered load]({PLOT_COPY.name})", ""]
    prof = o["summary"].get("profiled_step")
    out += _profile_section(
        o, f"fan-out into {prof['params']['members'] if prof else '?'} members",
        "The profiled step ran at the highest rate of the ladder; it is not used for the figures above"
        + (f"; it delivered {_fmt(prof['delivered_per_s'])}/s at p99 {_fmt(prof['latency_ms']['p99'])} ms."
           if prof else "."))
    return out


def _profile_section(o: dict[str, Any], what: str, about: str) -> list[str]:
    folded = o["artifacts"].get("profile_folded")
    if not folded or not Path(folded).exists():
        return []
    return [f"### Where chatd's time goes (py-spy, {what})", "",
            f"Flame graph: `{Path(o['artifacts']['profile_svg']).relative_to(BENCH_DIR.parent)}` (gitignored; "
            f"rerun to get it). {about}", "", markdown(summarise(Path(folded), 20), "Samples"), ""]


def write_markdown() -> Path:
    records = latest()
    notes = ""
    if RESULTS_MD.exists():
        text = RESULTS_MD.read_text()
        if NOTES_START in text and NOTES_END in text:
            notes = text[text.index(NOTES_START) + len(NOTES_START):text.index(NOTES_END)].strip("\n")
    out = ["# chatd benchmark results", "",
           "Generated by `python -m bench` from the latest run of each scenario (JSON in `bench/results/`, "
           "gitignored). Regenerate with `.venv/bin/python -m bench all`; the notes block at the end is kept.", ""]
    any_record = next(iter(records.values()), None)
    if any_record:
        m, v = any_record["machine"], any_record["versions"]
        out += [f"Machine: {m['cores']} cores ({m['cpu_model']}), {m['memory_gib']} GiB, {m['os']}. "
                f"Python {v['python']}, trio {v['trio']}, trio-websocket {v['trio-websocket']}, websockets "
                f"{v['websockets']}, uvloop {v['uvloop']}, Postgres {v['postgres'] or 'embedded'}. Server under "
                f"test pinned to core {any_record['pinning']['server_core']}, the load generator "
                f"({any_record['pinning']['workers']} processes) to core {any_record['pinning']['load_core']}; "
                "Postgres and Redis are not pinned and their CPU is not counted in the server CPU figures.", ""]
        if all(r["command"].endswith(" all") for r in records.values()):
            total = sum(r["duration_s"] for r in records.values())
            out += [f"The whole `all` run took {total:.0f} s (the budget is 600 s).", ""]
        if any(r["busy_other_cpu"] > 0.3 for r in records.values()):
            out += ["**The machine was otherwise busy** (another engineer's test suite was running on the same 2 "
                    "cores and the same Postgres): latencies and throughput are pessimistic and noisy.", ""]
    checks = [c for s in ORDER if s in records for c in records[s]["outcome"]["checks"]]
    if checks:
        out += ["## Targets (issue 3)", "", "| target | wanted | measured | met | shortfall |", "|---|---|---|---|---|"]
        for c in checks:
            met = "n/a" if c["met"] is None else ("yes" if c["met"] else "**no**")
            out.append(f"| {c['name']} | {c['target']} | {c['actual']} | {met} | {c['detail']} |")
        out.append("")
    for s in ORDER:
        if s in records:
            out += _section(records[s])
    out += ["## Notes", "", NOTES_START, notes or "(analysis goes here; kept across regenerations)", NOTES_END, ""]
    RESULTS_MD.write_text("\n".join(out))
    return RESULTS_MD


def copy_plot(plot: str | None) -> None:
    if plot and Path(plot).exists():
        shutil.copyfile(plot, PLOT_COPY)
