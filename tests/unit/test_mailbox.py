"""The actor mailbox (actors/mailbox.py): bounded, a non-blocking offer with an overflow bell, batches,
and the idle wait a drain relies on."""

from __future__ import annotations

import pytest
import trio
import trio.testing

from chatd.actors.mailbox import Mailbox


def test_offer_drops_when_full_and_rings_the_bell_once() -> None:
    box = Mailbox[int](2)
    assert box.offer(1) and box.offer(2)
    assert not box.offer(3) and not box.offer(4)  # full: dropped
    assert box.depth() == 2
    assert box.overflowed() and not box.overflowed()  # the owner hears of the loss once
    assert box.take_nowait() == [1, 2]
    assert box.offer(5) and not box.overflowed()


def test_a_closed_mailbox_takes_nothing() -> None:
    box = Mailbox[int](2)
    box.close()
    assert not box.offer(1) and box.idle()


async def test_put_waits_for_room_and_fails_once_the_owner_has_stopped(
        autojump_clock: trio.testing.MockClock) -> None:
    box = Mailbox[str](1)
    await box.put("first")
    put_at: list[float] = []

    async def second() -> None:
        await box.put("second")
        put_at.append(trio.current_time())

    async with trio.open_nursery() as nursery:
        nursery.start_soon(second)
        await trio.sleep(3)
        assert not put_at  # still waiting: the mailbox is full
        assert await box.next_batch(1) == ["first"]
    assert put_at == [pytest.approx(3)]
    box.close()
    with pytest.raises(trio.BrokenResourceError):
        await box.put("late")


async def test_next_batch_takes_what_waits_up_to_the_limit(autojump_clock: trio.testing.MockClock) -> None:
    box = Mailbox[int](10)
    for n in range(5):
        box.offer(n)
    assert await box.next_batch(3) == [0, 1, 2]
    assert await box.next_batch(3) == [3, 4]
    assert box.handled == 5


async def test_next_batch_waits_for_an_item_or_its_deadline(autojump_clock: trio.testing.MockClock) -> None:
    box = Mailbox[int](10)
    start = trio.current_time()
    assert await box.next_batch(10, deadline=start + 2) == []
    assert trio.current_time() == pytest.approx(start + 2)
    async with trio.open_nursery() as nursery:
        async def later() -> None:
            await trio.sleep(1)
            box.offer(7)
            box.offer(8)
        nursery.start_soon(later)
        assert await box.next_batch(10) == [7, 8]  # the first item wakes it, the rest come along


async def test_until_idle_returns_when_the_owner_waits_for_work(autojump_clock: trio.testing.MockClock) -> None:
    box = Mailbox[int](10)
    for n in range(3):
        box.offer(n)
    handled: list[int] = []

    async def owner() -> None:
        while True:
            for item in await box.next_batch(1):
                await trio.sleep(1)  # one second of work per item
                handled.append(item)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(owner)
        with trio.fail_after(10):
            await box.until_idle()
        assert handled == [0, 1, 2] and trio.current_time() == pytest.approx(3)
        box.offer(3)
        assert not box.idle()
        with trio.fail_after(10):
            await box.until_idle()
        assert handled == [0, 1, 2, 3]
        nursery.cancel_scope.cancel()


async def test_until_idle_returns_when_the_mailbox_closes(autojump_clock: trio.testing.MockClock) -> None:
    box = Mailbox[int](10)
    box.offer(1)  # nobody takes it: only the close ends the wait
    async with trio.open_nursery() as nursery:
        async def close_later() -> None:
            await trio.sleep(2)
            box.close()
        nursery.start_soon(close_later)
        with trio.fail_after(10):
            await box.until_idle()
        assert trio.current_time() == pytest.approx(2)
