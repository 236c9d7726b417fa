"""What every request handler module shares: the refusal exception and the handler type."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from chatd.protocol import frames as f
from chatd.protocol.errors import ErrorCode


class RequestError(Exception):
    """A refused request; the connection turns it into an `error` frame echoing the request id."""

    def __init__(self, code: ErrorCode, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.retry_after = retry_after


Handler = Callable[[Any], Awaitable[f.Frame | None]]
