"""Password checks behind the login throttle, shared by login, change_password and delete_account.

Only failures count (persistence/cache.py, "login throttle"): a check is refused `rate_limited` while its
(login name, address) window, its address's window or its login name's back-off is used up (an address
where the name logged in lately skips the back-off), and a correct password costs nothing. Successes are
bounded instead by how many checks and hashes one address may have under way on a process
(CHAT_PASSWORD_CHECKS_PER_ADDRESS, well below the argon2 queue, so one client cannot fill it for
everyone) and by the devices a login creates (gateway/accounts.py). Guards fail closed: when Redis does
not answer, or too many argon2 checks are already waiting (auth/passwords.py), the request gets `retry`
instead of going unthrottled or waiting in a queue without end.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import trio

from chatd.auth.passwords import PasswordQueueFull
from chatd.gateway.in_flight import TooManyInFlight
from chatd.gateway.services import Services
from chatd.persistence.cache import CacheUnavailable, LoginKeys, LoginLimits, LoginOutcome
from chatd.protocol.errors import ErrorCode, Refusal
from chatd.runtime.config import Config

BUSY_RETRY_AFTER = 1.0  # seconds: `retry_after` when Redis is down, the argon2 queue is full or an address's
# checks under way are at their cap
TOO_MANY = "too many attempts, wait and try again"


@contextmanager
def unavailable_means_retry() -> Iterator[None]:
    """Turn a guard that cannot run (Redis down, argon2 queue full) into a `retry` refusal."""
    try:
        yield
    except CacheUnavailable as exc:
        raise Refusal(ErrorCode.RETRY, "sign-in limits cannot be checked right now, retry later",
                      retry_after=BUSY_RETRY_AFTER) from exc
    except PasswordQueueFull as exc:
        raise Refusal(ErrorCode.RETRY, "the server is busy checking passwords, retry in a moment",
                      retry_after=BUSY_RETRY_AFTER) from exc
    except TooManyInFlight as exc:
        raise Refusal(ErrorCode.RATE_LIMITED, "too many password checks from your address at once: wait "
                                              "for one to finish", retry_after=BUSY_RETRY_AFTER) from exc


@contextmanager
def argon2_turn(services: Services, address: str) -> Iterator[None]:
    """One password check or hash under way for `address` (its limit key) on this process, refused
    `rate_limited` beyond CHAT_PASSWORD_CHECKS_PER_ADDRESS and `retry` when the argon2 queue is full."""
    with unavailable_means_retry(), services.password_checks.hold(address, services.config.password_checks_per_address):
        yield


def login_limits(cfg: Config) -> LoginLimits:
    return LoginLimits(window=cfg.login_window, per_pair=cfg.login_attempts,
                       per_address=cfg.login_failures_per_address, free_per_account=cfg.login_failures_per_account,
                       backoff=cfg.login_backoff_seconds, backoff_max=cfg.login_backoff_max,
                       known_address=cfg.login_known_address_days * 86400)


async def check_password(services: Services, login_name: str, address: str, stored_hash: str | None,
                         password: str, wrong: str) -> None:
    """Refuse with `unauthorized` `wrong` unless `password` matches `stored_hash` (None: no such account,
    checked against a dummy hash and counted the same, so the answers do not tell which names exist)."""
    keys, limits = LoginKeys(account=login_name.lower(), address=address), login_limits(services.config)
    with argon2_turn(services, address):
        wait = await services.cache.login_begin(keys, limits)
        if wait is not None:
            raise Refusal(ErrorCode.RATE_LIMITED, TOO_MANY, retry_after=wait)
        outcome: LoginOutcome = "undo"  # the check did not finish (argon2 queue full, cancelled): it does not count
        try:
            outcome = "ok" if await services.passwords.verify(stored_hash, password) else "fail"
        finally:
            with trio.CancelScope(shield=True), trio.move_on_after(5):
                await services.cache.login_end(keys, limits, outcome)
    if outcome == "fail":
        raise Refusal(ErrorCode.UNAUTHORIZED, wrong)


async def hash_password(services: Services, address: str, password: str) -> str:
    """argon2id hash of a new password for a client at `address` (its limit key), limited like a check."""
    with argon2_turn(services, address):
        return await services.passwords.hash(password)
