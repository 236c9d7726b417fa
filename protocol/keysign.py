"""The statements a device signs (docs/e2ee.md §1) and their check. Pure: no I/O.

A device signs ASCII strings, fields joined by ':', with its Ed25519 signing key; the server checks each
signature before it stores a key, so a key it hands out was published by the device that holds the
signing key (a client checks them again after `query_keys` / `claim_keys`).
"""

from __future__ import annotations

import base64

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey


def device_statement(user: int, device: str, identity_key: str, signing_key: str) -> bytes:
    return f"chatd-device-keys:v1:{user}:{device}:{identity_key}:{signing_key}".encode()


def otk_statement(user: int, device: str, key_id: str, key: str) -> bytes:
    return f"chatd-otk:v1:{user}:{device}:{key_id}:{key}".encode()


def unb64(text: str) -> bytes:
    """Unpadded standard base64 (as vodozemac and libolm print it)."""
    return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)


def verifies(signing_key: str, signature: str, statement: bytes) -> bool:
    try:
        Ed25519PublicKey.from_public_bytes(unb64(signing_key)).verify(unb64(signature), statement)
    except (InvalidSignature, ValueError):
        return False
    return True
