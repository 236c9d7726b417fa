"""AdminContext: the parts of one node the admin console reads and acts on."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import trio

from chatd.actors.directory import RoomDirectory, UserDirectory
from chatd.gateway.server import Gateway
from chatd.persistence import Cache, Store
from chatd.supervisor import ChildInfo, Supervisor

NodeState = Literal["running", "draining", "drained"]  # a drain (admin/drain.py) moves it on, never back


@dataclass
class AdminContext:
    node_name: str
    root: Supervisor
    rooms: RoomDirectory
    users: UserDirectory
    gateway: Gateway
    store: Store
    cache: Cache
    started_at: float = field(default_factory=time.time)
    state: NodeState = "running"
    nursery: trio.Nursery | None = None  # the node's: background work of actions (drain, second sweeps)
    stop: Callable[[], None] = lambda: None  # ends the node (after a drain)

    def attach(self, nursery: trio.Nursery) -> None:
        """Called by the node once its tree runs: actions may start background tasks and stop the node.
        Late because the nursery exists only then; once, because a second node nursery would be a bug."""
        if self.nursery is not None:
            raise RuntimeError("the admin context is attached to a node already")
        self.nursery = nursery
        self.stop = nursery.cancel_scope.cancel

    def actor(self, kind: str, key: int) -> Any | None:
        """The running RoomActor / UserActor for `key`, or None."""
        directory = self.rooms if kind == "room" else self.users
        name = directory.child_name(key)
        info = directory.supervisor.child(name) if name else None
        return owner(info) if info else None


def owner(info: ChildInfo) -> Any | None:
    """The object whose bound `run` method a child spec runs (an actor, a directory, a service), if any."""
    return getattr(info.spec.run, "__self__", None)


def subtree(info: ChildInfo) -> Supervisor | None:
    """The supervisor a child runs, if it is one (itself, or a directory's or service's `supervisor`)."""
    obj = owner(info)
    if isinstance(obj, Supervisor):
        return obj
    sup = getattr(obj, "supervisor", None)
    return sup if isinstance(sup, Supervisor) else None
