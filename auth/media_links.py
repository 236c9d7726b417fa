"""Signed media links: a URL that lets one user fetch one media item for a few minutes, with no token in it.

A browser's <img>, <video> and <audio> cannot send an Authorization header, and an access token in a URL
ends up in proxy logs, browser history and pasted links. Instead an authenticated client asks for links
(GET /api/media/links) and gets `/api/media/<id>?u=<user>&exp=<unix>&sig=<mac>`, where the mac is
HMAC-SHA256 over (media id, user, exp) with a key derived from the JWT secret (the same on every node).

`exp` is rounded up to a multiple of the lifetime, so every link signed for an item and a user within one
period is the same URL (the browser's cache keeps working) and lives between one and two lifetimes.
Checking a link proves only who asked for it; whether that user may still read the item is the caller's
question (membership can end while a link is alive).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from dataclasses import dataclass


class LinkError(Exception):
    """A signed link that is incomplete, altered or expired; the message says which."""


@dataclass(frozen=True, slots=True)
class SignedLink:
    media_id: str
    user_id: int
    expires: int
    sig: str

    @property
    def path(self) -> str:
        return f"/api/media/{self.media_id}?u={self.user_id}&exp={self.expires}&sig={self.sig}"


class MediaLinks:
    def __init__(self, key: bytes, lifetime: int) -> None:
        self._key = key
        self.lifetime = lifetime

    def _mac(self, media_id: str, user_id: int, expires: int) -> str:
        mac = hmac.new(self._key, f"{media_id}\n{user_id}\n{expires}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()

    def expiry(self, now: float | None = None) -> int:
        now = time.time() if now is None else now
        return (int(now) // self.lifetime + 2) * self.lifetime

    def sign(self, media_id: str, user_id: int, now: float | None = None) -> SignedLink:
        expires = self.expiry(now)
        return SignedLink(media_id, user_id, expires, self._mac(media_id, user_id, expires))

    def check(self, media_id: str, user: str | None, exp: str | None, sig: str | None,
              now: float | None = None) -> int:
        """The user a link was signed for, from its query parameters; LinkError if it does not hold."""
        if user is None or exp is None or sig is None:
            raise LinkError("a signed media link needs all of u, exp and sig")
        if not (user.isdigit() and exp.isdigit() and len(user) <= 19 and len(exp) <= 12):
            raise LinkError("a signed media link's u and exp must be integers")
        if not hmac.compare_digest(self._mac(media_id, int(user), int(exp)).encode(), sig.encode()):
            raise LinkError("this media link's signature does not match (a link is for one item and one user)")
        if int(exp) <= (time.time() if now is None else now):
            raise LinkError("this media link has expired: ask GET /api/media/links for a new one")
        return int(user)
