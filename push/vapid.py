"""The server's VAPID key (RFC 8292): browsers subscribe with its public half, pushes are signed with it.

The private key is `Config.push_vapid_key` (CHAT_PUSH_VAPID_KEY, or generated once into the data
directory by `Config.with_secret`): a P-256 scalar, base64url. Every node of a deployment needs the same
one, because a subscription is bound to the public key the browser subscribed with.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import Vapid02


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class VapidKey:
    def __init__(self, private_key: str) -> None:
        self._raw = b64url_decode(private_key)
        self.private_key = ec.derive_private_key(int.from_bytes(self._raw, "big"), ec.SECP256R1())
        point = self.private_key.public_key().public_bytes(serialization.Encoding.X962,
                                                            serialization.PublicFormat.UncompressedPoint)
        self.public_key = b64url(point)  # what a browser passes as applicationServerKey
        self.vapid = Vapid02(self.private_key)

    def topic(self, room_id: int) -> str:
        """The Web Push `Topic` for a room: stable, 22 URL-safe characters, meaningless to the push service."""
        digest = hmac.new(self._raw, f"room:{room_id}".encode(), hashlib.sha256).digest()
        return b64url(digest[:16])
