"""`chatctl`: the admin console (`chatctl console`) and one subcommand per admin action (docs/admin.md).

    chatctl --url http://127.0.0.1:8766 --username root --password ... status
    chatctl --token $TOKEN --json restart room 42
    chatctl grant-admin alice
    CHAT_DATABASE_URL=postgresql://... chatctl create-user alice alice@example.com
    chatctl partition-rooms 16 --yes

`grant-admin`, `create-user` and `partition-rooms` work on the database itself and find it as `chatd` does:
CHAT_DATABASE_URL (or --database-url), else the embedded Postgres in the data directory (CHAT_DATA_DIR or
--data-dir, default .chatd-data), shared with a chatd running on it or started for the command and stopped after.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from chatd import __version__
from chatd.clients.visible import visible
from chatd.console.client import AdminClient, AdminError
from chatd.console.render import SORT_KEYS, status_text
from chatd.embedded import embedded_postgres, require_embedded
from chatd.runtime.config import Config, ConfigError
from chatd.runtime.extras import MissingExtra, require_extra

Json = dict[str, Any]


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="chatctl", description="Operate a chatd node through its admin API.")
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    p.add_argument("--url", default=os.environ.get("CHATCTL_URL", "http://127.0.0.1:8766/"),
                   help="the node's HTTP side (CHATCTL_URL; default http://127.0.0.1:8766/)")
    p.add_argument("--token", default=os.environ.get("CHATCTL_TOKEN"), help="an admin's access token (CHATCTL_TOKEN)")
    p.add_argument("--username", default=os.environ.get("CHATCTL_USERNAME"), help="log in as this admin instead")
    p.add_argument("--password", default=os.environ.get("CHATCTL_PASSWORD"), help="(CHATCTL_PASSWORD)")
    p.add_argument("--json", action="store_true", help="print the API's JSON answer (for scripts)")
    sub = p.add_subparsers(dest="command", required=True)
    console = sub.add_parser("console", help="live console (Textual): tree, actors, details, actions")
    console.add_argument("--interval", type=float, default=1.0, help="seconds between refreshes")
    status = sub.add_parser("status", help="supervision tree, busiest actors, connections, database, Redis")
    status.add_argument("--sort", choices=SORT_KEYS, default="depth")
    status.add_argument("--limit", type=int, help="children listed per supervisor (server default 500)")
    sub.add_parser("events", help="recent start/exit/restart events").add_argument("--limit", type=int, default=50)
    restart = sub.add_parser("restart", help="restart an actor (a crash injected through its mailbox)")
    restart.add_argument("kind", choices=("room", "user"))
    restart.add_argument("id", type=int)
    sub.add_parser("stop-room", help="stop an idle room actor").add_argument("room", type=int)
    for action, what in (("disconnect", "close a user's connections"),
                         ("disable", "disable a user: connections closed, tokens refused"),
                         ("enable", "enable a disabled user again")):
        sub.add_parser(action, help=what).add_argument("user", help="user id or username")
    drain = sub.add_parser("drain", help="close connections (1012), let rooms commit, stop the node")
    drain.add_argument("--timeout", type=float, help="seconds before the node stops anyway (default 30)")
    grant = sub.add_parser("grant-admin", help="give USERNAME the admin role, in the database (CHAT_DATABASE_URL, "
                                               "else the embedded one in the data dir)")
    grant.add_argument("username")
    grant.add_argument("--revoke", action="store_true", help="take the role away instead")
    create = sub.add_parser("create-user", help="create an account, in the database (CHAT_DATABASE_URL, else the "
                                                "embedded one in the data dir); the password is asked for, or read "
                                                "from stdin with --password-stdin")
    create.add_argument("username")
    create.add_argument("email")
    create.add_argument("--password-stdin", action="store_true", help="read the password from the first line of stdin")
    part = sub.add_parser("partition-rooms", help="convert the per-room tables (messages, memberships, mentions, "
                                                  "edits) of the database into N hash partitions by room, in one "
                                                  "transaction that locks them: a maintenance window's job")
    part.add_argument("partitions", type=int, metavar="N", help="how many partitions (1..1024)")
    part.add_argument("--yes", action="store_true", help="proceed without asking (needed when stdin is no terminal)")
    for command in (grant, create, part):
        command.add_argument("--database-url", help="the server's database (default CHAT_DATABASE_URL)")
        command.add_argument("--data-dir", type=Path, help="where the embedded Postgres is, when there is no "
                                                           "database URL (CHAT_DATA_DIR, default .chatd-data)")
    return p


class NoDatabase(Exception):
    """The command cannot reach the server's database; str() says why and what to give."""


@contextlib.contextmanager
def database(args: argparse.Namespace, *, existing: bool) -> Iterator[tuple[str, int]]:
    """The URL of the database chatd uses with this environment: --database-url, CHAT_DATABASE_URL, else its
    embedded Postgres in the data directory (pgserver attaches to the one a running chatd started, or starts it
    and stops it again after); and CHAT_DB_PARTITIONS, for the migrations the command applies first.
    `existing`: the command needs data already there, so a data directory that holds no database yet is an
    error rather than a fresh, empty one."""
    try:
        config = Config.from_env(database_url=args.database_url, data_dir=args.data_dir)
        if not config.database_url:
            require_embedded(database=True, redis=False)
    except (ConfigError, MissingExtra) as exc:
        raise NoDatabase(str(exc)) from None
    if config.database_url:
        yield config.database_url, config.db_partitions
        return
    if existing and not (config.data_dir / "postgres" / "PG_VERSION").exists():
        raise NoDatabase(f"no CHAT_DATABASE_URL is set and there is no embedded Postgres in "
                         f"{config.data_dir.resolve()} yet: start chatd there first, or give --data-dir "
                         "(CHAT_DATA_DIR) or --database-url (CHAT_DATABASE_URL)")
    with embedded_postgres(config.data_dir) as url:
        yield url, config.db_partitions


def connect(args: argparse.Namespace) -> AdminClient:
    client = AdminClient(args.url, args.token)
    if not args.token:
        if not (args.username and args.password):
            raise AdminError(0, "no_credentials", "give --token, or --username and --password")
        client.login(args.username, args.password)
    return client


def action(args: argparse.Namespace, client: AdminClient) -> Callable[[], Json]:
    match args.command:
        case "status":
            return lambda: client.status(limit=args.limit)
        case "events":
            return lambda: client.events(args.limit)
        case "restart":
            return lambda: client.restart(args.kind, args.id)
        case "stop-room":
            return lambda: client.stop_room(args.room)
        case "disconnect" | "disable" | "enable":
            return lambda: client.user_action(args.command, args.user)
        case "drain":
            return lambda: client.drain(args.timeout)
    raise AssertionError(args.command)


def text(args: argparse.Namespace, answer: Json) -> str:
    if args.command == "status":
        return status_text(answer, args.sort)
    if args.command == "events":
        return "\n".join(f"{e['at']:.3f} {e['supervisor']}/{e['child']} {e['kind']}"
                         + (f": {e['reason']}" if e.get("reason") else "") for e in answer["events"])
    return ", ".join(f"{k}: {v}" for k, v in answer.items())


def grant(args: argparse.Namespace) -> int:
    from chatd.console.grant import grant_admin
    with database(args, existing=True) as (url, partitions):
        done = grant_admin(url, args.username, not args.revoke, partitions=partitions)
    verb = "revoked from" if args.revoke else "granted to"
    print(json.dumps({"username": args.username, "admin": not args.revoke, "found": done}) if args.json
          else f"admin role {verb} {args.username}" if done else f"no such user: {args.username}")
    return 0 if done else 1


def create_user(args: argparse.Namespace) -> int:
    import getpass

    from chatd.console.accounts import create_user as create
    password = sys.stdin.readline().rstrip("\n") if args.password_stdin else getpass.getpass("password: ")
    try:
        with database(args, existing=False) as (url, partitions):
            user_id = create(url, args.username, args.email, password, partitions=partitions)
    except ValueError as exc:
        print(f"chatctl: {exc}", file=sys.stderr)
        return 1
    print(json.dumps({"user": user_id, "username": args.username}) if args.json
          else f"created user {args.username} (id {user_id})")
    return 0


LOCK_WARNING = ("partition-rooms rewrites messages, room_members, mentions and message_edits and holds an exclusive "
                "lock on all four until it commits: sends, history and read markers wait for the whole conversion "
                "(minutes for a large database). Run it in a maintenance window.")


def partition_rooms(args: argparse.Namespace) -> int:
    from chatd.console.partition import Refused, check_count, check_unpartitioned
    from chatd.console.partition import partition_rooms as convert
    try:
        check_count(args.partitions)
        with database(args, existing=True) as (url, partitions):
            check_unpartitioned(url, partitions)
            if not args.yes:
                print(LOCK_WARNING, file=sys.stderr)
                if not sys.stdin.isatty():
                    raise Refused("stdin is not a terminal to ask on: pass --yes to proceed without a prompt")
                if input(f"convert into {args.partitions} partitions now? [y/N] ").strip().lower() not in ("y", "yes"):
                    raise Refused("not confirmed; nothing was changed")
            done = convert(url, args.partitions, partitions)
    except Refused as exc:
        print(f"chatctl: {exc}", file=sys.stderr)
        return 2
    print(json.dumps({"partitions": done.partitions, "seconds": round(done.seconds, 3)}) if args.json
          else f"partitioned messages, room_members, mentions and message_edits into {done.partitions} hash "
               f"partitions by room in {done.seconds:.1f} s")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        if args.command == "grant-admin":
            return grant(args)
        if args.command == "create-user":
            return create_user(args)
        if args.command == "partition-rooms":
            return partition_rooms(args)
    except NoDatabase as exc:
        print(f"chatctl: {exc}", file=sys.stderr)
        return 2
    try:
        if args.command == "console":
            require_extra("tui", "The live console", "textual")
        client = connect(args)
        if args.command == "console":
            from chatd.console.app import AdminApp
            AdminApp(client, args.interval).run()
            return 0
        answer = action(args, client)()
    except AdminError as exc:
        print(json.dumps({"error": exc.code, "status": exc.status, "message": str(exc)}) if args.json
              else visible(f"chatctl: {exc}"), file=sys.stderr)
        return 1
    except MissingExtra as exc:
        print(f"chatctl: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(answer, indent=2) if args.json else visible(text(args, answer)))  # no terminal control
    return 0


if __name__ == "__main__":
    sys.exit(main())
