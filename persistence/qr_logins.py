"""Pending QR login requests in Redis (docs/protocol.md 3.9): ephemeral, one hash per request with a TTL.

    {prefix}qr:{code}  hash  s: pending | approved | declined   sh: sha256 of the poll secret (hex)
                             dev, ua, addr: what the new device said and where it came from
                             uid, adev: who approved, from which of their devices (once approved)

A request is answered once (approve or decline, atomically: two approvers cannot both win) and collected once:
the claim by the holder of the secret reads the answer and deletes the key in one script, so no second claim can
get tokens. Tokens are never stored here: the server mints them when the secret's holder collects an approval.
Redis being down fails closed (CacheUnavailable): nobody is signed in without the request being checked.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, Literal, TypeVar, get_args

import redis.asyncio as aredis

from chatd.persistence.bridge import aio
from chatd.persistence.errors import REDIS_ERRORS, CacheUnavailable

ANSWER_KEEP_MS = 30_000  # an answered request lives at least this much longer, for its device to collect

QrState = Literal["pending", "approved", "declined", "gone", "wrong_secret"]  # what a claim finds (QrClaim)
QR_STATES: Final[tuple[QrState, ...]] = get_args(QrState)
QrAnswer = Literal["ok", "gone", "answered"]  # how answering a request went (qr_answer)
QR_ANSWERS: Final[tuple[QrAnswer, ...]] = get_args(QrAnswer)
T = TypeVar("T", bound=str)


@dataclass(frozen=True, slots=True)
class QrPending:
    """A request still waiting for an answer, as the approver is shown it."""

    device: str | None
    user_agent: str | None
    address: str
    expires_in: float  # seconds


@dataclass(frozen=True, slots=True)
class QrClaim:
    """What the holder of a request's secret finds: `pending`, `approved` (by `user_id` from `approver_device`:
    the request is gone now), `declined` (gone now), `gone` (expired, collected, or never was) or `wrong_secret`."""

    state: QrState
    user_id: int = 0
    approver_device: str = ""
    expires_in: float = 0.0
    device: str | None = None  # the label the new device gave


class QrLoginCache:
    client: aredis.Redis
    prefix: str
    _scripts: dict[str, Any]
    _degraded: Callable[[str, Exception], None]

    def _qr_key(self, code: str) -> str:
        return f"{self.prefix}qr:{code}"

    async def _qr(self, call: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return await aio(call)(*args, **kwargs)
        except REDIS_ERRORS as exc:
            self._degraded("qr login", exc)
            raise CacheUnavailable(str(exc)) from exc

    async def qr_create(self, code: str, secret_hash: str, device: str | None, user_agent: str | None,
                        address: str, ttl: float) -> bool:
        """Store a new pending request for `ttl` seconds; False if the code is taken (draw another)."""
        fields = {"s": "pending", "sh": secret_hash, "addr": address, "dev": device or "", "ua": user_agent or ""}
        created = await self._qr(self._scripts["qr_create"], keys=[self._qr_key(code)],
                                 args=[int(ttl * 1000), *(x for kv in fields.items() for x in kv)])
        return bool(int(created))

    async def qr_pending(self, code: str) -> QrPending | None:
        """The request if it still waits for an answer."""
        async def read() -> tuple[list[Any], int]:
            async with self.client.pipeline(transaction=True) as pipe:
                pipe.hmget(self._qr_key(code), "s", "dev", "ua", "addr")
                pipe.pttl(self._qr_key(code))
                got, ttl = await pipe.execute()
                return got, int(ttl)
        (state, device, agent, address), ttl = await self._qr(read)
        if _text(state) != "pending" or ttl <= 0:
            return None
        return QrPending(_text(device) or None, _text(agent) or None, _text(address), ttl / 1000)

    async def qr_answer(self, code: str, approve: bool, user_id: int, approver_device: str) -> QrAnswer:
        """Answer a pending request once: "ok", "gone" (expired or never was) or "answered" (already)."""
        return _one_of(await self._qr(self._scripts["qr_answer"], keys=[self._qr_key(code)],
                                      args=["1" if approve else "0", user_id, approver_device, ANSWER_KEEP_MS]),
                       QR_ANSWERS)

    async def qr_claim(self, code: str, secret_hash: str) -> QrClaim:
        """What the request's secret holder finds; an answer is handed over once (the request is deleted)."""
        state, user_id, approver, ttl, device = await self._qr(self._scripts["qr_claim"], keys=[self._qr_key(code)],
                                                               args=[secret_hash])
        return QrClaim(_one_of(state, QR_STATES), int(user_id or 0), _text(approver), max(0, int(ttl)) / 1000,
                       _text(device) or None)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value or "")


def _one_of(value: Any, allowed: tuple[T, ...]) -> T:
    """A script's answer as one of the values it may give; anything else fails closed, like Redis being down."""
    text = _text(value)
    for option in allowed:
        if text == option:
            return option
    raise CacheUnavailable(f"unexpected answer from a QR login script: {text!r}")


# ARGV: ttl ms, then field, value pairs. 1 if created, 0 if the key exists.
QR_CREATE = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 1
"""

# ARGV: approve (1/0), user id, approver device, ms an answer is kept at least.
QR_ANSWER = """
local s = redis.call('HGET', KEYS[1], 's')
if not s then return 'gone' end
if s ~= 'pending' then return 'answered' end
if ARGV[1] == '1' then
  redis.call('HSET', KEYS[1], 's', 'approved', 'uid', ARGV[2], 'adev', ARGV[3])
else
  redis.call('HSET', KEYS[1], 's', 'declined')
end
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[4]) then redis.call('PEXPIRE', KEYS[1], ARGV[4]) end
return 'ok'
"""

# ARGV: sha256 of the secret presented. Returns {state, user id, approver device, ms left, device label}; an answer is
# handed over once: the key is deleted as it is read.
QR_CLAIM = """
local h = redis.call('HMGET', KEYS[1], 'sh', 's', 'uid', 'adev', 'dev')
if not h[1] then return {'gone', 0, '', 0, ''} end
if h[1] ~= ARGV[1] then return {'wrong_secret', 0, '', 0, ''} end
local ttl = redis.call('PTTL', KEYS[1])
if h[2] == 'pending' then return {'pending', 0, '', ttl, ''} end
redis.call('DEL', KEYS[1])
return {h[2], h[3] or 0, h[4] or '', 0, h[5] or ''}
"""

SCRIPTS = {"qr_create": QR_CREATE, "qr_answer": QR_ANSWER, "qr_claim": QR_CLAIM}
