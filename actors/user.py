"""UserActor: everything one user receives, across all their devices.

Per device it tracks `pushed[room]`, the highest seq that device has. A device is either *live* (new
messages are pushed as they come, coalesced: whatever is waiting in the mailbox goes out in one `msgs`
frame per device) or *syncing* (it reads from Postgres, one batch of <= 100 messages at a time, the next
batch only after the device acknowledged the previous one). A device starts syncing at hello (from the
client's cursors, else from delivered_seq) and falls back to syncing whenever it sees a gap: a message
it missed because this mailbox overflowed, or a room it was just added to. Syncing ends when Postgres has
nothing more for it, and then it is live again. So nothing is skipped, and nothing is sent twice.

Acks are cumulative per room; they move delivered_seq, coalesced per user over one mailbox batch (and
for `flush_seconds` more when set; 0 by default, as the writer coalesces across users anyway) and then
handed to the node's CursorWriter (actors/cursors.py), which stores them for all users at once. At the
end of each batch the rooms here are told of the delivery moves (`CursorMoved`), so senders get their
`status` without waiting for the store; a room whose read marker also moved in the batch hears of both
from the CursorWriter instead, in one move. The `cursors` of a hello count as the device's first ack.
When the actor stops it hands what is left to the writer too, waiting for room in its mailbox if need be:
the writer was started before the user actors, so it stops after them (supervisor/core.py).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Protocol

import trio
from msgspec import structs

from chatd.actors.counts import RoomCounts
from chatd.actors.device import Device
from chatd.actors.items import (
    AckFrom,
    Attach,
    CloseDevices,
    CursorMoved,
    Deliver,
    Detach,
    InboxAcked,
    InboxArrived,
    MembershipChanged,
    MuteChanged,
    ReadMoved,
    RoomHead,
    SaveCursors,
    SettingsChanged,
    ToDevices,
    UserItem,
)
from chatd.actors.mailbox import Mailbox
from chatd.persistence.errors import StoreUnavailable
from chatd.persistence.records import Membership
from chatd.persistence.store import Store
from chatd.protocol.e2ee import ToDevice
from chatd.protocol.errors import CloseCode
from chatd.protocol.frames import MAX_BATCH, Frame, Message, Msgs, ReceiptCounts, Status
from chatd.protocol.rooms import Cursor

log = logging.getLogger("chatd.user")


class CursorSink(Protocol):
    def offer(self, item: SaveCursors, /) -> bool: ...
    async def put(self, item: SaveCursors, /) -> None: ...


class RoomSink(Protocol):
    def tell(self, key: int, item: CursorMoved, /) -> bool: ...


@dataclass(frozen=True, slots=True)
class UserSettings:
    batch_limit: int = 256
    flush_seconds: float = 0.0
    linger_seconds: float = 5.0  # stay up this long after the last device left
    counts_seconds: float = 0.2  # a room's unread/mention counts go out at once, then at most this often
    retry_seconds: float = 1.0
    hand_over_seconds: float = 2.0  # on the way out: how long to wait for room in the cursor writer's mailbox


@dataclass(slots=True)
class RoomView:
    joined_seq: int
    left_seq: int | None
    last_seq: int
    delivered: int
    read_seq: int = 0
    unread: int = 0
    mentions: int = 0
    muted: bool = False

    @property
    def upto(self) -> int:
        return self.left_seq if self.left_seq is not None else self.last_seq


@dataclass(eq=False, slots=True)
class DeviceState:
    device: Device
    pushed: dict[int, int]
    own: dict[int, set[int]] = field(default_factory=dict)  # room -> unacked seqs this device sent itself
    syncing: bool = True
    awaiting: dict[int, int] | None = None  # unacked backlog batch: room -> highest seq in it
    acked: dict[int, int] = field(default_factory=dict)
    outgoing: list[Message] = field(default_factory=list)
    # to-device messages (docs/protocol.md §12.3): read from Postgres when `inbox_pending`, one frame at a time,
    # the next after the device acked `inbox_awaiting`; `inbox_after`: the highest id sent to this connection
    inbox_pending: bool = True
    inbox_after: int = 0
    inbox_awaiting: int | None = None


class UserActor:
    def __init__(self, user_id: int, mailbox: Mailbox[UserItem], store: Store, cursors: CursorSink,
                 settings: UserSettings, forget: Callable[[], None], rooms: RoomSink | None = None,
                 hand_over: Callable[[Attach], bool] | None = None) -> None:
        self.user_id = user_id
        self._hand_over = hand_over  # gives a device still waiting to attach to this user's next actor
        self.mailbox = mailbox
        self.store = store
        self.cursor_sink = cursors
        self.room_sink = rooms
        self.settings = settings
        self._forget = forget
        self.rooms: dict[int, RoomView] | None = None
        self.read_receipts = True  # loaded with the rooms; off: my reads go unreported and I see none
        self.counts = RoomCounts(user_id)
        self.devices: dict[int, DeviceState] = {}
        self.revoked: set[str] = set()  # sessions revoked while this actor ran (CloseDevices)
        self.dirty: dict[Cursor, dict[int, int]] = {"delivered": {}, "read": {}}
        self.told: dict[int, int] = {}  # delivery moves of this batch, for the rooms here (_tell_rooms)
        self.flush_at = math.inf
        self.retry_at = math.inf
        self.counts_at = -math.inf  # counts frames may go out from then on (see _push_counts)
        self.idle_since = trio.current_time()
        self.unhandled: list[UserItem] = []  # items of the batch in hand when the actor failed

    # ------------------------------------------------------------------ lifecycle

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        cancelled = False
        try:
            await self._loop()
        except trio.Cancelled:
            cancelled = True  # the node (or an admin) stops this actor: nothing is handed on
            raise
        finally:
            self._shutdown(hand_over=not cancelled)
            with trio.CancelScope(shield=True), trio.move_on_after(self.settings.hand_over_seconds):
                await self._hand_over_cursors()
            if any(self.dirty.values()):
                log.warning("user %s: cursors not handed over on the way out (the writer is stuck)", self.user_id)

    async def _loop(self) -> None:
        while True:
            deadline = min(self.flush_at, self.retry_at,
                           self.counts_at if self.counts.changed else math.inf,
                           self.idle_since + self.settings.linger_seconds if not self.devices else math.inf)
            batch = await self.mailbox.next_batch(self.settings.batch_limit, deadline)
            overflowed = self.mailbox.overflowed()
            done = 0
            try:
                for item in batch:
                    await self._handle(item)
                    done += 1
            except BaseException:
                self.unhandled = batch[done + 1:]  # for _shutdown: what this batch still held
                failed = batch[done]
                if isinstance(failed, Attach):  # it may be what failed: closed (the client reconnects), not handed on
                    failed.device.kill(CloseCode.RESTART, "reconnect")
                raise
            self._tell_rooms()
            if overflowed or trio.current_time() >= self.retry_at:
                await self._resync_all()
            await self._pump()
            await self._push_counts()
            if trio.current_time() >= self.flush_at:
                self._flush()
            if not batch and not self.devices and not any(self.dirty.values()) \
                    and trio.current_time() >= self.idle_since + self.settings.linger_seconds:
                return

    def stats(self) -> dict[str, object]:
        """For the admin console: connected devices, and per room (last seq known, delivered cursor, still a member)."""
        return {"devices": len(self.devices),
                "rooms": {room: (view.upto, view.delivered, view.left_seq is None)
                          for room, view in (self.rooms or {}).items()}}

    def _shutdown(self, *, hand_over: bool) -> None:
        """Leave the directory, close the mailbox and close every device (they reconnect); a device still
        waiting to attach goes to a fresh actor instead, unless a close already meant for it is among what
        was left (its session revoked, or all the user's devices closed): that one is closed now."""
        self._forget()
        left = [*self.unhandled, *self.mailbox.take_nowait()]  # no checkpoint between this drain and close()
        for item in left:
            if isinstance(item, AckFrom):  # acks sent just before the node stopped: handed over with the rest
                self._on_ack(item)
        revoked, close_all = set(self.revoked), None
        for item in left:
            if isinstance(item, CloseDevices):
                if item.sessions is None:
                    close_all = item
                else:
                    revoked |= item.sessions
        for item in left:
            if not isinstance(item, Attach):
                continue
            if close_all is not None:
                item.device.kill(close_all.code, close_all.reason)
            elif item.device.session in revoked:
                item.device.kill(CloseCode.SIGNED_OUT, "signed out")
            # a device whose hello was answered and whose Attach waits here goes to a fresh actor: it must not
            # be closed a moment after its welcome because this actor lingered out or crashed meanwhile
            elif not (hand_over and self._hand_over and not item.handed_over
                      and self._hand_over(replace(item, handed_over=True))):
                item.device.kill(CloseCode.RESTART, "reconnect")
        self.mailbox.close()
        for ds in self.devices.values():
            ds.device.kill(CloseCode.RESTART, "reconnect")

    # ------------------------------------------------------------------ mailbox items

    async def _handle(self, item: UserItem) -> None:
        if isinstance(item, Deliver):
            await self._on_deliver(item)
        elif isinstance(item, AckFrom):
            self._on_ack(item)
        elif isinstance(item, Attach):
            await self._on_attach(item)
        elif isinstance(item, Detach):
            self.devices.pop(item.device.id, None)
            if not self.devices:
                self.idle_since = trio.current_time()
        elif isinstance(item, MembershipChanged):
            await self._reload(item.room)
        elif isinstance(item, ToDevices):
            frame = item.frame if self.read_receipts else without_reads(item.frame)
            for ds in self.devices.values():
                ds.device.enqueue(frame)
        elif isinstance(item, SettingsChanged):
            self.read_receipts = item.read_receipts
        elif isinstance(item, CloseDevices):
            if item.sessions is not None:
                self.revoked.update(item.sessions)  # a hello that checked just before may attach after this
            for ds in self.devices.values():
                if item.sessions is None or ds.device.session in item.sessions:
                    ds.device.kill(item.code, item.reason)
        elif isinstance(item, ReadMoved):  # read on a device connected to another process
            view = (await self._room_views()).get(item.room)
            if view is not None:
                self.counts.read(item.room, view, min(item.seq, view.upto))
        elif isinstance(item, RoomHead):
            await self._on_head(item)
        elif isinstance(item, MuteChanged):
            view = (await self._room_views()).get(item.room)
            if view is not None:
                self.counts.muted(item.room, view, item.muted)
        elif isinstance(item, InboxArrived):
            for ds in self.devices.values():
                mine = item.sessions is None or ds.device.session in item.sessions
                if mine and ds.inbox_after < (item.head or math.inf):
                    ds.inbox_pending = True
        elif isinstance(item, InboxAcked):
            acked = self.devices.get(item.device.id)
            if acked is not None and acked.inbox_awaiting is not None and item.upto >= acked.inbox_awaiting:
                acked.inbox_awaiting, acked.inbox_pending = None, True
        else:
            raise RuntimeError(getattr(item, "reason", f"unexpected mailbox item {item!r}"))

    async def _on_attach(self, item: Attach) -> None:
        if item.device.closed:
            return
        if item.device.session in self.revoked:
            item.device.kill(CloseCode.SIGNED_OUT, "signed out")
            return
        try:
            rooms = await self._room_views()
        except StoreUnavailable:
            item.device.kill(CloseCode.TRY_AGAIN, "database unavailable, reconnect later")
            return
        pushed = {}
        for room_id, view in rooms.items():
            start = item.cursors.get(room_id, view.delivered)
            pushed[room_id] = min(max(start, view.joined_seq - 1), view.upto)
        # the device has everything up to its starting point: that is its first (implicit) ack (an ack it
        # meant to send as it went offline is not lost: its cursors say what it holds)
        ds = DeviceState(item.device, pushed)
        self.devices[item.device.id] = ds
        for room_id, seq in pushed.items():
            self._acked(ds, rooms[room_id], room_id, seq)

    async def _on_deliver(self, item: Deliver) -> None:
        rooms = await self._room_views()
        view = rooms.get(item.room)
        if view is None:  # added to a room we have not heard of yet
            await self._reload(item.room)
            view = rooms.get(item.room)
            if view is None:
                return
        view.last_seq = max(view.last_seq, item.messages[-1].message.seq)
        self.counts.delivered(item.room, view, (c.message for c in item.messages))
        for ds in self.devices.values():
            for committed in item.messages:
                msg = committed.message
                if committed.origin == ds.device.id:
                    ds.own.setdefault(msg.room, set()).add(msg.seq)
                if ds.syncing:
                    continue
                have = ds.pushed.setdefault(msg.room, view.joined_seq - 1)
                if msg.seq <= have:
                    continue
                if msg.seq > have + 1 or msg.seq > view.upto:
                    ds.syncing = True  # a gap: Postgres fills it
                    continue
                ds.pushed[msg.room] = msg.seq
                if committed.origin != ds.device.id:
                    ds.outgoing.append(msg)
                else:  # the sending device has it (it got `sent`): acked once all before it are
                    self._advance(ds, view, msg.room, ds.acked.get(msg.room, 0))

    async def _on_head(self, item: RoomHead) -> None:
        """Postgres has `room` up to `last_seq` (actors/gaps.py): devices behind it sync the rest."""
        rooms = await self._room_views()
        view = rooms.get(item.room)
        if view is None:  # a membership we never heard of (its news was lost on the bus)
            await self._reload(item.room)
            return
        if view.left_seq is None and item.last_seq > view.last_seq:
            view.last_seq = item.last_seq
            self.counts.recount[item.room] = view.read_seq  # what comes by sync was not counted on delivery
        for ds in self.devices.values():
            if ds.pushed.get(item.room, view.joined_seq - 1) < view.upto:
                ds.syncing = True

    def _on_ack(self, item: AckFrom) -> None:
        ds = self.devices.get(item.device.id)
        view = (self.rooms or {}).get(item.room)
        if ds is None or view is None:
            return
        seq = min(item.seq, view.upto)
        if item.read:
            self._mark("read", item.room, seq)
            self.counts.read(item.room, view, seq)
            return
        self._acked(ds, view, item.room, seq)

    def _acked(self, ds: DeviceState, view: RoomView, room: int, seq: int) -> None:
        """A device says it has `room` up to `seq`: advance, and note a move for the room (_tell_rooms)."""
        before = view.delivered
        self._advance(ds, view, room, seq)
        if view.delivered > before:
            self.told[room] = view.delivered

    def _tell_rooms(self) -> None:
        """Tell the rooms here of this batch's delivery moves (see the module docstring), before anything
        else can run: an ack that rode with a reply reaches the room in the reply's batch, and the `status`
        goes out with the reply's `msgs`."""
        moved, self.told = self.told, {}
        if self.room_sink is None:
            return
        reads = self.dirty["read"]
        for room, seq in moved.items():
            if room not in reads:  # else the CursorWriter tells it of both at once
                self.room_sink.tell(room, CursorMoved(self.user_id, delivered_seq=seq, quiet=not self.read_receipts))

    def _advance(self, ds: DeviceState, view: RoomView, room: int, seq: int) -> None:
        """The device has every message of `room` up to `seq`, and also its own messages right after it.

        A device's own message counts as received (it got `sent`), but only once everything before it was
        acked: delivered_seq is cumulative, so it never jumps over a message the device may not have.
        """
        seq = max(seq, ds.acked.get(room, 0))
        own = ds.own.get(room)
        if own:
            while seq + 1 in own:
                seq += 1
            own.difference_update([s for s in own if s <= seq])
            if not own:
                del ds.own[room]
            ds.pushed[room] = max(ds.pushed.get(room, 0), seq)  # nothing up to seq is to be sent again
        if seq > ds.acked.get(room, 0):
            ds.acked[room] = seq
        if seq > view.delivered:
            view.delivered = seq
            self._mark("delivered", room, seq)
        if ds.awaiting and all(ds.acked.get(r, 0) >= s for r, s in ds.awaiting.items()):
            ds.awaiting = None

    def _mark(self, cursor: Cursor, room: int, seq: int) -> None:
        dirty = self.dirty[cursor]
        if seq > dirty.get(room, 0):
            dirty[room] = seq
            self.flush_at = min(self.flush_at, trio.current_time() + self.settings.flush_seconds)

    # ------------------------------------------------------------------ membership views

    async def _room_views(self) -> dict[int, RoomView]:
        if self.rooms is None:
            self.read_receipts = await self.store.read_receipts(self.user_id)
            self.counts.username = await self.store.active_username(self.user_id) or ""
            self.rooms = {m.room_id: self._view(m) for m in await self.store.memberships(self.user_id)}
        return self.rooms

    @staticmethod
    def _view(m: Membership) -> RoomView:
        return RoomView(m.joined_seq, m.left_seq, m.last_seq, m.delivered_seq, m.read_seq, m.unread, m.mentions,
                        m.muted)

    async def _reload(self, room_id: int) -> None:
        """A membership of this user changed: refresh it and let every device sync that room."""
        rooms = await self._room_views()
        try:
            fresh = await self.store.memberships(self.user_id, room_id)
        except StoreUnavailable:
            self.retry_at = trio.current_time() + self.settings.retry_seconds
            return
        for m in fresh:
            old = rooms.get(room_id)
            rooms[room_id] = self._view(m)
            self.counts.changed.add(room_id)  # the devices learn the new room's (or new state's) counts
            if old is not None:
                rooms[room_id].delivered = max(old.delivered, m.delivered_seq)
            for ds in self.devices.values():
                ds.pushed.setdefault(room_id, m.joined_seq - 1)
                ds.syncing = True

    async def _resync_all(self) -> None:
        """Our mailbox dropped items (or a retry is due): reload every membership and sync every device."""
        self.retry_at = math.inf
        try:
            fresh = await self.store.memberships(self.user_id)
        except StoreUnavailable:
            self.retry_at = trio.current_time() + self.settings.retry_seconds
            return
        old = self.rooms or {}
        self.rooms = {m.room_id: self._view(m) for m in fresh}
        for room_id, view in self.rooms.items():
            if room_id in old:
                view.delivered = max(view.delivered, old[room_id].delivered)
        for ds in self.devices.values():
            for room_id, view in self.rooms.items():
                ds.pushed.setdefault(room_id, view.joined_seq - 1)
            ds.syncing = ds.inbox_pending = True  # a dropped item may have been an InboxArrived

    # ------------------------------------------------------------------ sending

    async def _pump(self) -> None:
        """Send what live devices gathered, then the next backlog batch to syncing devices that may take one.
        To-device messages go first: they carry the keys the messages after them may need."""
        for ds in list(self.devices.values()):
            if ds.inbox_pending and ds.inbox_awaiting is None and ds.device.session and not ds.device.closed:
                await self._inbox_batch(ds)
            while ds.outgoing:
                chunk, ds.outgoing = ds.outgoing[:MAX_BATCH], ds.outgoing[MAX_BATCH:]
                ds.device.enqueue(Msgs(messages=chunk))
            if ds.syncing and ds.awaiting is None and not ds.device.closed:
                await self._sync_batch(ds)
        for device_id in [i for i, ds in self.devices.items() if ds.device.closed]:
            del self.devices[device_id]

    async def _inbox_batch(self, ds: DeviceState) -> None:
        try:
            found = await self.store.to_device_after(ds.device.session, ds.inbox_after, MAX_BATCH)
        except StoreUnavailable:
            self.retry_at = trio.current_time() + self.settings.retry_seconds
            return
        if not found:
            ds.inbox_pending = False
            return
        ds.inbox_after = ds.inbox_awaiting = found[-1].id
        ds.device.enqueue(ToDevice(messages=found))

    async def _sync_batch(self, ds: DeviceState) -> None:
        rooms = self.rooms or {}
        while True:
            ranges = [(room_id, ds.pushed.get(room_id, view.joined_seq - 1), view.upto)
                      for room_id, view in rooms.items()]
            ranges = [r for r in ranges if r[1] < r[2]]
            if not ranges:
                ds.syncing = False
                return
            try:
                found = await self.store.messages_after(self.user_id, ranges, MAX_BATCH)
            except StoreUnavailable:
                self.retry_at = trio.current_time() + self.settings.retry_seconds
                return
            if not found:
                ds.syncing = False
                return
            batch = []
            for msg in found:
                ds.pushed[msg.room] = max(ds.pushed.get(msg.room, 0), msg.seq)
                if msg.seq not in ds.own.get(msg.room, ()):
                    batch.append(msg)
            for room_id in {m.room for m in found} & ds.own.keys():  # skipped own messages may be acked now
                self._advance(ds, rooms[room_id], room_id, ds.acked.get(room_id, 0))
            if batch:
                ds.awaiting = {}
                for msg in batch:
                    ds.awaiting[msg.room] = msg.seq
                ds.device.enqueue(Msgs(messages=batch, backlog=True))
                return

    async def _push_counts(self) -> None:
        """Recount where reads moved, then send every changed room's counts to all devices: at once after a
        quiet spell, then at most every `counts_seconds` while they keep changing."""
        rooms = self.rooms or {}
        if self.counts.recount:
            wanted, self.counts.recount = self.counts.recount, {}
            try:
                exact = await self.store.room_counts(self.user_id, wanted)
            except StoreUnavailable:
                self.counts.recount.update(wanted)  # next round
                exact = {}
            for room_id, (unread, mentions) in exact.items():
                if room_id in rooms:
                    self.counts.recounted(room_id, rooms[room_id], unread, mentions)
        now = trio.current_time()
        if not self.counts.changed or now < self.counts_at:
            return  # a burst of messages: one counts frame per room per `counts_seconds`, not one per message
        self.counts_at = now + self.settings.counts_seconds
        for frame in self.counts.frames(rooms):
            for ds in self.devices.values():
                ds.device.enqueue(frame)

    def _flush(self) -> None:
        """Hand the coalesced cursor moves to the CursorWriter; if its mailbox is full, keep them for later."""
        self.flush_at = math.inf
        for column, cursors in self.dirty.items():
            if not cursors:
                continue
            if self.cursor_sink.offer(SaveCursors(self.user_id, column, cursors, self.read_receipts)):
                self.dirty[column] = {}
            else:
                self.flush_at = trio.current_time() + max(self.settings.flush_seconds, 0.05)  # writer full

    async def _hand_over_cursors(self) -> None:
        """On the way out: the moves still dirty go to the CursorWriter, waiting for room if it is full."""
        for column, cursors in self.dirty.items():
            if cursors:
                await self.cursor_sink.put(SaveCursors(self.user_id, column, cursors, self.read_receipts))
                self.dirty[column] = {}


def without_reads(frame: Frame) -> Frame:
    """A receipt frame with the read part taken out (for a user who turned read receipts off)."""
    if isinstance(frame, Status):
        return structs.replace(frame, read_seq=None)
    if isinstance(frame, ReceiptCounts):
        return structs.replace(frame, counts=[structs.replace(c, read=None) for c in frame.counts])
    return frame
