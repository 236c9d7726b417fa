"""What a node looks like from outside: its connections, actors and trio tasks, to prove nothing leaked."""

from __future__ import annotations

from collections.abc import Iterator

import trio

from chatd.node import Node
from tests.conftest import RunningNode
from tests.faults.load import wait_until


def all_tasks() -> Iterator[trio.lowlevel.Task]:
    """Every trio task of the run."""
    root = trio.lowlevel.current_root_task()
    assert root is not None
    stack = [root]
    while stack:
        task = stack.pop()
        yield task
        for nursery in task.child_nurseries:
            stack.extend(nursery.child_tasks)


class Watched:
    """A node, and what it looked like before the test did anything to it."""

    def __init__(self, running: RunningNode) -> None:
        self.running = running
        self.node: Node = running.node
        self.rebase()

    def rebase(self) -> None:
        """What the node looks like now is the baseline."""
        self.tasks = sum(1 for _ in all_tasks())

    @property
    def port(self) -> int:
        assert self.node.gateway is not None and self.node.gateway.port is not None
        return self.node.gateway.port

    def connections(self) -> int:
        assert self.node.gateway is not None
        return self.node.gateway.connections

    async def no_more_tasks(self) -> None:
        await wait_until(lambda: sum(1 for _ in all_tasks()) <= self.tasks, 10, "as many trio tasks as before")

    async def settled(self) -> None:
        """No connection, no actor and no extra trio task remain (idle actors linger briefly)."""
        services = self.node.services
        assert services is not None
        await wait_until(lambda: self.connections() == 0, 10, "every connection is gone")
        await wait_until(lambda: services.users.count() == services.rooms.count() == 0, 10,
                         "every user and room actor stopped")
        await self.no_more_tasks()
        assert not [e for e in services.users.supervisor.events if e.kind == "restarted"]
        assert not [e for e in services.rooms.supervisor.events if e.kind == "restarted"]
