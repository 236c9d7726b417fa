"""Fault suite, encrypted: zero "unable to decrypt" for current members, nothing readable for a removed one.

An encrypted group chats while its devices go offline and come back, a member is removed and another
added, one member signs in a new device (restored from the key backup) and the server is killed with
SIGKILL and started again. Afterwards every device of a current member reads every message sent while it
was in the room (from the server's history, each decrypted with the device's own keys), and the removed
member reads nothing sent after the removal.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import trio

from chatd.clients.sdk import Chat
from chatd.clients.sdk.link import REQUEST_ERRORS
from chatd.protocol import frames as f
from tests.conftest import Backing
from tests.faults.services import ChatdProcess
from tests.test_e2ee_chat import sign_in_encrypted

SETTLE = 40.0  # seconds for late keys to arrive after the load stops (the SDK asks backup and devices at 2 s)


@contextlib.asynccontextmanager
async def member(server: ChatdProcess, path: Path, username: str, signup: bool) -> AsyncIterator[Chat]:
    async with Chat.open(server.url, path) as chat:
        await sign_in_encrypted(chat, username, signup=signup)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_drain_events, chat)
            yield chat
            nursery.cancel_scope.cancel()


async def _drain_events(chat: Chat) -> None:
    async for _ in chat.events():  # hands messages over (and so acks them) and lets late keys be processed
        pass


Sent = list[tuple[str, int, float]]  # body, seq, when its send started


async def say(chat: Chat, room: int, count: int, tag: str, sent: Sent) -> None:
    """Send `count` messages, each retried by the SDK until stored (a kill in between is survived)."""
    for i in range(count):
        body, started = f"{tag} {i} {uuid.uuid4().hex}", trio.current_time()
        sent.append((body, (await chat.send(room, body)).seq, started))
        await trio.sleep(0.02)


async def whole_history(chat: Chat, room: int) -> list[f.Message]:
    """Every message of `room` as the server keeps it (read by a member who was there throughout)."""
    out: list[f.Message] = []
    before: int | None = None
    while True:
        page: f.HistoryPage = await chat.link.call(f.History, idempotent=True, room=room, before_seq=before, limit=100)
        out[:0] = page.messages
        if not page.has_more or not page.messages:
            return out
        before = page.messages[0].seq


async def readable(reader: Chat, messages: list[f.Message]) -> dict[int, str]:
    """seq -> body of the encrypted messages `reader` can decrypt with its own keys."""
    out = {}
    for m in messages:
        if m.kind == "encrypted" and (found := await reader.decrypt(m)) is not None:
            out[m.seq] = found.content["body"]
    return out


def event_seq(messages: list[f.Message], kind: str, user: int | None) -> int:
    return next(m.seq for m in messages if m.event and m.event.get("type") == kind and m.event.get("user") == user)


async def test_encrypted_group_through_churn_and_sigkill_has_no_undecryptable_message(
        nursery: trio.Nursery, backing: Backing, tmp_path: Path) -> None:
    server = ChatdProcess(backing, tmp_path)
    await server.start()
    names = {who: f"{who}_{uuid.uuid4().hex[:8]}" for who in ("ann", "bob", "cy", "dan")}
    sent: Sent = []
    try:
        async with member(server, tmp_path / "ann.db", names["ann"], True) as ann, \
                member(server, tmp_path / "bob.db", names["bob"], True) as bob, \
                member(server, tmp_path / "cy.db", names["cy"], True) as cy, \
                member(server, tmp_path / "dan.db", names["dan"], True) as dan:
            recovery = await bob.create_key_backup()
            room = (await ann.create_group("ops", [names["bob"], names["cy"]], encrypted=True)).room
            await say(ann, room, 5, "warm-up", sent)

            bob.disconnect()  # bob offline: his keys and messages wait on the server
            await say(ann, room, 5, "while bob is away", sent)
            await say(cy, room, 5, "cy while bob is away", sent)
            await bob.resume()

            async with trio.open_nursery() as load:
                load.start_soon(say, ann, room, 15, "ann under load", sent)
                load.start_soon(say, bob, room, 15, "bob under load", sent)
                await trio.sleep(0.3)
                await ann.link.call(f.RemoveMember, idempotent=False, room=room, user=cy.user_id)
                await ann.link.call(f.AddMembers, idempotent=False, room=room, users=[dan.user_id])
                await server.kill9()  # mid-run: the SDK retries every send with its client id
                await trio.sleep(0.5)
                await server.start()
            async with member(server, tmp_path / "bob-laptop.db", names["bob"], False) as laptop:
                await laptop.restore_key_backup(recovery)
                await say(dan, room, 5, "dan after joining", sent)
                await say(bob, room, 5, "bob after the new laptop", sent)
                last = max(seq for _, seq, _ in sent)

                history = [m for m in await whole_history(ann, room) if m.seq <= last]
                with trio.move_on_after(SETTLE):  # late keys: to-device stream, backup, own devices
                    while True:
                        views = {who: await readable(chat, history)
                                 for who, chat in (("ann", ann), ("bob", bob), ("laptop", laptop), ("dan", dan))}
                        if all(len(views[who]) >= len(sent) for who in ("ann", "bob", "laptop")):
                            break
                        await trio.sleep(1)
                cy_view = await readable(cy, history)  # with her own keys, on what the others were sent

        bodies = {seq: body for body, seq, _ in sent}
        assert len(bodies) == len(sent), "every send was stored once"
        for who in ("ann", "bob", "laptop"):
            missing = sorted(set(bodies) - set(views[who]))
            assert missing == [], f"{who} could not decrypt seqs {missing}"
            assert all(views[who][s] == bodies[s] for s in bodies)
        # the server refuses an encrypted send shared for an older member list (members_seq): exact bounds
        removed = event_seq(history, "member_removed", cy.user_id)
        added = event_seq(history, "member_added", dan.user_id)
        dan_owed = {seq for seq in bodies if seq > added}
        assert dan_owed and dan_owed <= set(views["dan"]), f"dan missed {sorted(dan_owed - set(views['dan']))}"
        before_removal = {seq for seq in bodies if seq < removed}
        assert before_removal <= set(cy_view), "cy read what was sent while she was a member"
        after_removal = {seq for seq in bodies if seq > removed}
        assert after_removal and not after_removal & set(cy_view), "a removed member read what came after"
        assert server.starts == 2
    finally:
        with contextlib.suppress(*REQUEST_ERRORS, OSError):
            await server.stop()
