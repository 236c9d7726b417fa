"""Summarise py-spy's raw (folded) stacks: the functions with the most samples, self and inclusive."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

_LOCATION = re.compile(r"^(?P<func>.*?) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")
IDLE = ("epoll", "select", "poll (", "_run_once", "get_events", "wait (threading")


@dataclass
class Hotspots:
    samples: int
    idle: int
    self_time: list[tuple[str, int]]
    inclusive: list[tuple[str, int]]


def _short(frame: str) -> str:
    m = _LOCATION.match(frame.strip())
    if not m:
        return frame.strip()
    path = m["file"]
    for marker in ("/site-packages/", "/lib/python3.", f"{Path(__file__).resolve().parents[1]}/"):
        if marker in path:
            path = path.split(marker, 1)[1]
            if marker == "/lib/python3.":
                path = "stdlib/" + path.split("/", 1)[-1]
            break
    return f"{m['func']} ({path}:{m['line']})" if m["line"] else f"{m['func']} ({path})"


def summarise(folded: Path, top: int = 15) -> Hotspots:
    own: Counter[str] = Counter()
    incl: Counter[str] = Counter()
    samples = idle = 0
    for raw in folded.read_text(errors="replace").splitlines():
        stack, _, count_text = raw.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_short(f) for f in stack.split(";") if f and not f.startswith(("process ", "thread "))]
        if not frames:
            continue
        samples += count
        if any(marker in frames[-1] for marker in IDLE):
            idle += count
            continue
        own[frames[-1]] += count
        for name in set(frames):
            incl[name] += count
    return Hotspots(samples, idle, own.most_common(top), incl.most_common(top))


def markdown(h: Hotspots, title: str) -> str:
    busy = max(1, h.samples - h.idle)
    lines = [f"{title}: {h.samples} samples, {h.idle / max(1, h.samples):.0%} idle (waiting for I/O).", "",
             "| self % of busy | function |", "|---:|---|"]
    lines += [f"| {n / busy:.1%} | `{name}` |" for name, n in h.self_time]
    lines += ["", "| inclusive % of busy | function |", "|---:|---|"]
    lines += [f"| {n / busy:.1%} | `{name}` |" for name, n in h.inclusive]
    return "\n".join(lines)
