"""argon2id password hashing off the event loop, and the password and email rules."""

from __future__ import annotations

import re

import argon2
import trio

MIN_PASSWORD = 8
MAX_PASSWORD = 256
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


class PasswordHasher:
    """argon2id; hashing and verifying run in a worker thread (they take tens of milliseconds)."""

    def __init__(self, time_cost: int = 2, memory_kib: int = 19 * 1024, parallelism: int = 1) -> None:
        self._hasher = argon2.PasswordHasher(time_cost=time_cost, memory_cost=memory_kib,
                                             parallelism=parallelism, type=argon2.Type.ID)
        self._limiter = trio.CapacityLimiter(2)
        self._dummy = self._hasher.hash("dummy password for timing")

    async def hash(self, password: str) -> str:
        return await trio.to_thread.run_sync(self.hash_blocking, password, limiter=self._limiter)

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
        return await trio.to_thread.run_sync(check, limiter=self._limiter)
