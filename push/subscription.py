"""Checking a browser's PushSubscription JSON before it is stored (pure: no I/O).

    {"endpoint": "https://fcm.googleapis.com/fcm/send/...", "expirationTime": null,
     "keys": {"p256dh": "<base64url, 65-byte uncompressed P-256 point>", "auth": "<base64url, 16 bytes>"}}

The endpoint is a URL the server will POST to, so it is held to the push services it may name
(CHAT_PUSH_ENDPOINT_HOSTS), https only, never a private or loopback address; plain http is accepted for a
loopback address only when CHAT_PUSH_ALLOW_INSECURE is set (tests, a push server on the same machine).
"""

from __future__ import annotations

import binascii
import ipaddress
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric import ec

from chatd.push.vapid import b64url, b64url_decode

MAX_ENDPOINT = 2048
B64URL = re.compile(r"^[A-Za-z0-9_-]+={0,2}$")


class InvalidSubscription(ValueError):
    """The message names the field and what is wrong with it."""


@dataclass(frozen=True, slots=True)
class NewSubscription:
    endpoint: str
    p256dh: str  # base64url without padding
    auth: str


def parse_subscription(data: dict[str, Any], *, allow_insecure: bool, hosts: tuple[str, ...]) -> NewSubscription:
    endpoint = check_endpoint(data.get("endpoint"), allow_insecure=allow_insecure, hosts=hosts)
    keys = data.get("keys")
    if not isinstance(keys, dict):
        raise InvalidSubscription("keys must be an object with p256dh and auth")
    p256dh = _key(keys, "p256dh", 65)
    try:
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), p256dh)
    except ValueError:
        raise InvalidSubscription("keys.p256dh is not a point on the P-256 curve") from None
    return NewSubscription(endpoint, b64url(p256dh), b64url(_key(keys, "auth", 16)))


def _key(keys: dict[str, Any], name: str, size: int) -> bytes:
    value = keys.get(name)
    if not isinstance(value, str) or not B64URL.match(value):
        raise InvalidSubscription(f"keys.{name} must be a base64url string")
    try:
        raw = b64url_decode(value.rstrip("="))
    except (binascii.Error, ValueError):
        raise InvalidSubscription(f"keys.{name} is not valid base64url") from None
    if len(raw) != size or (size == 65 and raw[0] != 4):
        what = "an uncompressed P-256 point" if size == 65 else "the auth secret"
        raise InvalidSubscription(f"keys.{name} must decode to {size} bytes ({what}), got {len(raw)}")
    return raw


def check_endpoint(value: object, *, allow_insecure: bool, hosts: tuple[str, ...]) -> str:
    if not isinstance(value, str) or not value:
        raise InvalidSubscription("endpoint must be a URL string")
    if len(value) > MAX_ENDPOINT:
        raise InvalidSubscription(f"endpoint must be at most {MAX_ENDPOINT} characters")
    if any(c.isspace() or not c.isprintable() for c in value):
        raise InvalidSubscription("endpoint must not contain spaces or control characters")
    try:
        parts = urlsplit(value)
        host = (parts.hostname or "").lower()
        _ = parts.port  # raises ValueError for a bad port
    except ValueError:
        raise InvalidSubscription("endpoint is not a valid URL") from None
    if not host:
        raise InvalidSubscription("endpoint must name a host")
    if parts.username is not None or parts.password is not None:
        raise InvalidSubscription("endpoint must not carry credentials")
    local = allow_insecure and _loopback(host)
    if parts.scheme != "https" and not (parts.scheme == "http" and local):
        raise InvalidSubscription("endpoint must be an https:// URL")
    if local:
        return value
    ip = _ip(host)
    if host == "localhost" or (ip is not None and not ip.is_global):
        raise InvalidSubscription("endpoint must not point at a private, loopback or link-local address")
    if "*" not in hosts and not any(host == h or host.endswith("." + h) for h in hosts):
        raise InvalidSubscription(f"endpoint host {host} is not a push service this server sends to")
    return value


def _ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _loopback(host: str) -> bool:
    ip = _ip(host)
    return host == "localhost" or (ip is not None and ip.is_loopback)
