"""Access tokens (JWT) and refresh tokens.

Access tokens: HS256 only (the algorithm list is fixed here, never taken from the token), with required
``exp``, ``iat``, ``sub``, ``aud`` and ``iss``; short-lived. Refresh tokens: 256 bits, URL-safe; only their
sha256 is stored, so a database leak does not leak usable tokens. A login's first refresh token is random;
each successor is HMAC(server key, its predecessor), so a refresh retried with the same token (a lost reply,
two browser tabs at once) gets the same successor back, and only the server can compute it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

import jwt

ALGORITHM = "HS256"
AUDIENCE = "chat"
ISSUER = "chatd"


class TokenError(Exception):
    pass


@dataclass(frozen=True, slots=True)
class AccessClaims:
    user_id: int
    device_id: str
    expires_at: float


class TokenIssuer:
    def __init__(self, secret: str, access_ttl: int = 900) -> None:
        if len(secret) < 32:
            raise ValueError("the JWT secret must have at least 32 characters")
        self._secret = secret
        self.access_ttl = access_ttl

    def derived_key(self, label: str) -> bytes:
        """A key for one purpose (`label`), derived from the JWT secret: the same on every node of a cluster."""
        return hmac.new(self._secret.encode(), f"chatd/{label}".encode(), hashlib.sha256).digest()

    def refresh_successor(self, refresh_token: str) -> str:
        """The refresh token that replaces `refresh_token` when it is spent (always the same one)."""
        mac = hmac.new(self.derived_key("refresh-successor"), refresh_token.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()

    def issue(self, user_id: int, device_id: str, now: float | None = None) -> str:
        now = time.time() if now is None else now
        claims = {"sub": str(user_id), "dev": device_id, "iat": int(now), "exp": int(now) + self.access_ttl,
                  "aud": AUDIENCE, "iss": ISSUER}
        return jwt.encode(claims, self._secret, algorithm=ALGORITHM)

    def verify(self, token: str) -> AccessClaims:
        try:
            claims = jwt.decode(token, self._secret, algorithms=[ALGORITHM], audience=AUDIENCE, issuer=ISSUER,
                                options={"require": ["exp", "iat", "sub", "aud", "iss"]})
        except jwt.ExpiredSignatureError as exc:
            raise TokenError("token expired") from exc
        except jwt.PyJWTError as exc:
            raise TokenError(f"invalid token: {exc}") from exc
        sub = claims["sub"]
        if not isinstance(sub, str) or not sub.isdigit():
            raise TokenError("invalid token: bad subject")
        return AccessClaims(int(sub), str(claims.get("dev", "")), float(claims["exp"]))


def new_refresh_token() -> str:
    return secrets.token_urlsafe(32)


def hash_refresh_token(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()
