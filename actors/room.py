"""RoomActor: the single writer of one room. Orders messages (gap-free seq), group-commits them, fans out.

Loop: take what is waiting in the mailbox (up to `batch_limit`), check every request against the room's
membership, write all accepted ones in one transaction, reply `sent` / `ok` to the requesting devices
only after commit, then offer the committed messages to each online member's UserActor without waiting.
A failing database gets every request of the batch a `retry` error and the actor keeps running; any
other exception is a crash: the batch gets `retry` errors and the supervisor restarts the actor, which
reloads its state from Postgres and goes on with the same mailbox (nothing queued is lost).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import trio

from actors.device import Device
from actors.items import (
    ChangeMembers,
    Committed,
    CursorMoved,
    Deliver,
    MembershipChanged,
    Push,
    RoomItem,
    SendText,
)
from actors.mailbox import Mailbox
from persistence.errors import StoreUnavailable
from persistence.records import AppendItem, MemberChange, MemberState, NewText, RoomState
from persistence.store import Store
from protocol.errors import ErrorCode
from protocol.frames import Error, Ok, Sent, Status

log = logging.getLogger("chatd.room")

RANK = {"member": 0, "admin": 1, "owner": 2}
STATUS_WINDOW = 1024  # the senders of this many recent messages get delivery status for them


class UserRouter(Protocol):
    def offer(self, key: int, item: Deliver | MembershipChanged | Push, /) -> bool: ...
    def is_online(self, key: int, /) -> bool: ...


@dataclass(frozen=True, slots=True)
class RoomSettings:
    batch_limit: int = 100
    idle_seconds: float = 300.0
    status_max_members: int = 100  # per-recipient delivery status up to this room size
    retry_after: float = 1.0


class Denied(Exception):
    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code


def reply_error(device: Device, req_id: int | None, code: ErrorCode, message: str,
                retry_after: float | None = None) -> None:
    device.push(Error(code=code.value, message=message, id=req_id, retry_after=retry_after))


class RoomActor:
    def __init__(self, room_id: int, mailbox: Mailbox[RoomItem], store: Store, users: UserRouter,
                 settings: RoomSettings, forget: Callable[[], None]) -> None:
        self.room_id = room_id
        self.mailbox = mailbox
        self.store = store
        self.users = users
        self.settings = settings
        self._forget = forget
        self.state: RoomState | None = None
        self._answered: set[int] = set()  # ids of this batch's requests that already got their reply
        self._missing = False  # the room does not exist: stop after answering
        self._senders: dict[int, int] = {}  # seq -> sender, the last STATUS_WINDOW text messages
        self._reported: dict[int, int] = {}  # member -> delivered_seq last reported in status frames

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        self.state = None  # (re)started: state comes from Postgres, lazily, on the first request
        self._senders, self._reported = {}, {}
        task_status.started()
        while True:
            batch = await self.mailbox.next_batch(self.settings.batch_limit,
                                                  trio.current_time() + self.settings.idle_seconds)
            if not batch:
                self._stop()
                return
            self._answered.clear()
            try:
                await self.handle(batch)
            except Exception:
                self._fail_requests(batch, "the room restarted while handling this request")
                raise
            if self._missing:
                self._stop()
                return

    def _stop(self) -> None:
        """Leave the directory and close the mailbox, with no checkpoint in between.

        Idle rooms stop with an empty mailbox; a room that does not exist answers what is still queued.
        """
        self._forget()
        if self._missing:
            self._not_found(self.mailbox.take_nowait())
        self.mailbox.close()

    def _answer(self, item: SendText | ChangeMembers, code: ErrorCode, why: str,
                retry_after: float | None = None) -> None:
        if id(item) not in self._answered:
            self._answered.add(id(item))
            reply_error(item.device, item.req_id, code, why, retry_after)

    def _fail_requests(self, batch: list[RoomItem], why: str) -> None:
        """`retry` for every request of the batch that has no reply yet (a crash after commit sent some)."""
        for item in batch:
            if isinstance(item, SendText | ChangeMembers):
                self._answer(item, ErrorCode.RETRY, why, self.settings.retry_after)

    def _not_found(self, items: list[RoomItem]) -> None:
        for item in items:
            if isinstance(item, SendText | ChangeMembers):
                self._answer(item, ErrorCode.NOT_FOUND, f"room {self.room_id} does not exist")

    async def handle(self, batch: list[RoomItem]) -> None:
        if self.state is None:
            try:
                self.state = await self.store.load_room(self.room_id, STATUS_WINDOW)
            except StoreUnavailable:
                self._fail_requests(batch, "database unavailable, retry later")
                return
            if self.state is not None:
                # what members were told before is unknown: their next cursor move reports the whole window
                self._senders, self._reported = self.state.recent_senders, {}
        state = self.state
        if state is None:
            self._missing = True
            self._not_found(batch)
            return
        accepted: list[tuple[SendText | ChangeMembers, list[AppendItem]]] = []
        statuses: dict[int, int] = {}
        for item in batch:
            if isinstance(item, CursorMoved):
                statuses[item.user] = max(item.delivered_seq, statuses.get(item.user, 0))
                continue
            if not isinstance(item, SendText | ChangeMembers):
                raise RuntimeError(getattr(item, "reason", f"unexpected mailbox item {item!r}"))
            try:
                accepted.append((item, self._admit(state, item)))
            except Denied as denied:
                self._answer(item, denied.code, str(denied))
        if accepted:
            await self._commit(state, accepted)
        if statuses:
            self._fan_out_status(state, statuses)

    # ------------------------------------------------------------------ authorization, in the room

    def _admit(self, state: RoomState, item: SendText | ChangeMembers) -> list[AppendItem]:
        """Check a request against the room and apply its membership effect to the in-memory state."""
        requester = item.device.user_id
        me = state.members.get(requester)
        if me is None or not me.current:
            raise Denied(ErrorCode.FORBIDDEN, f"you are not a member of room {self.room_id}")
        if isinstance(item, SendText):
            return [NewText(requester, item.client_id, item.body)]
        if state.kind == "direct":
            raise Denied(ErrorCode.BAD_REQUEST, "a direct room always has exactly its two members")
        pending = state.last_seq + 1  # placeholder seq for optimistic state; fixed up after commit
        if item.action == "add":
            if RANK[me.role] < RANK["admin"]:
                raise Denied(ErrorCode.FORBIDDEN, "only the owner and admins can add members")
            new = [u for u in dict.fromkeys(item.users) if u not in state.members or not state.members[u].current]
            if not new:
                raise Denied(ErrorCode.CONFLICT, "every user named is already a member")
            for uid in new:
                state.members[uid] = MemberState("member", pending)
            return [MemberChange("added", uid, requester) for uid in new]
        if item.action == "remove":
            (target,) = item.users
            them = state.members.get(target)
            if target == requester:
                raise Denied(ErrorCode.BAD_REQUEST, "use leave to leave a room")
            if them is None or not them.current:
                raise Denied(ErrorCode.NOT_FOUND, f"user {target} is not a member of room {self.room_id}")
            if RANK[me.role] <= RANK[them.role]:
                raise Denied(ErrorCode.FORBIDDEN, f"a {me.role} cannot remove a {them.role}")
            them.left_seq = pending
            return [MemberChange("removed", target, requester)]
        if item.action == "leave":
            changes: list[AppendItem] = []
            others = sorted(((m.joined_seq, RANK[m.role], uid) for uid, m in state.members.items()
                             if m.current and uid != requester), key=lambda t: (-t[1], t[0]))
            owners_left = [uid for _, rank, uid in others if rank == RANK["owner"]]
            if me.role == "owner" and others and not owners_left:
                heir = others[0][2]  # the longest-standing admin, else the longest-standing member
                state.members[heir].role = "owner"
                changes.append(MemberChange("owner_changed", heir, requester, "owner"))
            me.left_seq = pending
            changes.append(MemberChange("left", requester, requester))
            return changes
        raise Denied(ErrorCode.BAD_REQUEST, f"unknown membership action {item.action!r}")

    # ------------------------------------------------------------------ commit and fan-out

    async def _commit(self, state: RoomState, accepted: list[tuple[SendText | ChangeMembers, list[AppendItem]]]
                      ) -> None:
        flat = [append for _, appends in accepted for append in appends]
        try:
            results = await self.store.append(self.room_id, flat)
        except StoreUnavailable as exc:
            log.warning("room %s: commit failed, %d requests get retry: %s", self.room_id, len(flat), exc)
            self.state = None  # optimistic membership edits are void: reload on the next request
            self._fail_requests([req for req, _ in accepted], "database unavailable, retry later")
            return
        committed: list[Committed] = []
        changed: set[int] = set()
        it = iter(results)
        for request, appends in accepted:
            for append in appends:
                result = next(it)
                msg = result.message
                if isinstance(request, SendText):
                    if not result.duplicate:
                        self._remember_sender(msg.seq, request.device.user_id)
                    request.device.push(Sent(id=request.req_id, room=self.room_id, seq=msg.seq, ts=msg.ts,
                                             client_id=msg.client_id or request.client_id,
                                             duplicate=result.duplicate))
                    if result.duplicate:
                        continue
                else:
                    assert isinstance(append, MemberChange)
                    self._settle(state, append, msg.seq)
                    changed.add(append.user)
                state.last_seq = max(state.last_seq, msg.seq)
                committed.append(Committed(msg, request.device.id if isinstance(request, SendText) else None))
            if isinstance(request, ChangeMembers):
                request.device.push(Ok(id=request.req_id))
            self._answered.add(id(request))
        self._fan_out(state, committed, changed)

    @staticmethod
    def _settle(state: RoomState, change: MemberChange, seq: int) -> None:
        """Replace the optimistic placeholder seq with the committed one."""
        member = state.members[change.user]
        if change.action == "added":
            member.joined_seq, member.left_seq = seq, None
        elif change.action in ("removed", "left"):
            member.left_seq = seq

    def _fan_out(self, state: RoomState, committed: list[Committed], changed: set[int]) -> None:
        if not committed:
            return
        first, last = committed[0].message.seq, committed[-1].message.seq
        for uid, member in state.members.items():
            if (member.left_seq is not None and member.left_seq < first) or member.joined_seq > last:
                continue
            if not self.users.is_online(uid):
                continue
            mine = tuple(c for c in committed if member.joined_seq <= c.message.seq
                         and (member.left_seq is None or c.message.seq <= member.left_seq))
            if mine:
                self.users.offer(uid, Deliver(self.room_id, mine))
            if uid in changed:
                self.users.offer(uid, MembershipChanged(self.room_id))

    def _remember_sender(self, seq: int, sender: int) -> None:
        self._senders[seq] = sender
        if len(self._senders) > STATUS_WINDOW:
            del self._senders[next(iter(self._senders))]  # dicts keep insertion (= seq) order

    def _fan_out_status(self, state: RoomState, statuses: dict[int, int]) -> None:
        """Tell the senders of the messages a cursor move covers that `user` has them (their ticks).

        Only senders are told, one frame per (sender, user) per batch: a member's ack is news to the people
        whose messages it covers and to no one else, so a busy room costs O(senders), not O(members^2).
        """
        if len(state.members) > self.settings.status_max_members and \
                len(state.current_members()) > self.settings.status_max_members:
            return
        oldest = next(iter(self._senders), 0)
        for user, seq in statuses.items():
            before = self._reported.get(user, 0)
            if seq <= before:
                continue
            self._reported[user] = seq
            covered = (self._senders.get(s) for s in range(max(before + 1, oldest), seq + 1))
            frame = Status(room=self.room_id, user=user, delivered_seq=seq)
            for sender in {s for s in covered if s is not None and s != user}:
                member = state.members.get(sender)
                if member is not None and member.current and self.users.is_online(sender):
                    self.users.offer(sender, Push(frame))
