"""A token bucket for frames per connection (in memory: a connection lives on one node)."""

from __future__ import annotations

import trio


class TokenBucket:
    def __init__(self, rate: float, burst: int) -> None:
        self.rate, self.burst = rate, float(burst)
        self.tokens = float(burst)
        self.stamp = trio.current_time()

    def take(self) -> float | None:
        """None if allowed, else seconds until the next frame would be allowed."""
        now = trio.current_time()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return None
        return (1 - self.tokens) / self.rate
