"""Stable error codes, websocket close codes, and the one refusal type.

A request that cannot be served is a `Refusal`: an exception with an `ErrorCode` and a message for a person.
Whatever refuses (the codec, a handler, a room's rules, a database check) raises or returns it, and two
places turn it into what the client sees: the gateway's reply handle (an `error` frame echoing the request
id, actors/reply.py) and the HTTP side's guard (`{"code", "message"}` with an HTTP status, httpapi/refused.py).
docs/architecture.md, "Refusals and replies", says which exceptions are not refusals and where they become one.
"""

from __future__ import annotations

from enum import IntEnum, StrEnum


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
    # the media endpoints' own (HTTP only, docs/protocol.md section 8)
    TOO_MANY_UPLOADS = "too_many_uploads"
    QUOTA_EXCEEDED = "quota_exceeded"
    RANGE_NOT_SATISFIABLE = "range_not_satisfiable"


class CloseCode(IntEnum):
    """Why the server closed a websocket (docs/protocol.md, "Close codes"): what the client should do next."""

    NORMAL = 1000
    LOST = 1006  # the socket broke under us: recorded, never sent
    POLICY = 1008  # more than CHAT_PREHELLO_FRAMES frames before a successful hello
    TOO_BIG = 1009  # a client message over 4 x max_frame_bytes (the websocket library closes)
    RESTART = 1012  # the user's actor stopped (a server-side restart) or the node drains: reconnect now
    TRY_AGAIN = 1013  # the database is unavailable, or the session could not start: reconnect after a back-off
    AUTH = 4001  # no hello in time, or the access token expired without an `auth`
    DISABLED = 4003  # the account was disabled or deleted: its tokens are refused, do not reconnect
    TOO_SLOW = 4008  # the outbox filled up, or a frame was not taken within the send timeout
    DISCONNECTED = 4009  # an administrator closed this user's connections; the client may reconnect
    SIGNED_OUT = 4010  # this device's session was revoked (logout, password change...): log in again


class Refusal(Exception):
    """A request refused with `code` and `message` (for a person; it names the field when one is wrong).

    `id`: the request it answers, when the refuser knows it (the codec does; a handler's refusal gets its
    request's id from the reply handle). `retry_after`: seconds to wait before trying again. `close`: a
    websocket that gets this refusal in answer to `auth` then closes with this code. `status` and `headers`:
    the HTTP side's answer where the code's usual status does not fit (408, 415) or more headers are due.

    A Refusal is also a value (the codec returns one per undecodable frame of a bundle, the commit planner one
    per refused item): two with the same code, message, id and retry_after are equal.
    """

    def __init__(self, code: ErrorCode | str, message: str, id: int | None = None,
                 retry_after: float | None = None, *, close: CloseCode | None = None, status: int | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.code = ErrorCode(code)
        self.message = message
        self.id = id
        self.retry_after = retry_after
        self.close = close
        self.status = status
        self.headers = headers

    def _key(self) -> tuple[ErrorCode, str, int | None, float | None]:
        return self.code, self.message, self.id, self.retry_after

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Refusal) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        extra = "".join(f", {k}={v!r}" for k, v in (("id", self.id), ("retry_after", self.retry_after))
                        if v is not None)
        return f"Refusal({self.code.value!r}, {self.message!r}{extra})"


