"""The supervisor (supervisor/core.py): restart types, restart intensity, stop order and stop deadlines.

Every test runs on trio's autojump clock: sleeps take no real time, and `trio.current_time()` says when
things happened.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
import trio
import trio.testing

from chatd.supervisor import (
    ChildSpec,
    ChildState,
    Restart,
    RestartIntensityExceeded,
    StopOrder,
    Supervisor,
    SupervisorClosed,
    open_supervisor,
)

ChildFn = Callable[..., object]


def kinds(sup: Supervisor, child: str) -> list[str]:
    return [e.kind for e in sup.events if e.child == child]


def idle(name: str, log: list[str]) -> ChildSpec:
    """A child that runs until cancelled and notes when it stopped."""
    async def run(*, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        try:
            await trio.sleep_forever()
        finally:
            log.append(name)
    return ChildSpec(name, run)


async def test_children_stop_in_reverse_start_order(autojump_clock: trio.testing.MockClock) -> None:
    stopped: list[str] = []
    with trio.move_on_after(1):
        async with open_supervisor("root", [idle("first", stopped), idle("second", stopped), idle("third", stopped)]):
            pass
    assert stopped == ["third", "second", "first"]


async def test_a_child_may_rely_on_one_started_before_it_while_stopping(
        autojump_clock: trio.testing.MockClock) -> None:
    """The reason for the order: a user actor hands its last cursors to the writer as it stops."""
    send, receive = trio.open_memory_channel[str](0)  # unbuffered: a put waits for the writer to take it
    stored: list[str] = []

    async def writer(*, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        async for item in receive:
            stored.append(item)

    async def user(*, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        try:
            await trio.sleep_forever()
        finally:
            with trio.CancelScope(shield=True), trio.move_on_after(5):  # as bounded as a real one
                await send.send("last cursors")

    with trio.move_on_after(1):
        async with open_supervisor("root", [ChildSpec("writer", writer), ChildSpec("user", user)]):
            pass
    assert stored == ["last cursors"]


async def test_a_child_that_overstays_its_deadline_does_not_hold_up_the_others(
        autojump_clock: trio.testing.MockClock) -> None:
    stopped_at: dict[str, float] = {}

    async def slow(*, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        try:
            await trio.sleep_forever()
        finally:
            with trio.CancelScope(shield=True):
                await trio.sleep(10)  # cleanup far beyond its deadline of 1 s
            stopped_at["slow"] = trio.current_time()

    async def quick(*, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        try:
            await trio.sleep_forever()
        finally:
            stopped_at["quick"] = trio.current_time()

    sup = Supervisor("root")
    start = trio.current_time()
    with trio.move_on_after(1):
        async with sup.running([ChildSpec("quick", quick), ChildSpec("slow", slow, shutdown=1)]):
            pass
    assert stopped_at["quick"] - start == pytest.approx(2)  # cancelled at 1, stopped once slow's second ran out
    assert stopped_at["slow"] - start == pytest.approx(11)  # its own cleanup still ran to the end
    assert "stop_timeout" in kinds(sup, "slow") and "stop_timeout" not in kinds(sup, "quick")


async def test_a_dynamic_supervisor_stops_its_children_all_at_once(autojump_clock: trio.testing.MockClock) -> None:
    async def actor(*, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        try:
            await trio.sleep_forever()
        finally:
            with trio.CancelScope(shield=True):
                await trio.sleep(1)  # each takes a second to stop

    start = trio.current_time()
    with trio.move_on_after(1):
        async with open_supervisor("users", stop_order=StopOrder.TOGETHER) as sup:
            for n in range(50):
                sup.start_child_soon(ChildSpec(f"user:{n}", actor, Restart.TEMPORARY))
    assert trio.current_time() - start == pytest.approx(2)  # not 51


async def test_children_ignore_an_outside_cancel_until_their_turn(autojump_clock: trio.testing.MockClock) -> None:
    """The enclosing scope's cancel reaches the supervisor, which then stops its children one by one."""
    stopped: list[str] = []
    with trio.move_on_after(1):
        async with open_supervisor("root", [idle("a", stopped), idle("b", stopped)]) as sup:
            await trio.sleep(5)  # the body is cancelled at 1 s; the children are still running then
            pytest.fail("the body should have been cancelled")
    assert stopped == ["b", "a"] and sup.children() == []


async def test_stop_ends_the_block_normally(autojump_clock: trio.testing.MockClock) -> None:
    stopped: list[str] = []
    async with open_supervisor("root", [idle("a", stopped)]) as sup:
        sup.stop()
    assert stopped == ["a"]
    with pytest.raises(SupervisorClosed):
        sup.start_child_soon(idle("late", stopped))


def crashing(name: str, restart: Restart, *, normal: bool = False, after: float = 0.0,
             runs: list[float] | None = None) -> ChildSpec:
    """A child that becomes ready, then after `after` seconds ends: normally, or with an exception."""
    async def run(*, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        if runs is not None:
            runs.append(trio.current_time())
        await trio.sleep(after)
        if not normal:
            raise RuntimeError("boom")
    return ChildSpec(name, run, restart)


@pytest.mark.parametrize(("restart", "normal", "restarted"), [
    (Restart.PERMANENT, True, True), (Restart.PERMANENT, False, True),
    (Restart.TRANSIENT, True, False), (Restart.TRANSIENT, False, True),
    (Restart.TEMPORARY, True, False), (Restart.TEMPORARY, False, False),
])
async def test_restart_types(autojump_clock: trio.testing.MockClock, restart: Restart, normal: bool,
                             restarted: bool) -> None:
    runs: list[float] = []
    with trio.move_on_after(2.5):
        async with open_supervisor("root", [crashing("c", restart, normal=normal, after=1, runs=runs)],
                                   intensity=100) as sup:
            pass
    assert len(runs) == (3 if restarted else 1)  # at 0, 1 and 2 s
    assert ("restarted" in kinds(sup, "c")) == restarted
    exits = [e.reason or "" for e in sup.events if e.kind == "exited"]
    assert exits and all(r == "normal" if normal else r.startswith("RuntimeError: boom") for r in exits)


async def test_more_restarts_than_the_intensity_within_the_period_fail_the_supervisor(
        autojump_clock: trio.testing.MockClock) -> None:
    stopped: list[str] = []
    runs: list[float] = []
    sup = Supervisor("root", intensity=3, period=10)
    with trio.fail_after(30), pytest.RaisesGroup(RestartIntensityExceeded):
        async with sup.running([idle("sibling", stopped), crashing("c", Restart.PERMANENT, after=1, runs=runs)]):
            pass
    assert len(runs) == 4  # the first start and 3 restarts; the 4th crash is one too many
    assert kinds(sup, "c")[-1] == "escalated"
    assert stopped == ["sibling"]  # the others are stopped before the supervisor fails


async def test_restarts_spread_wider_than_the_period_are_tolerated(autojump_clock: trio.testing.MockClock) -> None:
    runs: list[float] = []
    with trio.move_on_after(57):  # a crash every 6 s: never more than 2 restarts within 10 s
        async with open_supervisor("root", [crashing("c", Restart.PERMANENT, after=6, runs=runs)],
                                   intensity=2, period=10):
            pass
    assert len(runs) == 10


async def test_the_parent_decides_when_a_child_supervisor_gives_up(autojump_clock: trio.testing.MockClock) -> None:
    """A supervisor that exceeds its intensity fails as a child of its parent, which restarts it afresh."""
    runs: list[float] = []
    sub = Supervisor("sub", intensity=1, period=10)
    with trio.move_on_after(9.5):
        async with open_supervisor("root", [ChildSpec("sub", lambda **kw: sub.run(
                [crashing("c", Restart.PERMANENT, after=1, runs=runs)], **kw))], intensity=100) as root:
            pass
    exits = [e for e in root.events if e.child == "sub" and e.kind == "exited"]
    assert exits and all("RestartIntensityExceeded" in (e.reason or "") for e in exits)
    assert "restarted" in kinds(root, "sub")
    assert len(runs) == 10  # each run of sub: 2 starts of c, 2 s; restarted by root at 2, 4, 6 and 8 s


async def test_a_failed_first_start_reaches_the_caller_and_leaves_no_child(
        autojump_clock: trio.testing.MockClock) -> None:
    async def broken(*, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        raise ValueError("no config")

    async with open_supervisor("root") as sup:
        with pytest.raises(ValueError, match="no config"):
            await sup.start_child(ChildSpec("broken", broken))
        assert sup.child("broken") is None and kinds(sup, "broken") == ["start_failed"]
        sup.stop()


async def test_child_states_from_start_to_stop(autojump_clock: trio.testing.MockClock) -> None:
    ready, release = trio.Event(), trio.Event()
    states: list[ChildState] = []

    async def run(*, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        await ready.wait()
        task_status.started()
        try:
            await trio.sleep_forever()
        finally:
            with trio.CancelScope(shield=True):
                await release.wait()

    async with open_supervisor("root") as sup:
        sup.start_child_soon(ChildSpec("c", run))
        await trio.sleep(1)
        info = sup.child("c")
        assert info is not None
        states.append(info.state)
        ready.set()
        await trio.sleep(1)
        states.append(info.state)
        sup.stop_child("c")
        await trio.sleep(1)
        states.append(info.state)  # its cleanup waits for `release`
        release.set()
        await trio.sleep(1)
        assert sup.child("c") is None and kinds(sup, "c") == ["started", "stopped"]
        sup.stop()
    assert states == [ChildState.STARTING, ChildState.RUNNING, ChildState.STOPPING]


async def test_no_child_starts_once_the_stop_has_begun(autojump_clock: trio.testing.MockClock) -> None:
    """A room telling a user actor while the node stops must not start one the stop would never see."""
    refused: list[BaseException] = []
    stopped: list[str] = []
    sup = Supervisor("users")

    async def last(*, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        try:
            await trio.sleep_forever()
        finally:
            try:
                sup.start_child_soon(idle("late", stopped))
            except SupervisorClosed as exc:
                refused.append(exc)

    with trio.move_on_after(1):
        async with sup.running([idle("first", stopped), ChildSpec("last", last)]):
            pass
    assert len(refused) == 1 and stopped == ["first"]
