"""PNG plot of latency percentiles against offered load (matplotlib, no display needed)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from bench.schema import Result

STYLES = {"p50": ":", "p95": "--", "p99": "-"}


def latency_plot(by_system: dict[str, dict[int, list[Result]]], out: Path) -> Path:
    sizes = sorted({m for per_size in by_system.values() for m in per_size})
    fig, axes = plt.subplots(1, max(1, len(sizes)), figsize=(5.5 * max(1, len(sizes)), 4.5), squeeze=False)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, m in zip(axes[0], sizes, strict=False):
        for n, (name, per_size) in enumerate(by_system.items()):
            steps = sorted(per_size.get(m, []), key=lambda r: r["params"]["rate"])
            offered = [r["params"]["rate"] * (m - 1) for r in steps]
            for q, style in STYLES.items():
                ys = [r["latency_ms"][q] for r in steps]  # type: ignore[literal-required]
                pts = [(x, y) for x, y in zip(offered, ys, strict=True) if y is not None]
                if pts:
                    ax.plot(*zip(*pts, strict=True), style, marker="o", ms=3, color=colors[n % len(colors)],
                            label=f"{name} {q}")
        ax.axhline(100, color="grey", lw=0.8)
        ax.axhline(50, color="grey", lw=0.8, ls=":")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_title(f"fan-out into {m}-member rooms")
        ax.set_xlabel("offered deliveries/s (rate x (members - 1))")
        ax.set_ylabel("send -> receive latency (ms)")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=6)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out
