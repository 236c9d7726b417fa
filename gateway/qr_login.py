"""QR device login (docs/protocol.md 3.9): a device with no account signed in asks for a one-time request and
shows its code; a signed-in device of the account approves it; the asking device then gets a device of its own.

- The new device (HTTP, `httpapi/qr_login.py`) starts a request: a public `code` (in the QR, and as text) and a
  private `secret` that never leaves it. Only the sha256 of the secret is stored, with the request, in Redis
  for CHAT_QR_LOGIN_TTL seconds (persistence/qr_logins.py). It then waits (long-polls) with code and secret.
- A signed-in device previews the code (who asks: the label, User-Agent and client address the server saw) and
  answers it, once: approve or decline. Nothing is minted then: the approval names the user and the approving
  device.
- The wait that finds the approval deletes the request in the same step (one collection) and then signs a new
  device in for the approving user, exactly as `login` does (Postgres, the device cap), but only if the approving
  device is still signed in. The tokens go only to the holder of the secret; the approver never sees them.

Waits are answered at once when the approval is handled by this process (Wakeups) and within POLL_SECONDS when
another process handled it. Starting and waiting are limited per client address (Redis windows, plus the waits
one address may hold open here); previews and answers per user.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import trio

from chatd.actors.reply import Reply
from chatd.gateway.accounts import Accounts, rate_limit
from chatd.gateway.checks import spend
from chatd.gateway.context import Context
from chatd.gateway.in_flight import TooManyInFlight
from chatd.gateway.services import Services
from chatd.persistence import CacheUnavailable
from chatd.persistence.qr_logins import QrClaim
from chatd.protocol import frames as f
from chatd.protocol import qr
from chatd.protocol.errors import ErrorCode, Refusal

POLL_SECONDS = 0.5  # a wait looks at its request this often (an answer on another process reaches it so)
ANSWERS_PER_MINUTE = 30  # previews and answers per signed-in user (codes are not guessable anyway)
RETRY_AFTER = 1.0
GONE = "no QR login request waits under this code: it expired, was answered or used, or never existed"


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def redis_down() -> Refusal:
    return Refusal(ErrorCode.RETRY, "QR login cannot reach its store right now, retry later", retry_after=RETRY_AFTER)


@dataclass(frozen=True, slots=True)
class StillPending:
    """A wait that ended before the request was answered: ask again (within `expires_in` seconds)."""

    expires_in: int


class QrLogins:
    """The new device's side: start a request, wait for its answer."""

    def __init__(self, services: Services, limit_key: str, address: str) -> None:
        self.s = services
        self.key = limit_key  # what per-address limits count (an IPv6 client's /64)
        self.address = address  # shown to the approver

    async def start(self, req: qr.QrStart, user_agent: str | None) -> qr.QrStarted:
        cfg = self.s.config
        await rate_limit(self.s, f"qr:start:{self.key}", cfg.qr_logins_per_hour, 3600, fail_open=False)
        secret = qr.new_secret()
        agent = user_agent[:qr.MAX_USER_AGENT] if user_agent else None
        try:
            while True:  # a taken code (1 in 2^100) is drawn again
                code = qr.new_code()
                if await self.s.cache.qr_create(code, secret_hash(secret), req.device, agent, self.address[:64],
                                                cfg.qr_login_ttl):
                    return qr.QrStarted(code=code, secret=secret, expires_in=cfg.qr_login_ttl)
        except CacheUnavailable as exc:
            raise redis_down() from exc

    async def wait(self, req: qr.QrWait, went_away: Callable[[], Awaitable[bool]] | None = None
                   ) -> f.AuthOk | StillPending:
        """Until the request is answered or CHAT_QR_WAIT_SECONDS pass: the new device's tokens, or
        StillPending; a Refusal when it was declined, is gone or the secret is wrong. `went_away` says whether
        the waiting client went away: then the approval is not collected (its next wait gets it)."""
        cfg = self.s.config
        code = qr.code_of(req.code)
        if code is None:
            raise Refusal(ErrorCode.BAD_REQUEST, "code: not a QR login code")
        await rate_limit(self.s, f"qr:wait:{self.key}", cfg.qr_polls_per_minute, 60, fail_open=False)
        try:
            with self.s.qr_waits.hold(self.key, cfg.qr_waits_per_address):
                claim = await self._answer(code, secret_hash(req.secret), trio.current_time() + cfg.qr_wait_seconds,
                                           went_away)
        except TooManyInFlight as exc:
            raise Refusal(ErrorCode.RATE_LIMITED, "too many QR login waits from your address at once",
                          retry_after=RETRY_AFTER) from exc
        except CacheUnavailable as exc:
            raise redis_down() from exc
        if claim.state == "pending":
            return StillPending(math.ceil(claim.expires_in))
        if claim.state == "wrong_secret":
            raise Refusal(ErrorCode.UNAUTHORIZED, "wrong secret for this QR login request: only the device "
                                                  "that started it may wait for it")
        if claim.state == "declined":
            raise Refusal(ErrorCode.FORBIDDEN, "the QR login was declined on the other device")
        if claim.state != "approved":
            raise Refusal(ErrorCode.NOT_FOUND, GONE)
        row = await self.s.store.session(claim.user_id, claim.approver_device)
        if row is None or not row.account_active:
            raise Refusal(ErrorCode.FORBIDDEN, "the account that approved this QR login is disabled or gone")
        if not row.device_live:
            raise Refusal(ErrorCode.FORBIDDEN, "the device that approved this QR login was signed out "
                                               "meanwhile: start again")
        return await Accounts(self.s, self.key).grant(0, claim.user_id, row.username, claim.device)

    async def _answer(self, code: str, hashed: str, until: float,
                      went_away: Callable[[], Awaitable[bool]] | None) -> QrClaim:
        while True:
            if went_away is not None and await went_away():  # a claim would collect the approval for nobody
                return QrClaim("pending", expires_in=max(0.0, until - trio.current_time()))
            claim = await self.s.cache.qr_claim(code, hashed)
            left = min(until - trio.current_time(), claim.expires_in)
            if claim.state != "pending" or left <= 0:
                return claim
            with trio.move_on_after(min(left, POLL_SECONDS)):
                await self.s.qr_answers.wait(code)


# ------------------------------------------------------------------ the signed-in device's side: the websocket
# frames `qr_login_preview` and `qr_login_answer`

async def _code(cx: Context, text: str) -> str:
    await spend(cx, "qr", ANSWERS_PER_MINUTE, 1, "too many QR login codes looked at, wait and try again")
    code = qr.code_of(text)
    if code is None:
        raise Refusal(ErrorCode.BAD_REQUEST, "code: not a QR login code (20 letters and digits, or the "
                                             "link in the QR)")
    return code


async def preview(cx: Context, req: qr.QrLoginPreview, reply: Reply) -> None:
    code = await _code(cx, req.code)
    try:
        pending = await cx.services.cache.qr_pending(code)
    except CacheUnavailable as exc:
        raise redis_down() from exc
    if pending is None:
        raise Refusal(ErrorCode.NOT_FOUND, GONE)
    reply.send(qr.QrLoginRequest(id=req.id, code=code, address=pending.address,
                                 expires_in=math.ceil(pending.expires_in), device=pending.device,
                                 user_agent=pending.user_agent))


async def answer(cx: Context, req: qr.QrLoginAnswer, reply: Reply) -> None:
    code = await _code(cx, req.code)
    try:
        outcome = await cx.services.cache.qr_answer(code, req.approve, cx.me, cx.device.session)
    except CacheUnavailable as exc:
        raise redis_down() from exc
    if outcome == "gone":
        raise Refusal(ErrorCode.NOT_FOUND, GONE)
    if outcome == "answered":
        raise Refusal(ErrorCode.CONFLICT, "this QR login request was answered already")
    cx.services.qr_answers.wake(code)  # a wait on this process hears it now, others within POLL_SECONDS
    reply.send(f.Ok(id=req.id))
