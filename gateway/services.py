"""What request handlers need, bundled once per node."""

from __future__ import annotations

from dataclasses import dataclass, field

from chatd.actors.bus import BusSink, NullBus
from chatd.actors.directory import RoomDirectory, UserDirectory
from chatd.actors.presence import PresenceTracker
from chatd.auth import PasswordHasher, TokenIssuer
from chatd.gateway.in_flight import InFlight
from chatd.gateway.wakeups import Wakeups
from chatd.persistence import Cache, Store
from chatd.runtime.config import Config
from chatd.runtime.metrics import Metrics


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
    metrics: Metrics = field(default_factory=Metrics)
    bus: BusSink = field(default_factory=NullBus)  # the other processes on this database (actors/bus.py)
    password_checks: InFlight = field(default_factory=InFlight)  # per client address, on this process
    qr_waits: InFlight = field(default_factory=InFlight)  # QR login long-polls per client address, on this process
    qr_answers: Wakeups = field(default_factory=Wakeups)  # QR login long-polls here, woken by an answer here
