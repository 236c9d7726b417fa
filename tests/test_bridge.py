"""persistence/bridge.py: asyncio calls from trio on the loop thread, with results, errors and cancellation."""

from __future__ import annotations

import asyncio
import threading

import pytest
import trio

from chatd.persistence.bridge import loop_thread


async def test_a_call_runs_on_the_loop_thread_and_returns_its_result() -> None:
    async def where(x: int) -> tuple[str, int]:
        await asyncio.sleep(0)
        return threading.current_thread().name, x * 2
    assert await loop_thread().call(where, 21) == ("chatd-asyncio", 42)


async def test_an_error_on_the_loop_reaches_the_caller() -> None:
    async def fails() -> None:
        raise LookupError("not there")
    with pytest.raises(LookupError, match="not there"):
        await loop_thread().call(fails)


async def test_a_call_that_cannot_start_raises_instead_of_hanging() -> None:
    def not_a_coroutine() -> int:
        return 1
    with trio.fail_after(5), pytest.raises(TypeError):
        await loop_thread().call(not_a_coroutine)  # type: ignore[arg-type]


async def test_cancelling_the_caller_cancels_the_asyncio_task_and_waits_for_its_cleanup() -> None:
    steps: list[str] = []

    async def slow() -> None:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            await asyncio.sleep(0.05)  # cleanup that itself waits (a pooled connection going back)
            steps.append("cleaned up")
            raise ConnectionError("the library turned the cancel into its own error") from None
    with trio.move_on_after(0.1) as scope:
        await loop_thread().call(slow)
    assert scope.cancelled_caught  # trio.Cancelled, whatever the library raised
    assert steps == ["cleaned up"]  # and the asyncio side had finished before the caller went on


async def test_many_concurrent_calls_each_get_their_own_result() -> None:
    async def echo(i: int) -> int:
        await asyncio.sleep(0.001 * (i % 5))
        return i
    results: dict[int, int] = {}

    async def one(i: int) -> None:
        results[i] = await loop_thread().call(echo, i)
    async with trio.open_nursery() as n:
        for i in range(200):
            n.start_soon(one, i)
    assert results == {i: i for i in range(200)}
