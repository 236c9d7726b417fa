"""Who is typing in a room: ephemeral state of the RoomActor, never stored (a room restart forgets it).

A client sends `typing {active: true}` while the user types (every few seconds) and `false` when they
stop. Members hear about a change only: the start, the stop, or the expiry `ttl` seconds after the last
`true` (a client that vanished stops typing by itself). Repeated `true`s only push the expiry back.
"""

from __future__ import annotations

import math


class TypingState:
    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self.until: dict[int, float] = {}  # user -> when their typing expires

    def start(self, user: int, now: float) -> bool:
        """Typing (again); True if this is news to the others."""
        news = user not in self.until
        self.until[user] = now + self.ttl
        return news

    def stop(self, user: int) -> bool:
        """Not typing any more; True if they were."""
        return self.until.pop(user, None) is not None

    def expire(self, now: float) -> list[int]:
        gone = [user for user, until in self.until.items() if until <= now]
        for user in gone:
            del self.until[user]
        return gone

    def next_expiry(self) -> float:
        return min(self.until.values(), default=math.inf)
