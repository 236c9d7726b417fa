"""What one scenario run produces: results in the shared schema, headline figures, target checks."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from bench.schema import Result, violations


@dataclass
class Check:
    """A target from issue 3, printed against the figure (never asserted)."""
    name: str
    target: str
    actual: str
    met: bool | None  # None: not measured in this run
    detail: str = ""


@dataclass
class Outcome:
    scenario: str
    params: dict[str, Any]
    results: list[Result] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)
    checks: list[Check] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    artifacts: dict[str, str] = field(default_factory=dict)  # plot, profile, ...

    def violations(self) -> list[str]:
        out = []
        for r in self.results:
            out += [f"{r['peer']} {r['scenario']} {r['params']}: {v}" for v in violations(r)]
        return out

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["violations"] = self.violations()
        return data
