"""The reply handle (actors/reply.py): every request is answered exactly once, also when its actor crashes."""

from __future__ import annotations

import uuid
from typing import cast

import pytest
import trio
import trio.testing

from chatd.actors.device import Device
from chatd.actors.items import Crash, RoomItem, SendText, TypingNow
from chatd.actors.mailbox import Mailbox
from chatd.actors.reply import AlreadyAnswered, Reply, fail_open, refuse_once
from chatd.actors.room import Committer, RoomActor, RoomSettings, UserRouter
from chatd.node import Node
from chatd.persistence.store import Store
from chatd.protocol import frames as f
from chatd.protocol.errors import ErrorCode, Refusal
from tests.conftest import People


def device() -> tuple[Device, trio.MemoryReceiveChannel[f.Frame]]:
    send, receive = trio.open_memory_channel[f.Frame](16)
    return Device(7, send), receive


def queued(outbox: trio.MemoryReceiveChannel[f.Frame]) -> list[f.Frame]:
    frames = []
    while True:
        try:
            frames.append(outbox.receive_nowait())
        except trio.WouldBlock:
            return frames


def test_a_reply_is_answered_exactly_once() -> None:
    dev, outbox = device()
    reply = Reply(dev, 3)
    reply.send(f.Ok(id=3))
    assert reply.answered
    with pytest.raises(AlreadyAnswered):
        reply.send(f.Ok(id=3))
    with pytest.raises(AlreadyAnswered):
        reply.refuse(Refusal(ErrorCode.CONFLICT, "again"))
    assert not reply.fail(Refusal(ErrorCode.RETRY, "crashed"))  # a crash after the answer adds nothing
    assert queued(outbox) == [f.Ok(id=3)]


def test_a_refusal_is_an_error_frame_echoing_the_request_id() -> None:
    dev, outbox = device()
    Reply(dev, 9).refuse(Refusal(ErrorCode.RATE_LIMITED, "slow down", retry_after=1.5))
    refuse_once(dev, Refusal(ErrorCode.BAD_REQUEST, "send: body: too long", 4))  # the codec's, with its id
    assert queued(outbox) == [f.Error(code="rate_limited", message="slow down", id=9, retry_after=1.5),
                              f.Error(code="bad_request", message="send: body: too long", id=4)]


def test_failing_a_batch_answers_only_what_is_still_open() -> None:
    dev, outbox = device()
    replies = [Reply(dev, i) for i in range(3)]
    replies[1].send(f.Ok(id=1))
    assert fail_open(replies, Refusal(ErrorCode.RETRY, "the room restarted", retry_after=1.0)) == 2
    assert all(r.answered for r in replies)
    assert [(fr.type, getattr(fr, "id", None)) for fr in queued(outbox)] == [("ok", 1), ("error", 0), ("error", 2)]


def test_refusals_are_values_too() -> None:
    """The commit planner and the codec return them: equal when code, message, id and retry_after are."""
    assert Refusal("not_found", "gone") == Refusal(ErrorCode.NOT_FOUND, "gone")
    assert Refusal(ErrorCode.NOT_FOUND, "gone", 1) != Refusal(ErrorCode.NOT_FOUND, "gone", 2)
    with pytest.raises(ValueError):
        Refusal("no_such_code", "a code the protocol does not have")


async def test_a_room_that_crashes_answers_the_requests_of_its_batch(people: People, node: Node) -> None:
    (ann, ac), (bob, _) = await people.new("ann"), await people.new("bob")
    room = (await ac.call(f.CreateGroup, name="crashy", members=[bob.user_id])).room.room
    await ac.send_text(room, "the room actor is running")
    send, replies = trio.open_memory_channel[f.Frame](16)
    dev = Device(ann.user_id, send)
    assert node.services is not None
    rooms = node.services.rooms
    first, second = Reply(dev, 1), Reply(dev, 2)
    # offered with no checkpoint in between: the room actor takes all three in one batch, and crashes
    assert rooms.tell(room, SendText(first, str(uuid.uuid4()), "before the crash"))
    assert rooms.tell(room, Crash("injected by the test"))
    assert rooms.tell(room, SendText(second, str(uuid.uuid4()), "after the crash"))
    with trio.fail_after(5):
        answers = [await replies.receive(), await replies.receive()]
    assert first.answered and second.answered
    errors = [a for a in answers if isinstance(a, f.Error)]
    assert [(e.id, e.code) for e in errors] == [(1, "retry"), (2, "retry")] and all(e.retry_after for e in errors)
    # the restarted room serves the next request
    assert (await ac.send_text(room, "after the restart")).seq > 0


def test_a_request_a_room_batch_leaves_unanswered_is_answered_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    """A bug that drops a request still gets its client an answer (`internal`), and says so in the log."""
    dev, outbox = device()
    answered, dropped = Reply(dev, 1), Reply(dev, 2)
    answered.send(f.Ok(id=1))
    room = RoomActor(5, Mailbox[RoomItem](4), cast(Store, None), cast(Committer, None), cast(UserRouter, None),
                     RoomSettings(), lambda: None)
    room._answer_dropped([SendText(answered, "a", "kept"), TypingNow(dev, True), SendText(dropped, "b", "lost")])
    frames = queued(outbox)
    assert [getattr(fr, "id", None) for fr in frames] == [1, 2]
    assert isinstance(frames[1], f.Error) and frames[1].code == "internal"
    assert "left unanswered" in caplog.text


class _StuckStore:
    """A store whose room never loads: the room actor is inside its batch when the test cancels it."""

    async def load_room(self, *args: object) -> None:
        await trio.sleep_forever()


async def test_a_room_cancelled_mid_batch_answers_its_batch_and_its_queue() -> None:
    """The node stops (or the room's supervisor gives up) while a batch is in hand and more is queued: every
    request still hears back (`retry`), none is left without an answer while its socket stays open."""
    dev, outbox = device()
    mailbox = Mailbox[RoomItem](8)
    replies = [Reply(dev, i) for i in (1, 2, 3)]
    room = RoomActor(5, mailbox, cast(Store, _StuckStore()), cast(Committer, None), cast(UserRouter, None),
                     RoomSettings(), lambda: None)
    async with trio.open_nursery() as nursery:
        for reply in replies[:2]:
            assert mailbox.offer(SendText(reply, str(uuid.uuid4()), "in the batch"))
        nursery.start_soon(room.run)
        await trio.testing.wait_all_tasks_blocked()
        assert mailbox.offer(SendText(replies[2], str(uuid.uuid4()), "queued behind it"))
        nursery.cancel_scope.cancel()
    frames = queued(outbox)
    assert sorted((fr.id, fr.code) for fr in frames if isinstance(fr, f.Error)) == [(1, "retry"), (2, "retry"),
                                                                                   (3, "retry")]
    assert all(r.answered for r in replies)
