"""Files in encrypted rooms (docs/e2ee.md §3, "Media"): AES-256-CTR under a fresh key and IV before the upload
(the IV is the whole initial 128-bit counter block, as the web client's WebCrypto `AES-CTR, length: 128`), so
the server stores bytes it cannot read. The message's Megolm plaintext carries the key, the IV and the SHA-256
of the ciphertext, which is checked before decrypting."""

from __future__ import annotations

import hashlib
import os
from typing import Any

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from chatd.clients.sdk.crypto.wire import b64decode, b64encode


class FileChanged(ValueError):
    """The download is not the ciphertext the sender hashed (changed or cut short)."""


def encrypt_file(data: bytes) -> tuple[bytes, dict[str, Any]]:
    """The ciphertext to upload and `{key, iv, sha256}` for the message's `media` (with id, mime, name, size)."""
    key, iv = os.urandom(32), os.urandom(16)
    encryptor = Cipher(algorithms.AES(key), modes.CTR(iv)).encryptor()
    ciphertext = encryptor.update(data) + encryptor.finalize()
    digest = b64encode(hashlib.sha256(ciphertext).digest())
    return ciphertext, {"key": b64encode(key), "iv": b64encode(iv), "sha256": digest}


def decrypt_file(ciphertext: bytes, media: dict[str, Any]) -> bytes:
    """The file's bytes from a download and the message's `media` map; FileChanged if it was tampered with."""
    if b64encode(hashlib.sha256(ciphertext).digest()) != str(media.get("sha256", "")).rstrip("="):
        raise FileChanged("the file was changed after it was sent")
    decryptor = Cipher(algorithms.AES(b64decode(str(media["key"]))), modes.CTR(b64decode(str(media["iv"])))).decryptor()
    return decryptor.update(ciphertext) + decryptor.finalize()
