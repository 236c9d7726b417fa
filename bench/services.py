"""The Postgres and Redis a bench run uses: a fresh database on the configured server (dropped after) and a
private Redis key prefix; None when they do not answer, and chatd then starts its embedded ones."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import Iterator
from dataclasses import dataclass

PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/test"
REDIS_URL = "redis://127.0.0.1:6379/0"


@dataclass
class Services:
    database_url: str | None
    redis_url: str | None
    redis_prefix: str
    postgres_version: str | None


async def _pg(url: str, *sql: str) -> str | None:
    import asyncpg
    con = await asyncpg.connect(url, timeout=3)
    try:
        version = await con.fetchval("SHOW server_version")
        for statement in sql:
            await con.execute(statement)
        return str(version)
    finally:
        await con.close()


def _redis_ok(url: str) -> bool:
    import redis
    try:
        return bool(redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2).ping())
    except redis.RedisError:
        return False


def _redis_clear(url: str, prefix: str) -> None:
    import redis
    with contextlib.suppress(redis.RedisError):
        client = redis.Redis.from_url(url, socket_timeout=5)
        keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
        for i in range(0, len(keys), 500):
            client.delete(*keys[i:i + 500])


def postgres_version(url: str) -> str | None:
    try:
        return asyncio.run(_pg(url))
    except (TimeoutError, OSError, Exception):
        return None


@contextlib.contextmanager
def fresh_services(pg_admin_url: str = PG_ADMIN_URL, redis_url: str = REDIS_URL) -> Iterator[Services]:
    name = f"bench_{secrets.token_hex(6)}"
    prefix = f"{name}:"
    try:
        version = asyncio.run(_pg(pg_admin_url, f'CREATE DATABASE "{name}"'))
        db_url: str | None = pg_admin_url.rsplit("/", 1)[0] + f"/{name}"
    except (TimeoutError, OSError, Exception):
        version, db_url = None, None
    redis = redis_url if _redis_ok(redis_url) else None
    try:
        yield Services(db_url, redis, prefix, version)
    finally:
        if db_url is not None:
            with contextlib.suppress(Exception):
                asyncio.run(_pg(pg_admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        if redis is not None:
            _redis_clear(redis, prefix)
