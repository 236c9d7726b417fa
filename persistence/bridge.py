"""The one place where asyncio libraries (asyncpg, redis.asyncio) are called from trio.

The node runs inside ``trio_asyncio.open_loop()``; ``bridged`` wraps an asyncio coroutine method so
trio code can await it, and turns connection-level failures into StoreUnavailable.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from typing import Any, ParamSpec, TypeVar

import asyncpg
import trio_asyncio

from persistence.errors import StoreUnavailable

P = ParamSpec("P")
T = TypeVar("T")

TRANSIENT_DB_ERRORS: tuple[type[BaseException], ...] = (
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.exceptions.OperatorInterventionError,  # admin shutdown, crash shutdown, cannot connect now
    asyncpg.exceptions.SerializationError,
    asyncpg.exceptions.DeadlockDetectedError,
    asyncpg.exceptions.InsufficientResourcesError,
    OSError,
    TimeoutError,
    asyncio.TimeoutError,
)


def bridged(fn: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[T]]:
    @functools.wraps(fn)
    async def call(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return await trio_asyncio.aio_as_trio(fn)(*args, **kwargs)  # type: ignore[no-any-return]
        except TRANSIENT_DB_ERRORS as exc:
            raise StoreUnavailable(f"database unavailable: {type(exc).__name__}: {exc}") from exc
    return call


def aio(fn: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    """Call an asyncio coroutine function from trio without error translation."""
    return trio_asyncio.aio_as_trio(fn)  # type: ignore[no-any-return]
