"""PresenceTracker: the one actor per node that knows which of its users are online, and tells their contacts.

Connections report `Connected` after hello and `Disconnected` when they close. The tracker counts devices
per user; a user whose first device here arrives is vouched for in Redis (persistence/cache.py), one whose
last device here leaves is withdrawn and their last_seen is stored in Postgres. Whether that made them
online or offline for everyone (other nodes may have devices of theirs too) is Redis's answer, and then
`presence_changed` goes to their contacts online on this node who may see their last_seen, through the
contacts' user actors (never blocking: a full mailbox drops the push, presence is best-effort). Only
contacts through rooms of at most 100 members are pushed to; bigger rooms would cost members² frames.

Like the cursor writer it is a group commit: whatever is waiting is handled as one batch, with one Redis
script and one query per kind of change. Every third of the TTL it re-vouches for all its users (the
heartbeat), so a node that dies leaves nobody online for longer than the TTL, and it drops devices that
closed without their `Disconnected` arriving. Redis down: transitions are judged from this node alone.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from typing import Protocol

import trio

from chatd.actors.bus import BusSink
from chatd.actors.device import Device
from chatd.actors.items import Crash, ToDevices
from chatd.actors.mailbox import Mailbox
from chatd.auth.visibility import may_see
from chatd.persistence.cache import Cache
from chatd.persistence.errors import StoreUnavailable
from chatd.persistence.store import Store
from chatd.protocol.people import PresenceChanged

log = logging.getLogger("chatd.presence")


@dataclass(frozen=True, slots=True)
class Connected:
    device: Device


@dataclass(frozen=True, slots=True)
class Disconnected:
    device: Device


PresenceItem = Connected | Disconnected | Crash


class Recipients(Protocol):
    def offer(self, key: int, item: ToDevices, /) -> bool: ...
    def is_online(self, key: int, /) -> bool: ...


@dataclass(frozen=True, slots=True)
class PresenceSettings:
    node: str
    ttl: float = 30.0  # seconds a node's word that a user is online lasts; it is renewed every ttl / 3
    mailbox_size: int = 8192
    batch_limit: int = 4096
    push_room_max: int = 100  # presence is pushed to members of shared rooms up to this size
    goodbye_seconds: float = 3.0  # on the way out: time to withdraw every user and store their last_seen


class PresenceTracker:
    def __init__(self, store: Store, cache: Cache, users: Recipients, settings: PresenceSettings,
                 bus: BusSink) -> None:
        self.store = store
        self.cache = cache
        self.users = users
        self.settings = settings
        # Both outlive a crash of run(): the device map is only changed synchronously, between awaits, so
        # it is never half-updated, and a restarted run re-vouches for everyone in it.
        self.mailbox = Mailbox[PresenceItem](settings.mailbox_size)
        self.local: dict[int, dict[int, Device]] = {}  # user -> their open devices on this node
        self.vouched: set[int] = set()  # users this node has told Redis about
        self.unsaved: dict[int, int] = {}  # user -> last seen (ms) not yet stored
        self.bus = bus  # contacts connected to other processes hear it through them

    # ------------------------------------------------------------------ what connections call

    async def connected(self, device: Device) -> None:
        """After a successful hello (waits for room in the mailbox: back-pressure on hellos)."""
        await self.mailbox.put(Connected(device))

    def disconnected(self, device: Device) -> None:
        """When a connection closes; never waits. If the item is dropped, the next heartbeat sees the device
        closed and does the same."""
        self.mailbox.offer(Disconnected(device))

    # ------------------------------------------------------------------ the actor

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        self.vouched = set()
        interval = self.settings.ttl / 3
        task_status.started()
        try:
            await self._settle(set(self.local), {})  # after a restart: vouch again for whoever is here
            beat_at = trio.current_time() + interval
            while True:
                batch = await self.mailbox.next_batch(self.settings.batch_limit, beat_at)
                touched, left = self._apply(batch)
                if trio.current_time() >= beat_at:
                    self._prune(touched, left)
                await self._settle(touched, left)
                if trio.current_time() >= beat_at:
                    await self._beat()
                    beat_at = trio.current_time() + interval
        except trio.Cancelled:  # the node is stopping: nobody is online here any more
            with trio.CancelScope(shield=True), trio.move_on_after(self.settings.goodbye_seconds):
                await self._goodbye()
            raise

    def _apply(self, batch: list[PresenceItem]) -> tuple[set[int], dict[int, int]]:
        """Update the device map; returns the users touched and those who lost a device (-> when)."""
        touched: set[int] = set()
        left: dict[int, int] = {}
        for item in batch:
            if isinstance(item, Crash):
                raise RuntimeError(item.reason)
            device = item.device
            user = device.user_id
            if isinstance(item, Connected):
                self.local.setdefault(user, {})[device.id] = device
                touched.add(user)
            elif self._drop(device):
                touched.add(user)
                left[user] = now_ms()
        return touched, left

    def _drop(self, device: Device) -> bool:
        devices = self.local.get(device.user_id)
        if devices is None or devices.pop(device.id, None) is None:
            return False
        if not devices:
            del self.local[device.user_id]
        return True

    def _prune(self, touched: set[int], left: dict[int, int]) -> None:
        """Devices that closed without their Disconnected reaching us (a full mailbox) leave now."""
        closed = [d for devices in self.local.values() for d in devices.values() if d.closed]
        for device in closed:
            self._drop(device)
            touched.add(device.user_id)
            left[device.user_id] = now_ms()

    async def _settle(self, touched: set[int], left: dict[int, int]) -> None:
        """Tell Redis about users whose first device came or last device went here, store last_seen, push."""
        arrived = sorted(u for u in touched if u in self.local and u not in self.vouched)
        departed = sorted(u for u in touched if u not in self.local and u in self.vouched)
        self.vouched.update(arrived)
        self.vouched.difference_update(departed)
        for user, when in left.items():
            if user not in self.local:  # still here on another device: not gone, nothing to store yet
                self.unsaved[user] = max(when, self.unsaved.get(user, 0))
        came = await self.cache.presence_touch(arrived, self.settings.node, self.settings.ttl)
        went = await self.cache.presence_leave(departed, self.settings.node)
        await self._save()
        online = [u for u in arrived if came is None or came[u]]  # Redis down: this node's view
        offline = {u: left.get(u) or now_ms() for u in departed if went is None or went[u]}
        await self._announce(online, offline)

    async def _beat(self) -> None:
        """Renew this node's word for all its users; any whose entry had lapsed (a stall) are back online."""
        came = await self.cache.presence_touch(sorted(self.vouched), self.settings.node, self.settings.ttl)
        await self._save()
        if came:
            await self._announce([u for u, fresh in came.items() if fresh], {})

    async def _save(self) -> None:
        if not self.unsaved:
            return
        seen, self.unsaved = self.unsaved, {}
        try:
            await self.store.save_last_seen(seen)
        except StoreUnavailable as exc:
            log.warning("last_seen of %d users not stored, retrying at the next heartbeat: %s", len(seen), exc)
            for user, when in seen.items():
                self.unsaved[user] = max(when, self.unsaved.get(user, 0))

    async def _announce(self, online: list[int], offline: dict[int, int]) -> None:
        """presence_changed to each mover's contacts that are online here, if they may see the mover's last_seen."""
        movers = online + list(offline)
        if not movers:
            return
        try:
            audience = await self.store.presence_audience(movers, self.settings.push_room_max)
        except StoreUnavailable as exc:
            log.warning("presence of %d users not pushed: %s", len(movers), exc)
            return
        for user in movers:
            level, contacts = audience.get(user, ("nobody", []))
            if not may_see(level, own=False, contact=True):
                continue
            frame = PresenceChanged(user=user, online=user not in offline, last_seen=offline.get(user))
            for contact in contacts:
                if self.users.is_online(contact):
                    self.users.offer(contact, ToDevices(frame))
            self.bus.to_users(contacts, ToDevices(frame))

    async def _goodbye(self) -> None:
        """The node stops: withdraw every user from Redis and store when they were last seen."""
        stamp = now_ms()
        self.unsaved.update({u: max(stamp, self.unsaved.get(u, 0)) for u in set(self.local) | self.vouched})
        await self.cache.presence_leave(sorted(self.vouched), self.settings.node)
        self.vouched = set()
        await self._save()
        self.local = {}


def now_ms() -> int:
    return math.floor(time.time() * 1000)
