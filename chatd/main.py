"""`chatd`: run one node. With no CHAT_DATABASE_URL / CHAT_REDIS_URL, embedded servers are started."""

from __future__ import annotations

import argparse
import gc
import logging
import signal
import sys
from dataclasses import replace
from pathlib import Path

import trio

from chatd import __version__
from chatd.admin.drain import start_drain
from chatd.admin.logjson import install as install_logging
from chatd.embedded import require_embedded, services
from chatd.node import Node
from chatd.runtime.config import Config, ConfigError
from chatd.runtime.extras import MissingExtra


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="chatd", description="Realtime chat server (msgpack over websocket).")
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    p.add_argument("--host", help="address to listen on (CHAT_HOST, default 127.0.0.1)")
    p.add_argument("--port", type=int, help="websocket port (CHAT_PORT, default 8765; 0 = any free port)")
    p.add_argument("--http-port", type=int, help="HTTP port (CHAT_HTTP_PORT, default 8766; 0 = any free port)")
    p.add_argument("--data-dir", type=Path, help="embedded Postgres/Redis and the JWT secret (CHAT_DATA_DIR)")
    p.add_argument("--log-level", default="INFO")
    p.add_argument("--services-only", action="store_true",
                   help="start only the embedded Postgres and Redis in the data dir and print their URLs, for "
                        "several chatd processes to share (see the README, 'Several processes')")
    return p.parse_args(argv)


# A stop signal drains like `chatctl drain` (admin/drain.py): connections get 1012 with what was queued for
# them, rooms finish their commits, cursors are stored; within docker's default 10 s stop grace period.
SIGNAL_DRAIN_SECONDS = 8.0


async def serve(config: Config) -> None:
    node = Node(config)
    async with trio.open_nursery() as nursery:
        async def run_node(*, task_status: trio.TaskStatus[Node]) -> None:
            await node.run(task_status=task_status)
            print("chatd: node stopped (drained)", flush=True)
            nursery.cancel_scope.cancel()  # the node ended by itself (admin drain): stop listening for signals

        await nursery.start(run_node)
        tune_gc()
        print(f"chatd ready: point a websocket client at {node.url}  (msgpack frames, see docs/protocol.md);"
              f" HTTP side at {node.http_url}", flush=True)
        with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
            async for signum in signals:
                name = signal.Signals(signum).name
                if node.admin and start_drain(node.admin, SIGNAL_DRAIN_SECONDS, name):  # the first: drain, then stop
                    print(f"chatd: {name}, draining (at most {SIGNAL_DRAIN_SECONDS:g} s; again to stop at once)",
                          flush=True)
                    continue
                print(f"chatd: {name}, shutting down", flush=True)
                nursery.cancel_scope.cancel()
                break


def tune_gc() -> None:
    """Keep the cyclic garbage collector off the hot path (bench/RESULTS.md, issue 15).

    A running node holds a large, long-lived object graph (connections, actors, room states) and allocates
    short-lived objects for every frame. With CPython's default thresholds the collector runs every 700
    net allocations and regularly walks the whole long-lived graph: in the dm profile that was the largest
    single cost. The startup graph is frozen (never walked again), and young collections run every 50,000
    allocations; what the server frees is almost all acyclic and goes by reference counting anyway.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)


def hold_services(db_url: str, redis_url: str) -> int:
    """Keep the embedded servers up until SIGINT/SIGTERM; print how chatd processes reach them."""
    print("chatd services ready; start each chatd process with:\n"
          f"  export CHAT_DATABASE_URL='{db_url}'\n  export CHAT_REDIS_URL='{redis_url}'", flush=True)

    async def wait() -> None:
        with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
            async for _ in signals:
                return
    trio.run(wait)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        config = Config.from_env(host=args.host, port=args.port, http_port=args.http_port, data_dir=args.data_dir)
        require_embedded(config.database_url is None, config.redis_url is None)
    except ConfigError as exc:
        print(f"chatd: configuration error: {exc}", file=sys.stderr)
        return 2
    except MissingExtra as exc:
        print(f"chatd: {exc}", file=sys.stderr)
        return 2
    install_logging(args.log_level, config.log_format)
    logging.getLogger("pgserver").setLevel(logging.WARNING)  # it logs every initdb/pg_ctl line at INFO
    with services(config.data_dir, config.database_url, config.redis_url) as (db_url, redis_url):
        if args.services_only:
            return hold_services(db_url, redis_url)
        config = replace(config, database_url=db_url, redis_url=redis_url)
        try:
            trio.run(serve, config)
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
