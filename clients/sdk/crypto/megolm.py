"""The Megolm keys a device holds for reading rooms (inbound group sessions), in the crypto store.

One record per (room, sender key, session id), whatever brought it: a `room_key` from the sender (`origin`
is then the sending device, known for sure), a `forwarded_room_key` from an own device or a backup entry
(`forwarded`: the sender is only known by its identity key). A key for a session already held under the
same sender key is kept only if it reaches further back (a lower first known index). The sender key is
part of the name: a member who forwards someone else's session under their own key first stores a record
of their own, and the real sender's key, coming later, is still kept (and is what that sender's messages,
which name the real sender key, are decrypted with).
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from typing import Any

import vodozemac

from chatd.clients.sdk.crypto.store import CryptoStore

log = logging.getLogger("chatd.clients.sdk.crypto")


@dataclass
class InboundKey:
    room: int
    session_id: str
    pickle: str
    sender_key: str  # the identity key of the device whose session it is
    origin: list[Any] | None  # [user, device] when the sender itself gave the key
    forwarded: bool
    backed_up: bool = False


class GroupKeys:
    def __init__(self, store: CryptoStore) -> None:
        self.store = store
        self._key = store.pickle_key

    def get(self, room: int, session_id: str, sender_key: str) -> InboundKey | None:
        value = self.store.get("inbound", str(room), f"{sender_key}:{session_id}")
        return InboundKey(**value) if isinstance(value, dict) else None

    def put(self, key: InboundKey) -> None:
        self.store.put("inbound", str(key.room), f"{key.sender_key}:{key.session_id}", asdict(key))

    def all(self) -> list[InboundKey]:
        return [InboundKey(**v) for v in self.store.values("inbound") if isinstance(v, dict)]

    def session(self, key: InboundKey) -> vodozemac.InboundGroupSession:
        return vodozemac.InboundGroupSession.from_pickle(key.pickle, self._key)

    def keep(self, room: int, session: vodozemac.InboundGroupSession, sender_key: str,
             origin: tuple[int, str] | None, *, forwarded: bool, backed_up: bool = False) -> bool:
        """Keep `session` for `room` unless a copy reaching as far back is held; False if not kept."""
        known = self.get(room, session.session_id, sender_key)
        if known is not None:
            if self.session(known).first_known_index <= session.first_known_index:
                return False
            if origin is None and known.origin:
                origin = (known.origin[0], known.origin[1])
                forwarded = known.forwarded
        self.put(InboundKey(room, session.session_id, session.pickle(self._key), sender_key,
                            list(origin) if origin else None, forwarded, backed_up))
        return True

    def add(self, room: object, session_id: object, session_key: object, sender_key: str,
            origin: tuple[int, str] | None, *, exported: bool, backed_up: bool = False) -> bool:
        """Keep a key as received in a `room_key` (`exported` False: a SessionKey) or a forwarded key or
        backup entry (`exported`: an ExportedSessionKey); anything malformed or mislabelled is False."""
        if not isinstance(room, int) or not isinstance(session_id, str) or not isinstance(session_key, str):
            return False
        try:
            if exported:
                session = vodozemac.InboundGroupSession.import_session(vodozemac.ExportedSessionKey(session_key))
            else:
                session = vodozemac.InboundGroupSession(vodozemac.SessionKey(session_key))
        except ValueError:
            return False
        if session.session_id != session_id:
            return False
        return self.keep(room, session, sender_key, origin, forwarded=exported, backed_up=backed_up)

    def export(self, key: InboundKey) -> dict[str, Any] | None:
        """`{room, session_id, session_key, sender_key}` at the first known index: what a forwarded key and a
        backup entry carry."""
        session = self.session(key)
        exported = session.export_at(session.first_known_index)
        if exported is None:
            return None
        return {"room": key.room, "session_id": key.session_id, "session_key": exported.to_base64(),
                "sender_key": key.sender_key}

    def first_seen(self, room: int, session_id: str, index: int, seq: int) -> bool:
        """Whether (session, index) was never read at another seq than `seq`: a server replaying an old
        ciphertext as a new message is caught here."""
        name = f"{session_id}:{index}"
        seen = self.store.get("seen", str(room), name)
        if seen is None:
            self.store.put("seen", str(room), name, seq)
            return True
        if seen != seq:
            log.warning("crypto: message %s in room %s replays message %s: dropped", seq, room, seen)
            return False
        return True
