"""What request handlers need, bundled once per node."""

from __future__ import annotations

from dataclasses import dataclass

from actors.directory import RoomDirectory, UserDirectory
from actors.presence import PresenceTracker
from auth import PasswordHasher, TokenIssuer
from chatd.config import Config
from persistence import Cache, Store


@dataclass(frozen=True)
class Services:
    config: Config
    store: Store
    cache: Cache
    rooms: RoomDirectory
    users: UserDirectory
    tokens: TokenIssuer
    passwords: PasswordHasher
    presence: PresenceTracker
