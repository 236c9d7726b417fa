"""`chatctl partition-rooms N`, run as an operator runs it (its own process, CHAT_DATABASE_URL set) against a
database that went through every migration unpartitioned, the default, and holds chats."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import asyncpg
import pytest

from chatd.persistence.migrate import apply_migrations
from tests.conftest import Backing, fresh_database, on_connection
from tests.test_partitions import PER_ROOM, fill, partitions_of


@pytest.fixture
def database(backing: Backing) -> Iterator[str]:
    """A fresh database, migrated with the default settings, with a few chats in it."""
    async def prepare(con: asyncpg.Connection) -> None:
        await apply_migrations(con)
        await fill(con)
    with fresh_database(backing.database_url) as url:
        on_connection(url, prepare)
        yield url


def chatctl(url: str, *argv: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHAT_")} | {"CHAT_DATABASE_URL": url}
    return subprocess.run([sys.executable, "-m", "chatd.console.cli", *argv], stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, env=env, timeout=180)


def counts(url: str) -> dict[str, int]:
    async def work(con: asyncpg.Connection) -> dict[str, int]:
        return {t: await con.fetchval(f"SELECT count(*) FROM {t}") for t in (*PER_ROOM, "push_marks")}
    return on_connection(url, work)


def layout(url: str) -> dict[str, tuple[str, int]]:
    return on_connection(url, partitions_of)


def test_partition_rooms_converts_a_database_in_use_once(database: str) -> None:
    before = counts(database)
    assert layout(database) == {t: ("plain", 0) for t in PER_ROOM}

    done = chatctl(database, "partition-rooms", "8", "--yes")
    assert done.returncode == 0, done.stderr
    assert "into 8 hash partitions by room in" in done.stdout and done.stdout.strip().endswith(" s")
    assert layout(database) == {t: ("h:room_id", 8) for t in PER_ROOM}
    assert counts(database) == before

    again = chatctl(database, "partition-rooms", "16", "--yes")
    assert again.returncode == 2 and again.stdout == ""
    assert "already partitioned (8 partitions); nothing was changed" in again.stderr
    assert layout(database) == {t: ("h:room_id", 8) for t in PER_ROOM}


def test_partition_rooms_asks_first_and_refuses_with_no_terminal_to_ask_on(database: str) -> None:
    out = chatctl(database, "partition-rooms", "8")
    assert out.returncode == 2
    assert "exclusive lock" in out.stderr and "maintenance window" in out.stderr
    assert "pass --yes to proceed without a prompt" in out.stderr
    assert layout(database) == {t: ("plain", 0) for t in PER_ROOM}


@pytest.mark.parametrize("count", ["0", "1025", "-3"])
def test_partition_rooms_refuses_a_count_out_of_range(database: str, count: str) -> None:
    out = chatctl(database, "partition-rooms", "--yes", "--", count)
    assert out.returncode == 2 and f"the number of partitions must be 1..1024, got {count}" in out.stderr
    assert layout(database) == {t: ("plain", 0) for t in PER_ROOM}


def test_partition_rooms_prints_json_for_scripts(database: str) -> None:
    out = chatctl(database, "--json", "partition-rooms", "2", "--yes")
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith('{"partitions": 2, "seconds": ')
