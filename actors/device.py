"""A device: one authenticated websocket connection, as its UserActor and room actors see it.

Actors enqueue frames in the device's bounded outbox without waiting; the connection's writer task
sends them to the socket. A device with `limit` frames queued is too slow: the next enqueue closes it
(code 4008) and the client resumes from its cursors when it reconnects. A slow device never blocks an
actor. Replies to the device's own requests (frames with an `id`) are the exception: they may queue past
`limit` (the channel itself is unbounded), because the connection's reader stops reading requests while
the outbox is half full: only requests already under way (bounded by the frame rate limit) still reply.
A client that floods requests but reads is paced, not closed; one that stops reading stops being read,
and the writer's stall watchdog closes it (4008).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import trio

from chatd.protocol.errors import CloseCode
from chatd.protocol.frames import Frame

_ids = itertools.count(1)


@dataclass(eq=False)
class Device:
    user_id: int
    outbox: trio.MemorySendChannel[Frame]  # `limit` bounds what is not a reply (see above)
    limit: int = 256
    queued: int = 0  # frames enqueued and not yet taken by the writer (`taken`)
    session: str = ""  # the signed-in device (the access token's `dev`) once the connection said hello
    id: int = field(default_factory=lambda: next(_ids))
    close_code: int = CloseCode.NORMAL
    close_reason: str = ""
    closed: bool = False

    def enqueue(self, frame: Frame) -> bool:
        if self.queued >= self.limit and getattr(frame, "id", None) is None:
            self.kill(CloseCode.TOO_SLOW, "too slow: outbox full")
            return False
        try:
            self.outbox.send_nowait(frame)
            self.queued += 1
            return True
        except trio.WouldBlock:
            self.kill(CloseCode.TOO_SLOW, "too slow: outbox full")
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass
        return False

    @property
    def half_full(self) -> bool:
        """Half of `limit` is queued: the connection's reader waits before it reads another request."""
        return self.queued * 2 >= self.limit

    def taken(self, frames: int) -> None:
        """The writer took `frames` frames off the outbox."""
        self.queued -= frames

    def kill(self, code: CloseCode, reason: str) -> None:
        """Close the connection after what is already queued (the writer sees end-of-channel)."""
        if not self.closed:
            self.closed = True
            self.close_code, self.close_reason = code, reason
            self.outbox.close()
