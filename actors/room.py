"""RoomActor: the single orderer of one room. Admits requests, has them committed (gap-free seq), fans out.

Loop: take what is waiting in the mailbox (up to `batch_limit`), check every request against the room's
membership, hand all accepted ones to the node's CommitWriter (actors/commits.py), which stores them in one
transaction together with what other rooms have ready, reply `sent` / `ok` to the requesting devices only
after commit, then offer the committed messages to each online member's UserActor without waiting.
Every request carries its reply handle (actors/reply.py) and is answered exactly once: a failing database
gets every request of the batch a `retry` error and the actor keeps running; any other exception is a
crash: the batch's open replies get `retry` errors and the supervisor restarts the actor, which reloads its
state from Postgres and goes on with the same mailbox (nothing queued is lost). A request a batch leaves
unanswered is a bug: it is logged and answered `internal` (`_answer_dropped`), never left in silence.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Protocol

import trio

from chatd.actors.bus import BusSink, NullBus
from chatd.actors.items import (
    Committed,
    CursorMoved,
    Deliver,
    JoinByInvite,
    LookUpReceipts,
    MembershipChanged,
    RemoteCommitted,
    RemoteTyping,
    Request,
    RoomItem,
    RoomRequest,
    SendText,
    ToDevices,
    TypingNow,
)
from chatd.actors.mailbox import Mailbox
from chatd.actors.receipts import Move, Receipts
from chatd.actors.remote import remote_news
from chatd.actors.reply import fail_open, refuse_once
from chatd.actors.rules import admit, no_such_room, not_a_member
from chatd.actors.typing import TypingState
from chatd.persistence.errors import StaleRoom, StoreUnavailable
from chatd.persistence.records import Appended, AppendItem, InviteJoin, MemberChange, RoomState, RoomUpdate
from chatd.persistence.store import Store
from chatd.protocol.errors import ErrorCode, Refusal
from chatd.protocol.frames import Message, Ok, RoomReceipts, Sent, TypingChanged
from chatd.protocol.history import readable, redacted

log = logging.getLogger("chatd.room")

STATUS_WINDOW = 1024  # the senders of this many recent messages get delivery status for them
CATCH_UP_LIMIT = 500  # other processes' messages fetched before fanning out our own (more: members sync)


class Committer(Protocol):
    async def commit(self, room_id: int, items: list[AppendItem], expected_last_seq: int | None, /
                     ) -> list[Appended]: ...


class UserRouter(Protocol):
    def offer(self, key: int, item: Deliver | MembershipChanged | ToDevices, /) -> bool: ...
    def is_online(self, key: int, /) -> bool: ...


@dataclass(frozen=True, slots=True)
class RoomSettings:
    batch_limit: int = 100
    idle_seconds: float = 300.0
    status_max_members: int = 100  # per-recipient delivery status up to this room size
    typing_seconds: float = 6.0  # typing stops by itself this long after the last `typing` frame
    retry_after: float = 1.0


class RoomActor:
    def __init__(self, room_id: int, mailbox: Mailbox[RoomItem], store: Store, commits: Committer,
                 users: UserRouter, settings: RoomSettings, forget: Callable[[], None],
                 bus: BusSink | None = None) -> None:
        self.room_id = room_id
        self.mailbox = mailbox
        self.store = store
        self.commits = commits
        self.users = users
        self.bus = bus or NullBus()
        self.settings = settings
        self._forget = forget
        self.state: RoomState | None = None
        self._missing = False  # the room does not exist: stop after answering
        self.receipts = Receipts(room_id, settings.status_max_members, STATUS_WINDOW)
        self.typing = TypingState(settings.typing_seconds)
        self._caught_up: set[int] = set()  # seqs of other processes fanned out before their news came

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        self.state = None  # (re)started: state comes from Postgres, lazily, on the first request
        self.receipts = Receipts(self.room_id, self.settings.status_max_members, STATUS_WINDOW)
        self.typing = TypingState(self.settings.typing_seconds)
        task_status.started()
        idle_since = trio.current_time()
        while True:
            deadline = min(idle_since + self.settings.idle_seconds, self.typing.next_expiry())
            batch = await self.mailbox.next_batch(self.settings.batch_limit, deadline)
            now = trio.current_time()
            try:
                stopped = self.typing.expire(now)
                if stopped and await self._loaded([]) is not None:  # a failed commit may have dropped the state
                    for user in stopped:
                        self._tell_typing(user, False)
                if not batch:
                    # (a request may have come in while the state loaded: then the room is not idle)
                    if now >= idle_since + self.settings.idle_seconds and not self.typing.until \
                            and not self.mailbox.depth():
                        self._stop()
                        return
                    continue
                idle_since = now
                await self.handle(batch)
            except Exception:  # a crash: the restarted actor takes what is still queued
                self._fail_requests(batch, "the room restarted while handling this request")
                raise
            except BaseException:  # cancelled (the node stops, or its supervisor gave up): the queue goes too
                self._fail_requests([*batch, *self.mailbox.take_nowait()], "the room stopped, try again")
                raise
            self._answer_dropped(batch)
            if self._missing:
                self._stop()
                return

    def stats(self) -> dict[str, int | None]:
        """For the admin console: the room's committed seq (None until its state is loaded) and members."""
        state = self.state
        return {"last_seq": state.last_seq if state else None,
                "members": sum(1 for m in state.members.values() if m.current) if state else None}

    def _stop(self) -> None:
        """Leave the directory and close the mailbox, with no checkpoint in between.

        Idle rooms stop with an empty mailbox; a room that does not exist answers what is still queued.
        """
        self._forget()
        if self._missing:
            self._not_found(self.mailbox.take_nowait())
        self.mailbox.close()

    def _fail_requests(self, batch: Sequence[RoomItem], why: str) -> None:
        """`retry` for every request of the batch that has no reply yet (a crash after commit sent some)."""
        fail_open((i.reply for i in batch if isinstance(i, Request)),
                  Refusal(ErrorCode.RETRY, why, retry_after=self.settings.retry_after))

    def _answer_dropped(self, batch: list[RoomItem]) -> None:
        """A request the batch left unanswered is a bug here: say so loudly, and answer it."""
        dropped = fail_open((i.reply for i in batch if isinstance(i, Request)),
                            Refusal(ErrorCode.INTERNAL, "the room dropped this request without answering it"))
        if dropped:
            log.error("room %s: %d requests of a batch were left unanswered", self.room_id, dropped)

    def _not_found(self, items: list[RoomItem]) -> None:
        for item in items:
            if isinstance(item, Request):
                item.reply.fail(Refusal(ErrorCode.NOT_FOUND, no_such_room(self.room_id)))
            elif isinstance(item, TypingNow):
                refuse_once(item.device, Refusal(ErrorCode.NOT_FOUND, f"typing: {no_such_room(self.room_id)}"))

    async def _loaded(self, batch: list[RoomItem]) -> RoomState | None:
        """The room's state, loaded from Postgres if needed; None (batch answered) if that cannot be."""
        if self.state is None:
            try:
                self.state = await self.store.load_room(self.room_id, STATUS_WINDOW)
            except StoreUnavailable:
                self._fail_requests(batch, "database unavailable, retry later")
                return None
            if self.state is None:
                self._missing = True
                self._not_found(batch)
                return None
            self.receipts.load(self.state.recent_senders, self.state.cursors)
        return self.state

    async def handle(self, batch: list[RoomItem]) -> None:
        state = await self._loaded(batch)
        if state is None:
            return
        remote = [m for item in batch if isinstance(item, RemoteCommitted) for m in item.messages]
        if remote:
            await self._take_remote(state, remote)
            state = await self._loaded(batch)  # reloaded if the news made it stale
            if state is None:
                return
        accepted: list[tuple[RoomRequest, list[AppendItem]]] = []
        moves: dict[int, Move] = {}
        for item in batch:
            if isinstance(item, RemoteCommitted):
                continue
            if isinstance(item, RemoteTyping):
                self._on_remote_typing(state, item)
                continue
            if isinstance(item, CursorMoved):
                member = state.members.get(item.user)
                if member is None:  # an ack from a client that was never a member here
                    continue
                end = member.left_seq if member.left_seq is not None else state.last_seq  # (an ack riding
                if item.delivered_seq is not None and item.delivered_seq > end:  # with a leave comes after it)
                    item = replace(item, delivered_seq=end)  # a client acking past what it is owed
                m = moves.get(item.user, Move())
                moves[item.user] = Move(_max(m.delivered, item.delivered_seq), _max(m.read, item.read_seq),
                                        item.quiet)
                continue
            if isinstance(item, TypingNow):
                self._on_typing(state, item)
                continue
            if isinstance(item, LookUpReceipts):
                self._tell_receipts(state, item)
                continue
            if not isinstance(item, Request):
                raise RuntimeError(getattr(item, "reason", f"unexpected mailbox item {item!r}"))
            try:
                accepted.append((item, admit(state, item)))
            except Refusal as refusal:
                item.reply.refuse(refusal)
                continue
            if isinstance(item, JoinByInvite):
                # The link is checked only in the commit: nothing later in the batch may count on the
                # optimistic membership, so the join is stored (or refused) before the next request.
                await self._commit(state, accepted)
                accepted = []
                reloaded = await self._loaded(batch)
                if reloaded is None:
                    return
                state = reloaded
        if accepted:
            await self._commit(state, accepted)
        if moves:
            self._fan_out_receipts(state, moves)

    # ------------------------------------------------------------------ commit and fan-out

    async def _commit(self, state: RoomState, accepted: list[tuple[RoomRequest, list[AppendItem]]],
                      attempt: int = 1) -> None:
        flat = [append for _, appends in accepted for append in appends]
        seen = state.last_seq
        try:
            results = await self.commits.commit(self.room_id, flat, state.last_seq)
        except StaleRoom:
            await self._readmit([req for req, _ in accepted], attempt)
            return
        except Refusal as refusal:  # the room is gone from Postgres
            self.state = None
            fail_open((req.reply for req, _ in accepted), refusal)
            return
        except StoreUnavailable as exc:
            log.warning("room %s: commit failed, %d requests get retry: %s", self.room_id, len(flat), exc)
            self.state = None  # optimistic membership edits are void: reload on the next request
            self._fail_requests([req for req, _ in accepted], "database unavailable, retry later")
            return
        except Exception:
            # Not an outage: something in this batch makes the database refuse it. Crashing would restart
            # the room into the same batch (clients retry), so find the request that does it instead.
            log.exception("room %s: commit of %d requests refused by the database", self.room_id, len(accepted))
            self.state = None
            if len(accepted) == 1:
                accepted[0][0].reply.refuse(Refusal(ErrorCode.INTERNAL, "the server could not store this request"))
            else:
                await self._one_by_one([req for req, _ in accepted])
            return
        committed: list[Committed] = []
        changed: set[int] = set()
        reload = False
        it = iter(results)
        for request, appends in accepted:
            for append in appends:
                result = next(it)
                msg = result.message
                if result.refusal is not None:
                    request.reply.fail(result.refusal)  # the first refusal of a request's items answers it
                    if isinstance(append, InviteJoin):
                        reload = True  # the optimistic join is void
                    continue
                if msg is None:  # it holds already: nothing stored, the request gets its `ok`
                    continue
                if isinstance(request, SendText):
                    if not result.duplicate:
                        self.receipts.remember(msg.seq, request.device.user_id)
                        if self.typing.stop(request.device.user_id):  # sending ends typing
                            self._tell_typing(request.device.user_id, False)
                    request.reply.send(Sent(id=request.req_id, room=self.room_id, seq=msg.seq, ts=msg.ts,
                                            client_id=msg.client_id or request.client_id,
                                            duplicate=result.duplicate))
                    if result.duplicate:
                        continue
                elif isinstance(append, MemberChange):
                    self._settle(state, append, msg.seq)
                    changed.add(append.user)
                elif isinstance(append, InviteJoin):
                    state.members[append.user].joined_seq = msg.seq
                    changed.add(append.user)
                elif isinstance(append, RoomUpdate) and "history_visibility" in append.changes:
                    state.visibility.append((msg.seq, append.changes["history_visibility"]))
                state.last_seq = max(state.last_seq, msg.seq)
                committed.append(Committed(msg, request.device.id if isinstance(request, SendText) else None))
            if not isinstance(request, SendText) and not request.reply.answered:
                request.reply.send(Ok(id=request.req_id))
        if committed and committed[0].message.seq > seen + 1:
            await self._catch_up(state, seen, committed[0].message.seq)
        self._fan_out(state, committed, changed)
        if committed:
            self.bus.to_room(self.room_id, RemoteCommitted(tuple(c.message for c in committed)))
        if reload:
            self.state = None

    async def _readmit(self, requests: list[RoomRequest], attempt: int) -> None:
        """Another process changed the room under these requests: check them again on fresh state."""
        self.state = None
        state = await self._loaded(list(requests))
        if state is None:
            return
        if attempt >= 3:  # the room keeps changing under us: let the clients come back
            self._fail_requests(list(requests), "the room is changing, retry")
            return
        again = []
        for request in requests:
            try:
                again.append((request, admit(state, request)))
            except Refusal as refusal:
                request.reply.refuse(refusal)
        if again:
            await self._commit(state, again, attempt + 1)

    async def _catch_up(self, state: RoomState, seen: int, first_own: int) -> None:
        """Our commit got seqs after messages other processes stored that we have not heard of yet (their
        news is on its way over the bus): fan those out first, from Postgres, so members here get the room
        in order instead of each syncing the gap. No membership or settings change is among them (the
        commit would have raised StaleRoom), only messages and events about them (edits, deletes,
        reactions), which `_fan_out` redacts per reader. When the news comes, it is dropped (`_caught_up`)."""
        try:
            missed = await self.store.messages_between(self.room_id, seen, first_own, CATCH_UP_LIMIT)
        except StoreUnavailable:
            return  # the members' user actors see the gap and sync it themselves
        self._caught_up.update(m.seq for m in missed)
        if len(self._caught_up) > 4 * CATCH_UP_LIMIT:  # news that never came (the bus dropped it)
            self._caught_up = {s for s in self._caught_up if s > first_own - CATCH_UP_LIMIT}
        self._remember_senders(missed)
        self._fan_out(state, [Committed(m) for m in missed], set())

    def _remember_senders(self, messages: list[Message]) -> None:
        for msg in messages:
            if msg.kind != "system" and msg.sender is not None:
                self.receipts.remember(msg.seq, msg.sender)
                if self.typing.stop(msg.sender):
                    self._tell_typing(msg.sender, False)

    async def _take_remote(self, state: RoomState, messages: list[Message]) -> None:
        """Fan out what other processes stored here (actors/remote.py), reloading the state first if stale."""
        if self._caught_up:
            dropped = {m.seq for m in messages} & self._caught_up
            self._caught_up -= dropped
            messages = [m for m in messages if m.seq not in dropped]
        news = remote_news(state.last_seq, messages)
        if news.stale:
            self.state = None
            fresh = await self._loaded([])
            if fresh is None:  # no database: the devices' gap checks fetch these later
                return
            state = fresh
        else:
            state.last_seq = news.last_seq
        self._remember_senders(news.messages)
        self._fan_out(state, [Committed(m) for m in news.messages], news.changed)

    async def _one_by_one(self, requests: list[RoomRequest]) -> None:
        for request in requests:
            state = await self._loaded(list(requests))
            if state is None:
                return
            try:
                appends = admit(state, request)
            except Refusal as refusal:
                request.reply.refuse(refusal)
                continue
            await self._commit(state, [(request, appends)])

    @staticmethod
    def _settle(state: RoomState, change: MemberChange, seq: int) -> None:
        """Replace the optimistic placeholder seq with the committed one."""
        member = state.members.get(change.user)
        if member is None:  # a ban or unban of someone who is not a member
            return
        if change.action == "added":
            member.joined_seq, member.left_seq = seq, None
        elif change.ends_membership:
            member.left_seq = seq

    def _fan_out(self, state: RoomState, committed: list[Committed], changed: set[int]) -> None:
        if not committed:
            return
        first, last = committed[0].message.seq, committed[-1].message.seq
        plain = all(c.message.kind != "system" for c in committed)
        everything = Deliver(self.room_id, tuple(committed))  # for members there all along (most of them)
        for uid, member in state.members.items():
            if (member.left_seq is not None and member.left_seq < first) or member.joined_seq > last:
                continue
            if not self.users.is_online(uid):
                continue
            if plain and member.joined_seq <= first and member.left_seq is None:
                self.users.offer(uid, everything)
            else:
                window = readable(state.visibility, member.joined_seq, member.left_seq or last)
                mine = tuple(c if c.message.kind != "system" else Committed(redacted(c.message, window), c.origin)
                             for c in committed if member.joined_seq <= c.message.seq
                             and (member.left_seq is None or c.message.seq <= member.left_seq))
                if mine:
                    self.users.offer(uid, Deliver(self.room_id, mine))
            if uid in changed:
                self.users.offer(uid, MembershipChanged(self.room_id))

    def _on_typing(self, state: RoomState, item: TypingNow) -> None:
        user = item.device.user_id
        member = state.members.get(user)
        if member is None or not member.current:
            refuse_once(item.device, Refusal(ErrorCode.FORBIDDEN, f"typing: {not_a_member(self.room_id)}"))
            return
        self.bus.to_room(self.room_id, RemoteTyping(user, item.active))  # every one: it renews the expiry there
        self._typing(user, item.active)

    def _on_remote_typing(self, state: RoomState, item: RemoteTyping) -> None:
        member = state.members.get(item.user)
        if member is not None and member.current:
            self._typing(item.user, item.active)

    def _typing(self, user: int, active: bool) -> None:
        news = self.typing.start(user, trio.current_time()) if active else self.typing.stop(user)
        if news:
            self._tell_typing(user, active)

    def _tell_typing(self, user: int, active: bool) -> None:
        """Send typing_changed to the other online current members (never stored, never waited on)."""
        if self.state is None:
            return
        frame = TypingChanged(room=self.room_id, user=user, active=active)
        for uid, member in self.state.members.items():
            if uid != user and member.current and self.users.is_online(uid):
                self.users.offer(uid, ToDevices(frame))

    def _tell_receipts(self, state: RoomState, item: LookUpReceipts) -> None:
        me = state.members.get(item.device.user_id)
        if me is None or not me.current:
            item.reply.refuse(Refusal(ErrorCode.FORBIDDEN, not_a_member(self.room_id)))
            return
        members = state.current_joins()
        cursors, counts = self.receipts.standing(item.device.user_id, members, item.private)
        item.reply.send(RoomReceipts(id=item.req_id, room=self.room_id, others=len(members) - 1,
                                     members=cursors, counts=counts))

    def _fan_out_receipts(self, state: RoomState, moves: dict[int, Move]) -> None:
        """Tell the senders of the messages these cursor moves cover (actors/receipts.py)."""
        members = state.current_joins()
        for sender, frame in self.receipts.moved(members, moves):
            if self.users.is_online(sender):
                self.users.offer(sender, ToDevices(frame))


def _max(a: int | None, b: int | None) -> int | None:
    return b if a is None else a if b is None else max(a, b)
