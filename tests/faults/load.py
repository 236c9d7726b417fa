"""Load for the fault suite: users who keep chatting through crashes, and the checks that follow.

Each `LoadUser` behaves like a careful client: it sends its messages one after another, each with a
fixed client_id that it reuses on `retry` errors and after reconnecting (so a send whose reply was lost
is confirmed by its retry, never stored twice); it acks every `msgs` frame; when the connection drops it
reconnects with back-off and resumes from its cursors (the highest seq it has per room). It keeps a log
of what the server confirmed and what it received, so the test can check that log against Postgres.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import asyncpg
import trio
from trio_websocket import HandshakeError

from chatd.clients.ws import ChatClient, ChatError, Disconnected
from chatd.protocol import frames as f
from tests.conftest import People, Person, Server

MEMBERS = 5
PER_SENDER = 40


@dataclass
class Log:
    confirmed: dict[str, int] = field(default_factory=dict)  # client_id -> seq, from `sent`
    received: dict[int, list[int]] = field(default_factory=dict)  # room -> seqs in arrival order
    out_of_order: list[str] = field(default_factory=list)  # violations seen within one connection
    connections: int = 0
    retries: int = 0

    def have(self, room: int) -> set[int]:
        return set(self.received.get(room, ()))

    def duplicates(self, room: int) -> list[int]:
        seen: set[int] = set()
        return [s for s in self.received.get(room, ()) if s in seen or seen.add(s)]  # type: ignore[func-returns-value]


class LoadUser:
    def __init__(self, person: Person, url: Callable[[], str], nursery: trio.Nursery) -> None:
        self.person = person
        self.url = url
        self.nursery = nursery
        self.log = Log()
        self.outbox: list[tuple[int, str, str]] = []  # (room, client_id, body) not yet confirmed
        self.own: dict[int, set[int]] = {}  # room -> seqs this user sent (confirmed)
        self.stop = trio.Event()
        self.client: ChatClient | None = None

    def queue(self, room: int, bodies: list[str]) -> None:
        self.outbox.extend((room, str(uuid.uuid4()), body) for body in bodies)

    def cursors(self) -> dict[int, int]:
        """Per room, the end of the unbroken run of seqs held (a cursor promises everything up to it).

        Not the highest seq held: our own message's `sent` can arrive before an earlier message of someone
        else, and a cursor past that gap would tell the server to skip it.
        """
        out = {}
        for room in set(self.log.received) | set(self.own):
            held = self.log.have(room) | self.own.get(room, set())
            seq = min(held)
            while seq + 1 in held:
                seq += 1
            out[room] = seq
        return out

    def missing(self, room: int, last_seq: int) -> str:
        lacks = sorted(set(range(1, last_seq + 1)) - self.log.have(room) - self.own.get(room, set()))
        return f"{self.person.username} ({self.log.connections} connections): {lacks[:10]}{'...' if lacks else ''}"

    def complete(self, room: int, last_seq: int) -> bool:
        return (self.log.have(room) | self.own.get(room, set())) >= set(range(1, last_seq + 1))

    async def run(self) -> None:
        """Connect, chat, reconnect after every drop, until `stop` is set."""
        backoff = 0.05
        while not self.stop.is_set():
            try:
                client = await ChatClient.open_in(self.nursery, self.url())
            except (OSError, HandshakeError):
                await trio.sleep(backoff)
                backoff = min(backoff * 2, 0.5)
                continue
            backoff = 0.05
            self.client = client
            try:
                await client.hello(self.person.access_token, self.cursors())
                self.log.connections += 1
                async with trio.open_nursery() as n:
                    n.start_soon(self._receive, client, n.cancel_scope)
                    n.start_soon(self._send, client)
                    n.start_soon(self._until_stopped, client, n.cancel_scope)
            except* (Disconnected, ChatError, trio.TooSlowError):
                await trio.sleep(backoff)  # dropped, or refused while the server recovers: reconnect
            finally:
                self.client = None
                with trio.move_on_after(2):
                    await client.disconnect()

    async def _until_stopped(self, client: ChatClient, scope: trio.CancelScope) -> None:
        await self.stop.wait()
        scope.cancel()

    async def _receive(self, client: ChatClient, scope: trio.CancelScope) -> None:
        last: dict[int, int] = {}
        try:
            while True:
                frame = await client.next_push(timeout=3600)
                if not isinstance(frame, f.Msgs):
                    continue
                for m in frame.messages:
                    if m.seq <= last.get(m.room, 0):
                        self.log.out_of_order.append(f"room {m.room}: seq {m.seq} after {last[m.room]}")
                    last[m.room] = m.seq
                    self.log.received.setdefault(m.room, []).append(m.seq)
                await client.ack_frame(frame)
        finally:
            scope.cancel()  # the connection is gone: reconnect

    async def _send(self, client: ChatClient) -> None:
        while self.outbox:
            room, client_id, body = self.outbox[0]
            reply = await client.request(f.Send, timeout=15, room=room, client_id=client_id, body=body)
            if isinstance(reply, f.Error):
                assert reply.code == "retry", f"unexpected error for a send: {reply}"
                self.log.retries += 1
                await trio.sleep(min(reply.retry_after or 0.1, 0.1))  # short waits keep the test quick
                continue
            assert isinstance(reply, f.Sent) and reply.client_id == client_id
            self.log.confirmed[client_id] = reply.seq
            self.own.setdefault(room, set()).add(reply.seq)
            self.outbox.pop(0)
        await trio.sleep_forever()


async def wait_until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    with trio.move_on_after(timeout):
        while not predicate():  # noqa: ASYNC110 - polls the test's own bookkeeping, not a trio event
            await trio.sleep(0.05)
        return
    raise AssertionError(f"timed out after {timeout:g}s waiting until {what}")


async def drain(users: list[LoadUser], room: int, timeout: float = 30) -> int:
    """Wait until every message is confirmed and every user holds the room's whole history."""
    await wait_until(lambda: all(not u.outbox for u in users), timeout, "every send was confirmed")
    last = max(seq for u in users for seq in u.log.confirmed.values())
    try:
        await wait_until(lambda: all(u.complete(room, last) for u in users), timeout,
                         f"every user has seq 1..{last} of room {room}")
    except AssertionError as exc:
        raise AssertionError(f"{exc}; missing: {[u.missing(room, last) for u in users]}") from None
    return last


async def stored_messages(database_url: str, room: int) -> list[tuple[int, str | None]]:
    """(seq, client_id) of every stored message of `room`, read straight from Postgres."""
    async def read() -> list[tuple[int, str | None]]:
        con = await asyncpg.connect(database_url)
        try:
            rows = await con.fetch("SELECT seq, client_id FROM messages WHERE room_id = $1 ORDER BY seq", room)
        finally:
            await con.close()
        return [(r["seq"], str(r["client_id"]) if r["client_id"] else None) for r in rows]
    return await trio.to_thread.run_sync(asyncio.run, read())


async def verify(users: list[LoadUser], room: int, last: int, database_url: str) -> None:
    """The fault suite's verdict: Postgres and every client's log agree, with no loss, gap or duplicate."""
    stored = await stored_messages(database_url, room)
    assert [seq for seq, _ in stored] == list(range(1, last + 1)), "stored seqs are not gap-free"
    by_client_id = {cid: seq for seq, cid in stored if cid}
    assert len(by_client_id) == len([c for _, c in stored if c]), "a client_id was stored twice"
    for u in users:
        for client_id, seq in u.log.confirmed.items():
            assert by_client_id.get(client_id) == seq, f"confirmed {client_id} (seq {seq}) is not stored as such"
        assert u.log.out_of_order == [], u.log.out_of_order[:5]
        assert u.log.duplicates(room) == [], f"{u.person.username} received duplicates"
        assert u.complete(room, last)


async def group_under_load(nursery: trio.Nursery, server: Server, name: str,
                           url: Callable[[int], Callable[[], str]] | None = None) -> tuple[int, list[LoadUser]]:
    """A group of MEMBERS users, each queueing PER_SENDER messages; returns (room, users) not yet running.

    User i connects to `url(i)()` (asked again at each reconnect); by default to `server`.
    """
    people = People(nursery, server)
    persons = [await people.signup(f"{name}{i}") for i in range(MEMBERS)]
    owner = await people.connect(persons[0])
    room = (await owner.call(f.CreateGroup, name=name, members=[p.user_id for p in persons[1:]])).room.room
    await owner.disconnect()
    users = [LoadUser(p, url(i) if url else lambda: server.url, nursery) for i, p in enumerate(persons)]
    for i, user in enumerate(users):
        user.queue(room, [f"{name} {i}:{k}" for k in range(PER_SENDER)])
    return room, users


def confirmed(users: list[LoadUser]) -> int:
    return sum(len(u.log.confirmed) for u in users)
