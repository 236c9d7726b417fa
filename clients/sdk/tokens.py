"""Access and refresh tokens: obtained by login/signup, refreshed before they expire, kept in the cache.

Refresh tokens rotate (each refresh spends the old one), so the new pair is written to the cache before
it is used: a client restarted at any moment resumes with a token the server still honours.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from typing import Any

import trio

from chatd.clients.ws import ChatClient
from chatd.protocol import frames as f

EXPIRY_MARGIN = 5.0  # seconds: a token this close to its expiry counts as expired


class NotSignedIn(Exception):
    """No tokens and no login/signup pending: call login(), signup() or resume() first."""


@dataclass(frozen=True)
class Tokens:
    user_id: int
    username: str
    access_token: str
    refresh_token: str
    issued_at: float  # wall-clock seconds
    expires_at: float

    @classmethod
    def of(cls, auth: f.AuthOk) -> Tokens:
        now = time.time()
        return cls(auth.user_id, auth.username, auth.access_token, auth.refresh_token, now, now + auth.expires_in)


class TokenKeeper:
    def __init__(self, save: Callable[[Tokens], Awaitable[None]], refresh_fraction: float = 0.8) -> None:
        self.save = save
        self.refresh_fraction = refresh_fraction
        self.tokens: Tokens | None = None
        self.pending: tuple[type[f.Frame], dict[str, Any]] | None = None  # login/signup for the next connection
        self.refreshes = 0

    def restore(self, saved: dict[str, Any] | None) -> bool:
        """Take the cached tokens; ones of another shape (a damaged cache) count as none: sign in again."""
        if isinstance(saved, dict):
            with contextlib.suppress(TypeError):
                self.tokens = Tokens(**saved)
        return self.tokens is not None

    @staticmethod
    def dump(tokens: Tokens) -> dict[str, Any]:
        return asdict(tokens)

    async def adopt(self, auth: f.AuthOk) -> None:
        """Take a sign-in's or refresh's tokens: cached first, then used."""
        tokens = Tokens.of(auth)
        await self.save(tokens)  # before the new refresh token is ever used
        self.tokens = tokens

    async def access(self, client: ChatClient) -> str:
        """A valid access token, signing in or refreshing over `client` when needed (ChatError if refused)."""
        if self.pending is not None:
            kind, fields = self.pending
            self.pending = None
            await self.adopt(await client.call(kind, **fields))
        elif self.tokens is None:
            raise NotSignedIn("sign in first")
        elif time.time() > self.tokens.expires_at - EXPIRY_MARGIN:
            await self.refresh(client)
        assert self.tokens is not None
        return self.tokens.access_token

    async def refresh(self, client: ChatClient) -> None:
        if self.tokens is None:
            raise NotSignedIn("sign in first")
        await self.adopt(await client.call(f.Refresh, refresh_token=self.tokens.refresh_token))
        self.refreshes += 1

    def refresh_due_in(self) -> float:
        assert self.tokens is not None
        lifetime = self.tokens.expires_at - self.tokens.issued_at
        return max(0.0, self.tokens.issued_at + lifetime * self.refresh_fraction - time.time())

    async def keep_fresh(self, client: ChatClient) -> None:
        """Refresh in-band before the access token expires and hand the new one to the connection (`auth`)."""
        while True:
            await trio.sleep(self.refresh_due_in())
            await self.refresh(client)
            assert self.tokens is not None
            await client.call(f.Auth, token=self.tokens.access_token)
