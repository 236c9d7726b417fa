"""The plot of docs/storage.md: read latency against the size of the messages table, per layout (matplotlib)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

READS = {"history_first_page": "history, newest page", "history_deep_page": "history, deep page",
         "backlog_batch": "backlog batch (100)", "list_rooms_unread": "list_rooms, heaviest users"}


def latency_by_size(records: list[dict[str, Any]], out: Path) -> Path:
    """One panel per read; p50 (dotted) and p99 (solid) against messages stored, one colour per layout (the
    latest run of each size, layout and fillfactor 90 or, for older records, 100)."""
    latest: dict[tuple[int, int], dict[str, Any]] = {}
    for r in records:
        if "measure" in r:
            r = {"partitions": 0, "fillfactor": 100, **r}
            latest[(r["partitions"], r["messages"])] = r  # later records win
    layouts = sorted({p for p, _ in latest})
    fig, axes = plt.subplots(1, len(READS), figsize=(4.2 * len(READS), 4), squeeze=False)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, (key, title) in zip(axes[0], READS.items(), strict=True):
        for n, parts in enumerate(layouts):
            runs = sorted((m, r) for (p, m), r in latest.items() if p == parts)
            label = f"{parts} partitions" if parts else "unpartitioned"
            for q, style in (("p50_ms", ":"), ("p99_ms", "-")):
                ax.plot([m for m, _ in runs], [r["measure"][key][q] for _, r in runs], style, marker="o", ms=3,
                        color=colors[n % len(colors)], label=f"{label} {q[:3]}")
        ax.set_xscale("log")
        ax.set_ylim(bottom=0)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("messages in the table")
        ax.grid(True, alpha=0.3)
    axes[0][0].set_ylabel("ms per call")
    axes[0][-1].legend(fontsize=8)
    fig.suptitle("chatd on one PostgreSQL 15 (2 cores): read latency against table size", fontsize=11)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out
