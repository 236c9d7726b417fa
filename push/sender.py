"""Sending one push to one subscription: the pluggable `PushSender` and its Web Push implementation.

A sender never raises for what the push service answers: it returns a `PushResult` whose outcome says
what to do next (delivered, gone: drop the subscription, retry later, rejected: give up on this one).
Other transports (APNs, FCM's own API) would be further implementations of the protocol.
"""

from __future__ import annotations

import email.utils
import logging
import threading
import time
from dataclasses import dataclass
from enum import Enum
from typing import Literal, Protocol

import requests
import trio
from pywebpush import WebPushException, webpush

from chatd.persistence.push import Subscription
from chatd.push.vapid import VapidKey

log = logging.getLogger("chatd.push")

MAX_ERROR = 500  # characters of a push service's answer kept with a failure
RETRY_STATUSES = frozenset({408, 425, 429})


Urgency = Literal["very-low", "low", "normal", "high"]  # RFC 8030 section 5.3


class Outcome(Enum):
    DELIVERED = "delivered"
    GONE = "gone"  # 404/410: the subscription expired or was revoked
    RETRY = "retry"  # 5xx, 408, 425, 429, network errors, timeouts
    REJECTED = "rejected"  # another 4xx: sending the same again would fail the same way


@dataclass(frozen=True, slots=True)
class PushMessage:
    payload: bytes  # JSON, encrypted per subscription by the sender
    ttl: int  # seconds the push service keeps it for an offline device
    topic: str  # a newer push with the same topic replaces an undelivered one
    urgency: Urgency


@dataclass(frozen=True, slots=True)
class PushResult:
    outcome: Outcome
    status: int | None = None
    error: str = ""
    retry_after: float | None = None  # seconds, from a Retry-After header


class PushSender(Protocol):
    async def send(self, subscription: Subscription, message: PushMessage) -> PushResult: ...


def short(text: str) -> str:
    """An error for the database: no NUL (Postgres text cannot hold it), at most MAX_ERROR characters."""
    return text.replace("\x00", "")[:MAX_ERROR]


def classify(status: int) -> Outcome:
    if 200 <= status < 300:
        return Outcome.DELIVERED
    if status in (404, 410):
        return Outcome.GONE
    if status >= 500 or status in RETRY_STATUSES:
        return Outcome.RETRY
    return Outcome.REJECTED


def retry_after_seconds(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


class WebPushSender:
    """RFC 8030 Web Push with aes128gcm payloads (RFC 8291) and VAPID (RFC 8292), through pywebpush.

    pywebpush is synchronous (requests), so each send runs in a worker thread: at most `concurrency` at
    once, each bounded by `timeout`. Redirects are not followed: a push service answers, it never
    forwards, and following one would let an endpoint point the server at another address.
    """

    def __init__(self, vapid: VapidKey, subject: str, *, timeout: float = 10.0, concurrency: int = 16) -> None:
        self.vapid = vapid
        self.subject = subject
        self.timeout = timeout
        self.limiter = trio.CapacityLimiter(concurrency)
        self._sessions = threading.local()

    async def send(self, subscription: Subscription, message: PushMessage) -> PushResult:
        with trio.move_on_after(self.timeout + 2):  # the thread's own timeouts end it; this bounds the wait
            return await trio.to_thread.run_sync(self._post, subscription, message, limiter=self.limiter,
                                                 abandon_on_cancel=True)
        return PushResult(Outcome.RETRY, error=f"no answer within {self.timeout:g} s")

    def _session(self) -> requests.Session:
        session: requests.Session | None = getattr(self._sessions, "session", None)
        if session is None:
            session = requests.Session()
            session.max_redirects = 0
            self._sessions.session = session
        return session

    def _post(self, subscription: Subscription, message: PushMessage) -> PushResult:
        """In a worker thread: encrypt, sign and POST."""
        info = {"endpoint": subscription.endpoint, "keys": {"p256dh": subscription.p256dh, "auth": subscription.auth}}
        try:
            response = webpush(info, data=message.payload.decode(), vapid_private_key=self.vapid.vapid,
                               vapid_claims={"sub": self.subject}, ttl=message.ttl, timeout=self.timeout,
                               headers={"Topic": message.topic, "Urgency": message.urgency},
                               requests_session=self._session())
        except WebPushException as exc:
            if exc.status_code is None:
                return PushResult(Outcome.REJECTED, error=short(str(exc.message)))
            status = int(exc.status_code)
            body = getattr(exc.response, "text", "") or ""
            return PushResult(classify(status), status, short(f"HTTP {status}: {body}".strip()),
                              retry_after_seconds(exc.retry_after))
        except requests.TooManyRedirects:
            return PushResult(Outcome.REJECTED, error="the push service answered with a redirect")
        except requests.RequestException as exc:
            return PushResult(Outcome.RETRY, error=short(f"{type(exc).__name__}: {exc}"))
        except Exception as exc:  # a bug or a surprise in the library: retried, and visible in the log
            log.exception("push to %s failed unexpectedly", subscription.endpoint[:80])
            return PushResult(Outcome.RETRY, error=short(f"{type(exc).__name__}: {exc}"))
        if isinstance(response, str):  # only for curl=True, which is never asked for
            return PushResult(Outcome.REJECTED, error="unexpected answer from pywebpush")
        return PushResult(Outcome.DELIVERED, response.status_code)
