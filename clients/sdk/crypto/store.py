"""The crypto store: one SQLite file per user and device, unreadable without the user's password.

e2ee.md §5: vodozemac pickles are encrypted under a 32-byte **pickle key**, derived by scrypt from the
password with the user and device ids as salt, never stored. This store goes further so that nothing in
the file is readable or linkable without the password: every row is one JSON value sealed with
AES-256-GCM (a key derived from the pickle key by HKDF), and rows are found by HMACs of their names, not
the names themselves (no room id, session id or peer key appears in clear). The additional data of each
row is its kind and name, so a row copied onto another is refused rather than believed.

A wrong password fails at `open_store` with `WrongPassword` before anything is written; a row that does not
decrypt later (a damaged file) raises `StoreCorrupt` for the account and is skipped, logged, for the rest.

The store is synchronous (plain `sqlite3`): the engine is pure and its writes are small. `transaction()`
groups writes so an operation that consumed a one-time key and made a session keeps both or neither.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import logging
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from chatd.clients.sdk.private import private_dir, private_file

log = logging.getLogger("chatd.clients.sdk.crypto.store")

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**15, 8, 1  # about 32 MiB and a tenth of a second, once per open
CHECK = b"chatd-crypto-store:v1:check"
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS rows (kind TEXT NOT NULL, scope BLOB NOT NULL, name BLOB NOT NULL,
                                 data BLOB NOT NULL, PRIMARY KEY (kind, scope, name)) WITHOUT ROWID;
"""


class StoreError(Exception):
    """The crypto store cannot be used; the message says why in words for the user."""


class WrongPassword(StoreError):
    """The password does not open this store (nothing was changed)."""


class StoreCorrupt(StoreError):
    """A row that must be there does not decrypt: the file was damaged or tampered with."""


def derive_pickle_key(password: str, user: int, device: str) -> bytes:
    """The 32-byte pickle key of e2ee.md §5: scrypt(password, salt "chatd-crypto-store:v1:<user>:<device>")."""
    salt = f"chatd-crypto-store:v1:{user}:{device}".encode()
    return Scrypt(salt=salt, length=32, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P).derive(password.encode())


def _subkey(pickle_key: bytes, purpose: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                info=f"chatd-crypto-store:v1:{purpose}".encode()).derive(pickle_key)


class CryptoStore:
    """Sealed rows of JSON values, grouped by `kind` and `scope`, named within a scope.

    `scope` lets a kind be listed in parts (the Olm sessions of one peer, the devices of one user); every
    name is unique within its (kind, scope). Values are whatever `json` encodes.
    """

    def __init__(self, connection: sqlite3.Connection, pickle_key: bytes, path: Path | None = None) -> None:
        self.path = path
        self.pickle_key = pickle_key
        self._db = connection
        self._seal = AESGCM(_subkey(pickle_key, "rows"))
        self._index = _subkey(pickle_key, "index")
        self._depth = 0

    # -- names -------------------------------------------------------------------------------------------
    def _tag(self, kind: str, text: str) -> bytes:
        return hmac.new(self._index, f"{kind}\0{text}".encode(), hashlib.sha256).digest()[:16]

    @staticmethod
    def _aad(kind: str, scope: bytes, name: bytes) -> bytes:
        return kind.encode() + b"\0" + scope + name

    def _open_row(self, kind: str, scope: bytes, name: bytes, data: bytes) -> Any:
        try:
            plain = self._seal.decrypt(data[:12], data[12:], self._aad(kind, scope, name))
            return json.loads(plain)
        except (InvalidTag, ValueError) as exc:
            if kind == "account":
                raise StoreCorrupt("the crypto store's account does not decrypt: the file is damaged") from exc
            log.warning("crypto store: skipping a %s row that does not decrypt", kind)
            return None

    # -- rows --------------------------------------------------------------------------------------------
    def get(self, kind: str, scope: str, name: str) -> Any:
        s, n = self._tag(kind, scope), self._tag(kind, name)
        row = self._db.execute("SELECT data FROM rows WHERE kind=? AND scope=? AND name=?", (kind, s, n)).fetchone()
        return None if row is None else self._open_row(kind, s, n, row[0])

    def put(self, kind: str, scope: str, name: str, value: Any) -> None:
        s, n = self._tag(kind, scope), self._tag(kind, name)
        nonce = os.urandom(12)
        data = nonce + self._seal.encrypt(nonce, json.dumps(value).encode(), self._aad(kind, s, n))
        with self.transaction():
            self._db.execute("INSERT OR REPLACE INTO rows (kind, scope, name, data) VALUES (?, ?, ?, ?)",
                             (kind, s, n, data))

    def delete(self, kind: str, scope: str, name: str) -> None:
        with self.transaction():
            self._db.execute("DELETE FROM rows WHERE kind=? AND scope=? AND name=?",
                             (kind, self._tag(kind, scope), self._tag(kind, name)))

    def values(self, kind: str, scope: str | None = None) -> list[Any]:
        """Every readable value of `kind` (in `scope` if given), in no particular order."""
        if scope is None:
            rows = self._db.execute("SELECT scope, name, data FROM rows WHERE kind=?", (kind,)).fetchall()
        else:
            s = self._tag(kind, scope)
            rows = self._db.execute("SELECT scope, name, data FROM rows WHERE kind=? AND scope=?",
                                    (kind, s)).fetchall()
        found = (self._open_row(kind, s, n, d) for s, n, d in rows)
        return [v for v in found if v is not None]

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """Group writes: all of them are kept, or none if the block raises. Nests."""
        if self._depth == 0:
            self._db.execute("BEGIN IMMEDIATE")
        self._depth += 1
        try:
            yield
        except BaseException:
            self._depth -= 1
            if self._depth == 0:
                self._db.execute("ROLLBACK")
            raise
        self._depth -= 1
        if self._depth == 0:
            self._db.execute("COMMIT")

    def close(self) -> None:
        self._db.close()


def open_store(path: Path | str | None, user: int, device: str, password: str) -> CryptoStore:
    """Open (or create) the crypto store of `user`'s `device` at `path` (None: in memory, for tests).

    Raises `WrongPassword` when the file was made with another password, `StoreError` when it is not a
    crypto store at all; in both cases the file is left as it was.
    """
    pickle_key = derive_pickle_key(password, user, device)
    where: Path | None = None
    if path is None:
        db = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
    else:
        where = Path(path)
        private_dir(where.parent)
        private_file(where)
        db = sqlite3.connect(where, isolation_level=None, check_same_thread=False)  # opened in a worker thread
    try:
        db.execute("PRAGMA journal_mode=WAL")
        db.executescript(SCHEMA)
        store = CryptoStore(db, pickle_key, where)
        row = db.execute("SELECT value FROM meta WHERE key='check'").fetchone()
        if row is None:
            nonce = os.urandom(12)
            sealed = nonce + store._seal.encrypt(nonce, CHECK, b"check")
            with store.transaction():
                db.execute("INSERT INTO meta (key, value) VALUES ('check', ?)", (sealed.hex(),))
        else:
            sealed = bytes.fromhex(row[0])
            try:
                store._seal.decrypt(sealed[:12], sealed[12:], b"check")
            except InvalidTag:
                raise WrongPassword("wrong password (or another device's store): it does not open this device's "
                                    "encryption keys") from None
    except sqlite3.DatabaseError as exc:
        db.close()
        raise StoreError(f"not a crypto store: {exc}") from None
    except BaseException:
        db.close()
        raise
    if where is not None:
        private_file(where)  # SQLite's -wal and -shm files now exist: 0600 too
    return store
