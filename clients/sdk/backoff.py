"""Exponential back-off with full jitter, shared by reconnects and request retries."""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass
class Backoff:
    """Delays of ``first * factor**n`` seconds (capped at ``cap``), each drawn uniformly from [d/2, d].

    ``next()`` returns the delay to wait before the next attempt; ``reset()`` after a success.
    """

    first: float = 0.2
    factor: float = 2.0
    cap: float = 10.0
    attempts: int = field(default=0, init=False)

    def next(self, at_least: float = 0.0) -> float:
        ceiling = min(self.cap, self.first * self.factor ** self.attempts)
        self.attempts += 1
        return max(at_least, random.uniform(ceiling / 2, ceiling))

    def reset(self) -> None:
        self.attempts = 0
