"""Passwords (argon2id), access tokens (JWT, HS256) and refresh tokens (random, stored hashed)."""

from chatd.auth.passwords import PasswordHasher, check_password_rules
from chatd.auth.tokens import TokenError, TokenIssuer, hash_refresh_token, new_refresh_token

__all__ = ["PasswordHasher", "TokenError", "TokenIssuer", "check_password_rules", "hash_refresh_token",
           "new_refresh_token"]
