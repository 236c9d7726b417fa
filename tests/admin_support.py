"""Helpers of the admin console tests: make someone an admin (through chatctl's grant), call the admin API."""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import httpx
import trio

from chatd.console.grant import grant_admin
from chatd.node import Node
from chatd.runtime.config import Config
from tests.conftest import Backing, People, Person

T = TypeVar("T")


async def new_admin(people: People, backing: Backing) -> Person:
    person = await people.signup("admin")
    assert await trio.to_thread.run_sync(grant_admin, backing.database_url, person.username)
    return person


def http(base_url: str, token: str | None = None) -> httpx.AsyncClient:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    return httpx.AsyncClient(base_url=base_url, headers=headers, timeout=10)


def find(tree: dict[str, Any], name: str) -> dict[str, Any] | None:
    """The node named `name` anywhere in a status report's tree."""
    if tree["name"] == name:
        return tree
    for child in tree.get("children") or []:
        if (hit := find(child, name)) is not None:
            return hit
    return None


def actor(tree: dict[str, Any], kind: str, key: int) -> dict[str, Any] | None:
    """The actor of `kind` with id `key` in a report's tree."""
    for child in tree.get("children") or []:
        if child["kind"] == kind and child.get("id") == key:
            return child
        if (hit := actor(child, kind, key)) is not None:
            return hit
    return None


class NodeThread:
    """A node running in trio in a thread of its own, for tests whose own thread runs asyncio (Textual)."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.node: Node | None = None
        self._token: trio.lowlevel.TrioToken | None = None
        self._cancel: trio.CancelScope | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=trio.run, args=(self._main,), daemon=True)

    async def _main(self) -> None:
        with trio.CancelScope() as self._cancel:
            async with trio.open_nursery() as nursery:
                self.node = await nursery.start(Node(self.config).run)
                self._token = trio.lowlevel.current_trio_token()
                self._ready.set()

    def call(self, fn: Callable[[], Awaitable[T]]) -> T:
        """Run a trio coroutine function in the node's thread and return its result (from another thread)."""
        return trio.from_thread.run(fn, trio_token=self._token)

    def __enter__(self) -> tuple[NodeThread, Node]:
        self._thread.start()
        assert self._ready.wait(30) and self.node is not None, "node did not start"
        return self, self.node

    def __exit__(self, *exc: object) -> None:
        if self._token is not None and self._cancel is not None:
            self._token.run_sync_soon(self._cancel.cancel)
        self._thread.join(20)
