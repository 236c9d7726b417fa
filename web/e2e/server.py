"""Start a real chatd for the browser tests on a fresh database and print where it listens.

Prints one JSON line {"ws": ..., "http": ..., "database": ...} once ready (the database is this run's own,
for what a test does as an operator, e.g. `chatctl grant-admin`); stops (and drops its database) on SIGTERM,
SIGINT or when stdin closes. Uses CHAT_TEST_DATABASE_URL / CHAT_TEST_REDIS_URL when set (a fresh
database is created on that server, as tests/conftest.py does), embedded Postgres/Redis otherwise.
Run from the repository root: .venv/bin/python web/e2e/server.py
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import tempfile
import uuid
from dataclasses import replace
from pathlib import Path

import trio

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from chatd.embedded import embedded_postgres, embedded_redis
from chatd.node import Node
from chatd.runtime.config import Config
from tests.conftest import fresh_database


async def serve(config: Config) -> None:
    async with trio.open_nursery() as nursery:
        node: Node = await nursery.start(Node(config).run)
        print(json.dumps({"ws": node.url, "http": node.http_url, "database": config.database_url}), flush=True)

        def wait_for_eof() -> None:
            while os.read(0, 4096):
                pass

        async def stdin_closed() -> None:
            await trio.to_thread.run_sync(wait_for_eof, abandon_on_cancel=True)
            nursery.cancel_scope.cancel()
        nursery.start_soon(stdin_closed)
        with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
            async for _ in signals:
                nursery.cancel_scope.cancel()
                break


def main() -> int:
    with contextlib.ExitStack() as stack:
        data = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="chatd-e2e-")))
        db = os.environ.get("CHAT_TEST_DATABASE_URL")
        db = stack.enter_context(fresh_database(db)) if db else stack.enter_context(embedded_postgres(data))
        redis = os.environ.get("CHAT_TEST_REDIS_URL") or stack.enter_context(embedded_redis(data))
        config = replace(Config(host="127.0.0.1", port=0, http_port=0, data_dir=data, database_url=db, redis_url=redis,
                                redis_prefix=f"chat-e2e-{uuid.uuid4().hex[:8]}:", jwt_secret="e" * 40,
                                argon2_time_cost=1, argon2_memory_kib=64, login_attempts=1000,
                                signups_per_hour=100_000, push_delay=3600)).validated()
        trio.run(serve, config)
    return 0


if __name__ == "__main__":
    sys.exit(main())
