"""Directories: the registries (room id -> mailbox, user id -> mailbox) and the supervisors that own them.

Only its directory adds or removes registry entries; actors look each other up through it and talk only
through mailboxes. Lookups and registrations are synchronous, so two tasks can never start two actors
for one id. A directory that is restarted by its parent starts with an empty registry.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Generic, TypeVar

import trio
import trio.lowlevel

from chatd.actors.bus import BusSink, NullBus
from chatd.actors.device import Device
from chatd.actors.items import Attach, Crash, RoomItem, UserItem
from chatd.actors.mailbox import Mailbox
from chatd.actors.room import Committer, RoomActor, RoomSettings
from chatd.actors.user import CursorSink, UserActor, UserSettings
from chatd.persistence.store import Store
from chatd.supervisor import ChildSpec, Restart, StopOrder, Supervisor, SupervisorClosed

T = TypeVar("T")


class Directory(Generic[T]):
    """A dynamic supervisor plus its registry of mailboxes."""

    kind = "actor"
    restart = Restart.TRANSIENT

    def __init__(self, name: str, mailbox_size: int, intensity: int, period: float) -> None:
        self.name = name
        self.mailbox_size = mailbox_size
        self._intensity, self._period = intensity, period
        self.supervisor = self._fresh_supervisor()
        self._mailboxes: dict[int, Mailbox[T]] = {}
        self._names: dict[int, str] = {}  # key -> supervisor child name of its current actor (admin console)
        self._generation = itertools.count(1)

    async def run(self, *, task_status: trio.TaskStatus[Supervisor] = trio.TASK_STATUS_IGNORED) -> None:
        self._mailboxes = {}
        self.supervisor = self._fresh_supervisor()
        try:
            await self.supervisor.run(task_status=task_status)
        finally:
            self._mailboxes = {}

    def _fresh_supervisor(self) -> Supervisor:
        """Its actors are many and alike: they stop all at once, not one after the other."""
        return Supervisor(self.name, intensity=self._intensity, period=self._period, stop_order=StopOrder.TOGETHER)

    def lookup(self, key: int) -> Mailbox[T] | None:
        return self._mailboxes.get(key)

    def is_online(self, key: int) -> bool:
        return key in self._mailboxes

    def ensure(self, key: int) -> Mailbox[T]:
        """The mailbox of actor `key`, starting the actor if it is not running."""
        mailbox = self._mailboxes.get(key)
        if mailbox is None:
            mailbox = Mailbox[T](self.mailbox_size)
            actor = self._make_actor(key, mailbox, self._forgetter(key, mailbox))
            name = f"{self.kind}:{key}#{next(self._generation)}"
            self.supervisor.start_child_soon(ChildSpec(name, actor.run, self.restart))  # raises if closed
            self._mailboxes[key] = mailbox
            self._names[key] = name
        return mailbox

    def _forgetter(self, key: int, mailbox: Mailbox[T]) -> Callable[[], None]:
        def forget() -> None:
            if self._mailboxes.get(key) is mailbox:
                del self._mailboxes[key]
        return forget

    def _make_actor(self, key: int, mailbox: Mailbox[T], forget: Callable[[], None]) -> RoomActor | UserActor:
        raise NotImplementedError

    def offer(self, key: int, item: T) -> bool:
        """Non-blocking put into a running actor's mailbox; False if it is not running or full."""
        mailbox = self._mailboxes.get(key)
        return mailbox.offer(item) if mailbox is not None else False

    def tell(self, key: int, item: T) -> bool:
        """Non-blocking put that starts actor `key` if it is not running; False if full or shutting down."""
        try:
            return self.ensure(key).offer(item)
        except SupervisorClosed:
            return False

    async def put(self, key: int, item: T) -> None:
        """Put into actor `key`'s mailbox (starting it), waiting for room; retries if it just stopped."""
        for _ in range(5):
            try:
                await self.ensure(key).put(item)
                return
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                await trio.lowlevel.checkpoint()
        raise RuntimeError(f"{self.kind} {key} keeps stopping")

    def inject_crash(self, key: int, reason: str = "injected crash") -> bool:
        return self.offer(key, Crash(reason))  # type: ignore[arg-type]

    def count(self) -> int:
        return len(self._mailboxes)

    def keys(self) -> list[int]:
        """The ids of the running actors."""
        return list(self._mailboxes)

    def child_name(self, key: int) -> str | None:
        """The supervisor child name of actor `key` while it is registered (admin console)."""
        return self._names.get(key) if key in self._mailboxes else None

    def retire(self, key: int) -> bool:
        """Stop actor `key` now if it is idle: nothing queued and waiting for work (admin console).

        No checkpoint between the check and the stop: the mailbox is unregistered and closed before anyone
        can put into it again (a later put starts a fresh actor), so no item is lost.
        """
        mailbox, name = self._mailboxes.get(key), self._names.get(key)
        if mailbox is None or name is None or mailbox.depth() or not mailbox.waiting():
            return False
        del self._mailboxes[key]
        stopped = self.supervisor.stop_child(name)  # cancelled first, so its receive does not see the close
        mailbox.close()
        return stopped


class RoomDirectory(Directory[RoomItem]):
    kind = "room"
    restart = Restart.TRANSIENT  # crashed rooms restart; idle rooms stop for good

    def __init__(self, store: Store, commits: Committer, settings: RoomSettings, *, mailbox_size: int = 1024,
                 intensity: int = 100, period: float = 10.0) -> None:
        super().__init__("rooms", mailbox_size, intensity, period)
        self.store = store
        self.commits = commits
        self.settings = settings
        self._users: UserDirectory | None = None  # both set by wire()
        self._bus: BusSink = NullBus()

    def wire(self, users: UserDirectory, bus: BusSink) -> None:
        """Give the rooms what is built after them: called once, by the node, before any room starts.

        Late because of two cycles: room actors hand messages to user actors, and the users' directory
        needs this one for its actors; the Bus (when several processes share the database) delivers what
        it hears to both directories, and room actors publish to it (a NullBus: a single process).
        """
        if self._users is not None:
            raise RuntimeError("the room directory is wired already")
        self._users, self._bus = users, bus

    @property
    def bus(self) -> BusSink:
        """Where room news for the other processes goes (actors, the node's cursor writer, the admin)."""
        return self._bus

    def _make_actor(self, key: int, mailbox: Mailbox[RoomItem], forget: Callable[[], None]) -> RoomActor:
        if self._users is None:
            raise RuntimeError("a room started before the room directory was wired to the users")
        return RoomActor(key, mailbox, self.store, self.commits, self._users, self.settings, forget, self._bus)


class UserDirectory(Directory[UserItem]):
    kind = "user"
    restart = Restart.TEMPORARY  # a crashed user actor closes its devices; the clients reconnect

    def __init__(self, store: Store, rooms: RoomDirectory, cursors: CursorSink, settings: UserSettings, *,
                 mailbox_size: int = 512, intensity: int = 1000, period: float = 10.0) -> None:
        super().__init__("users", mailbox_size, intensity, period)
        self.store = store
        self.cursors = cursors
        self.settings = settings
        self.rooms = rooms

    def _make_actor(self, key: int, mailbox: Mailbox[UserItem], forget: Callable[[], None]) -> UserActor:
        return UserActor(key, mailbox, self.store, self.cursors, self.settings, forget, self.rooms,
                         hand_over=lambda attach: self.tell(key, attach))

    async def attach(self, device: Device, cursors: dict[int, int]) -> None:
        await self.put(device.user_id, Attach(device, cursors))
