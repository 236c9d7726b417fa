"""argon2id password hashing off the event loop, and the password and email rules."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TypeVar

import argon2
import trio

MIN_PASSWORD = 8
MAX_PASSWORD = 256
T = TypeVar("T")
EMAIL_RE = re.compile(r"[^@\s]{1,64}@[^@\s]+\.[^@\s]+")


def check_password_rules(username: str, password: str) -> str | None:
    """None if acceptable, else the reason (NIST 800-63B style: length, not the username)."""
    if len(password) < MIN_PASSWORD:
        return f"password must have at least {MIN_PASSWORD} characters"
    if len(password) > MAX_PASSWORD:
        return f"password must have at most {MAX_PASSWORD} characters"
    if password.strip() == "":
        return "password must not be only spaces"
    if password.lower() == username.lower():
        return "password must not be the username"
    return None


def check_email(email: str) -> str | None:
    return None if EMAIL_RE.fullmatch(email) else "email address is not valid"


THREADS = 2  # argon2 runs in at most this many worker threads at once


class PasswordQueueFull(Exception):
    """Too many hashes or checks are already waiting for an argon2 thread: the caller should answer `retry`."""


class PasswordHasher:
    """argon2id; hashing and verifying run in a worker thread (they take tens of milliseconds).

    At most THREADS run at once and at most `queue` more wait for one; beyond that `hash` and `verify`
    raise PasswordQueueFull at once, so a flood of logins costs a refusal, not a queue (and memory, and a
    wait longer than any client's timeout) that grows without bound.
    """

    def __init__(self, time_cost: int = 2, memory_kib: int = 19 * 1024, parallelism: int = 1,
                 queue: int = 32) -> None:
        self._hasher = argon2.PasswordHasher(time_cost=time_cost, memory_cost=memory_kib,
                                             parallelism=parallelism, type=argon2.Type.ID)
        self._limiter = trio.CapacityLimiter(THREADS)
        self._most = THREADS + queue  # running + waiting
        self._in_flight = 0
        self._dummy = self._hasher.hash("dummy password for timing")

    async def _run(self, work: Callable[[], T]) -> T:
        if self._in_flight >= self._most:
            raise PasswordQueueFull(f"{self._in_flight} password checks are already running or waiting")
        self._in_flight += 1
        try:
            return await trio.to_thread.run_sync(work, limiter=self._limiter)
        finally:
            self._in_flight -= 1

    async def hash(self, password: str) -> str:
        return await self._run(lambda: self.hash_blocking(password))

    def hash_blocking(self, password: str) -> str:
        """For tools outside the event loop (`chatctl create-user`)."""
        return self._hasher.hash(password)

    async def verify(self, password_hash: str | None, password: str) -> bool:
        """Constant-shape check: an unknown user costs the same as a wrong password."""
        def check() -> bool:
            try:
                return self._hasher.verify(password_hash or self._dummy, password) and password_hash is not None
            except (argon2.exceptions.VerificationError, argon2.exceptions.InvalidHashError):
                return False
        return await self._run(check)
