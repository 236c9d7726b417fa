"""Bus: how the chatd processes on one Postgres and one Redis hear of each other's work (issue 9).

Every process runs its own room and user actors; Postgres orders each room (its seq is assigned under the
room row's lock, whoever writes) and Redis pub/sub carries the news between processes:

- a room actor that committed messages publishes them; every other process hands them to its own actor
  for that room, which fans them out to the members connected there, exactly as for its own commits;
- typing frames and stored cursor moves (for receipts) travel the same way, to the room actors;
- what concerns a user rather than a room (a new room, mute, settings, read markers, presence pushes)
  goes to that user's actor in every process where they have devices.

Publishing never blocks an actor: events go through this actor's bounded mailbox and are published in
batches (one round trip per batch: a PUBLISH on each shard channel it touches, persistence/pubsub.py;
SPUBLISH on a Redis Cluster). Pub/sub is at most once: when Redis is down, or a process falls behind,
events are dropped. That costs latency, not messages: user actors order by seq and fill gaps from
Postgres, and actors/gaps.py finds every room where Postgres is ahead of what a process heard.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

import trio

from chatd.actors.buswire import BusEvent, BusWireError, ToRoom, ToUsers, decode, encode, sender
from chatd.actors.items import (
    CloseDevices,
    CursorMoved,
    InboxArrived,
    MembershipChanged,
    MuteChanged,
    ReadMoved,
    RemoteCommitted,
    RemoteTyping,
    RoomItem,
    SettingsChanged,
    ToDevices,
    UserItem,
)
from chatd.actors.mailbox import Mailbox
from chatd.persistence.pubsub import BusError, PubSub

log = logging.getLogger("chatd.bus")

RoomNews = RemoteCommitted | RemoteTyping | CursorMoved
UserNews = MembershipChanged | MuteChanged | SettingsChanged | ReadMoved | ToDevices | CloseDevices | InboxArrived


class BusSink(Protocol):
    """What actors and handlers publish to the other processes (never blocks, may drop)."""

    def to_room(self, room: int, item: RoomNews, /) -> None: ...
    def to_users(self, users: Iterable[int], item: UserNews, /) -> None: ...


class NullBus:
    """A single process: nobody to tell."""

    def to_room(self, room: int, item: RoomNews, /) -> None:
        pass

    def to_users(self, users: Iterable[int], item: UserNews, /) -> None:
        pass


class Rooms(Protocol):
    def tell(self, key: int, item: RoomItem, /) -> bool: ...


class Users(Protocol):
    def offer(self, key: int, item: UserItem, /) -> bool: ...


@dataclass(frozen=True, slots=True)
class BusSettings:
    mailbox_size: int = 16384
    batch_limit: int = 512
    inbox_size: int = 16384  # received bus messages waiting to be dispatched
    retry_seconds: float = 1.0


class Bus:
    def __init__(self, pubsub: PubSub, node: str, rooms: Rooms, users: Users,
                 settings: BusSettings = BusSettings()) -> None:
        self.pubsub = pubsub
        self.node = node
        self.rooms = rooms
        self.users = users
        self.settings = settings
        self.mailbox = Mailbox[BusEvent](settings.mailbox_size)  # outlives restarts of run()
        self.subscribed = trio.Event()
        self.published = self.received = self.dropped = 0  # events
        self.published_bytes = self.received_bytes = 0  # payloads sent to Redis, and heard from it (our own too)
        self._last_warning = 0.0

    def counts(self) -> dict[str, int]:
        return {"published_events": self.published, "received_events": self.received, "dropped_events": self.dropped,
                "published_bytes": self.published_bytes, "received_bytes": self.received_bytes}

    def to_room(self, room: int, item: RoomNews, /) -> None:
        if not self.mailbox.offer(ToRoom(room, item)):
            self.dropped += 1

    def to_users(self, users: Iterable[int], item: UserNews, /) -> None:
        users = tuple(users)
        if users and not self.mailbox.offer(ToUsers(users, item)):
            self.dropped += 1

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        inbox_send, inbox = trio.open_memory_channel[bytes](self.settings.inbox_size)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._publish)
            nursery.start_soon(self._listen, inbox_send)
            nursery.start_soon(self._dispatch, inbox)
            task_status.started()

    async def _publish(self) -> None:
        while True:
            batch = await self.mailbox.next_batch(self.settings.batch_limit)
            try:
                payloads = {shard: encode(self.node, events) for shard, events in self._by_shard(batch).items()}
                await self.pubsub.publish(payloads)
                self.published += len(batch)
                self.published_bytes += sum(map(len, payloads.values()))
            except BusError as exc:
                self.dropped += len(batch)
                self._warn(f"bus publish failed, {len(batch)} events dropped (gaps are filled from Postgres): {exc}")

    def _by_shard(self, batch: list[BusEvent]) -> dict[int, list[BusEvent]]:
        """The batch split by channel: a room's events on its room's, a user's on theirs (in order)."""
        shards: dict[int, list[BusEvent]] = {}
        for event in batch:
            if isinstance(event, ToRoom):
                shards.setdefault(self.pubsub.shard(event.room), []).append(event)
                continue
            users: dict[int, list[int]] = {}
            for user in event.users:
                users.setdefault(self.pubsub.shard(user), []).append(user)
            for shard, some in users.items():
                shards.setdefault(shard, []).append(event if len(users) == 1 else ToUsers(tuple(some), event.item))
        return shards

    async def _listen(self, inbox: trio.MemorySendChannel[bytes]) -> None:
        def on_message(data: bytes) -> None:
            self.received_bytes += len(data)
            if sender(data) == self.node:  # our own publish, heard back
                return
            try:
                inbox.send_nowait(data)
            except (trio.WouldBlock, trio.BrokenResourceError, trio.ClosedResourceError):
                self.dropped += 1

        while True:
            try:
                await self.pubsub.listen(on_message, self.subscribed.set)
            except BusError as exc:
                self._warn(f"bus subscription lost, resubscribing: {exc}")
            self.subscribed = trio.Event()
            await trio.sleep(self.settings.retry_seconds)

    async def _dispatch(self, inbox: trio.MemoryReceiveChannel[bytes]) -> None:
        async for data in inbox:
            try:
                node, events = decode(data)
            except BusWireError as exc:
                self._warn(str(exc))
                continue
            if node == self.node:
                continue
            self.received += len(events)
            for event in events:
                if isinstance(event, ToRoom):
                    self.rooms.tell(event.room, event.item)  # starts this process's actor for the room
                else:
                    for user in event.users:
                        self.users.offer(user, event.item)  # only users with devices here have an actor
            await trio.lowlevel.checkpoint()

    def _warn(self, message: str) -> None:
        now = time.monotonic()
        if now - self._last_warning > 10:
            self._last_warning = now
            log.warning(message)
