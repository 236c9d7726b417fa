"""Scenarios more than one test file plays: the same user-visible promise checked on one node and on two."""

from __future__ import annotations

import trio

from chatd.clients.ws import ChatClient
from chatd.protocol import frames as f
from tests.conftest import People, Person

SENDERS = 10
PER_SENDER = 100


async def thousand_messages_into_one_room(senders: list[tuple[int, ChatClient]], listener: tuple[int, ChatClient]
                                          ) -> None:
    """SENDERS members send PER_SENDER messages each, all at once, into one new group; a listener only reads.

    `senders` and `listener` are (user id, connected client); the clients may be on different nodes.
    Checks what the users see: seq is gap-free with no duplicate, each sender's messages keep their
    order, and every member (the listener and each sender) got every message of the others, in seq order.
    """
    assert len(senders) == SENDERS
    owner_c = senders[0][1]
    rid = (await owner_c.call(f.CreateGroup, name="busy",
                              members=[user for user, _ in senders[1:]] + [listener[0]])).room.room
    for _, c in [*senders, listener]:
        await c.collect(rid, 1)  # the 'created' system message

    acked: dict[int, list[tuple[int, str]]] = {}
    received: dict[int, list[f.Message]] = {}
    total = SENDERS * PER_SENDER

    async def sender(index: int) -> None:
        c = senders[index][1]
        acked[index] = [((await c.send_text(rid, f"{index}:{k}")).seq, f"{index}:{k}") for k in range(PER_SENDER)]

    async def receiver(index: int, c: ChatClient, count: int) -> None:
        received[index] = await c.collect(rid, count, timeout=90)

    async with trio.open_nursery() as n:
        n.start_soon(receiver, -1, listener[1], total)
        for i, (_, c) in enumerate(senders):
            n.start_soon(receiver, i, c, total - PER_SENDER)
        for i in range(SENDERS):
            n.start_soon(sender, i)

    everything = list(range(2, total + 2))
    assert sorted(seq for pairs in acked.values() for seq, _ in pairs) == everything  # gap-free, no duplicate
    for pairs in acked.values():
        assert [s for s, _ in pairs] == sorted(s for s, _ in pairs)  # a sender's messages keep its order
    body_of = {seq: body for pairs in acked.values() for seq, body in pairs}
    assert [m.seq for m in received[-1]] == everything
    assert all(body_of[m.seq] == m.body for m in received[-1])
    for i in range(SENDERS):
        own = {s for s, _ in acked[i]}
        got, expected = [m.seq for m in received[i]], [s for s in everything if s not in own]
        assert got == expected, _difference(got, expected)


def _difference(got: list[int], expected: list[int]) -> str:
    first = next((k for k, (g, e) in enumerate(zip(got, expected, strict=False)) if g != e),
                 min(len(got), len(expected)))
    twice = sorted({s for s in got if got.count(s) > 1})[:10]
    return (f"{len(got)} received, {len(expected)} expected; first difference at {first}: "
            f"got {got[max(0, first - 3):first + 5]}, expected {expected[max(0, first - 3):first + 5]}; "
            f"missing {sorted(set(expected) - set(got))[:10]}, twice {twice}")


async def chatting_pair(people: People) -> tuple[Person, ChatClient, Person, ChatClient, int]:
    """ann and bob online in their direct room, its creation received and acked on both sides."""
    ann, ann_c = await people.new("ann")
    bob, bob_c = await people.new("bob")
    room = (await ann_c.call(f.OpenDirect, user=bob.user_id)).room.room
    await ann_c.collect(room, 1)
    await bob_c.collect(room, 1)
    return ann, ann_c, bob, bob_c, room
