"""Stable error codes and the error value the codec returns instead of raising."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ErrorCode(StrEnum):
    BAD_REQUEST = "bad_request"
    UNAUTHORIZED = "unauthorized"
    FORBIDDEN = "forbidden"
    NOT_FOUND = "not_found"
    RATE_LIMITED = "rate_limited"
    TOO_LARGE = "too_large"
    RETRY = "retry"
    CONFLICT = "conflict"
    INVITE_EXPIRED = "invite_expired"
    INVITE_REVOKED = "invite_revoked"
    INVITE_USED_UP = "invite_used_up"
    INTERNAL = "internal"


@dataclass(frozen=True, slots=True)
class ProtocolError:
    """A request that cannot be served; becomes an ``error`` frame echoing ``id``."""

    code: ErrorCode
    message: str
    id: int | None = None
    retry_after: float | None = None
