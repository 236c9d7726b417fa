"""Storage at scale (issue 20, docs/storage.md): fill a fresh database with a realistic chat history and time
the server's own queries against it.

    python -m bench.storage run --messages 10000000 --partitions 16   # generate, then measure; to bench/storage.json
    python -m bench.storage cursors --database chatd_storage_10000000 --seconds 300   # sustained cursor load

The data: users, rooms of which 80% are direct (two members) and 20% groups (members Zipf-distributed,
3..2000), and messages spread over the rooms Zipf-like (s = 1.1: a few rooms hold most of them, most rooms a
few), written with COPY, so 10M messages take minutes, not hours. Each room's members have read most of it.

What is timed is the server's own code (persistence/, the Store the server runs) on that database:
history pages (the newest page and deep pages), backlog range reads, `list_rooms` with its unread counts,
the node-wide append (`append_rooms`, the CommitWriter's one transaction for many rooms) and cursor moves
(`save_cursors`), plus the bytes each message costs (heap and indexes) and what autovacuum did about the
cursor updates. `--partitions N` is CHAT_DB_PARTITIONS for the database it makes (migration 0017; 0: the
tables unpartitioned), so `run --partitions 0` and `run --partitions 16` are the side-by-side.

`cursors` keeps the CursorWriter's statement going on an existing bench database for minutes and samples
pg_stat_user_tables every 10 s (updates, HOT updates, dead rows, autovacuum runs), so what autovacuum does
under a sustained cursor load is visible. Not part of CI: it takes minutes and wants the box quiet.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import asyncpg
import trio

from chatd.persistence.messages import RoomAppend
from chatd.persistence.migrate import DEFAULT_PARTITIONS, apply_migrations, check_partitions
from chatd.persistence.records import NewText
from chatd.persistence.store import Store

ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/test"
RESULTS = Path(__file__).parent / "storage.json"
ZIPF_S = 1.1
HEAVY_ROOMS = 300  # rooms each of the heaviest 1% of users is in (their list_rooms counts every one)
WARM_UP = 20  # calls per query not timed (statement preparation on each pool connection)
WORDS = ("ok", "see you", "lunch?", "the build is green again", "can you look at the PR", "haha",
         "running late, 10 min", "thanks!", "where is the doc for the release", "shipping it now")


@dataclass(frozen=True)
class Shape:
    messages: int
    users: int
    rooms: int
    seed: int = 7
    partitions: int = DEFAULT_PARTITIONS  # CHAT_DB_PARTITIONS when the database is made (0: unpartitioned)
    fillfactor: int = 90  # room_members' (the cursors' table), 0017's: below 100 leaves room on each page for HOT

    @classmethod
    def for_messages(cls, messages: int) -> Shape:
        """Tens of thousands of rooms at 10M (one room per ~300 messages), a user per ~200 messages."""
        return cls(messages, max(1000, messages // 200), max(500, messages // 300))


def zipf_counts(total: int, n: int, s: float, rng: random.Random) -> list[int]:
    """`total` split over `n` buckets with Zipf(s) weights, shuffled; every bucket gets at least one."""
    weights = [1 / (i + 1) ** s for i in range(n)]
    scale = (total - n) / sum(weights)
    counts = [1 + int(w * scale) for w in weights]
    counts[0] += total - sum(counts)
    rng.shuffle(counts)
    return counts


# --------------------------------------------------------------------------- generate (asyncio, asyncpg)

async def generate(dsn: str, shape: Shape) -> dict[str, Any]:
    rng = random.Random(shape.seed)
    con = await asyncpg.connect(dsn)
    started = time.monotonic()
    try:
        await apply_migrations(con, partitions=shape.partitions)
        await _set_on_leaves(con, "messages", "autovacuum_enabled = false")  # the load, then VACUUM
        if shape.fillfactor != 90:
            await _set_on_leaves(con, "room_members", f"fillfactor = {int(shape.fillfactor)}")
        await con.copy_records_to_table(
            "users", columns=["id", "username", "email", "password_hash"],
            records=((u, f"user{u}", f"user{u}@example.com", "x") for u in range(1, shape.users + 1)))
        await con.execute("SELECT setval('users_id_seq', $1)", shape.users)
        counts = zipf_counts(shape.messages, shape.rooms, ZIPF_S, rng)
        members: list[list[int]] = []
        heavy = range(1, max(2, shape.users // 100) + 1)  # 1% of users are in hundreds of rooms (see _heavy)
        for _ in range(shape.rooms):
            size = 2 if rng.random() < 0.8 else min(2000, 3 + int(rng.paretovariate(1.2)))
            room = rng.sample(range(heavy.stop, shape.users + 1), size)
            if size > 2:  # a heavy user joins a group with the odds that put them in ~300 rooms
                room += [u for u in heavy if rng.random() < HEAVY_ROOMS / (shape.rooms * 0.2)]
            members.append(room)
        await con.copy_records_to_table(
            "rooms", columns=["id", "kind", "name", "direct_key", "last_seq", "created_by"],
            records=((r + 1, "direct" if len(m) == 2 else "group", None if len(m) == 2 else f"group {r + 1}",
                      f"{min(m)}:{max(m)}:{r + 1}" if len(m) == 2 else None, counts[r], m[0])
                     for r, m in enumerate(members)))
        await con.execute("SELECT setval('rooms_id_seq', $1)", shape.rooms)
        await con.copy_records_to_table(
            "room_visibility", columns=["room_id", "from_seq", "visibility"],
            records=((r + 1, 1, "shared") for r in range(shape.rooms)))
        await con.copy_records_to_table(
            "room_members", columns=["room_id", "user_id", "role", "joined_seq", "delivered_seq", "read_seq"],
            records=_members(members, counts, rng))
        loaded = time.monotonic()
        await con.copy_records_to_table(
            "messages", columns=["room_id", "seq", "sender_id", "client_id", "kind", "body", "created_at"],
            records=_messages(members, counts, rng))
        copied = time.monotonic()
        await con.execute("VACUUM ANALYZE")
        await _set_on_leaves(con, "messages", "autovacuum_enabled", reset=True)
    finally:
        await con.close()
    done = time.monotonic()
    return {"rooms_and_members_s": round(loaded - started, 1), "copy_messages_s": round(copied - loaded, 1),
            "copy_rate_per_s": round(shape.messages / (copied - loaded)), "vacuum_analyze_s": round(done - copied, 1)}


def leaves(table: str) -> str:
    """SQL for the oids of the tables that hold `table`'s rows: its partitions, or itself when it has none (a
    partitioned parent stores nothing and carries no storage parameters or table statistics)."""
    return (f"(SELECT oid FROM pg_class WHERE relkind = 'r' AND (oid = '{table}'::regclass"
            f" OR oid IN (SELECT relid FROM pg_partition_tree('{table}'))))")


async def _set_on_leaves(con: asyncpg.Connection, table: str, option: str, reset: bool = False) -> None:
    for leaf in await con.fetch(f"SELECT oid::regclass::text AS name FROM pg_class WHERE oid IN {leaves(table)}"):
        await con.execute(f"ALTER TABLE {leaf['name']} {'RESET' if reset else 'SET'} ({option})")


async def layout(con: asyncpg.Connection) -> dict[str, int]:
    """What the database is, as the catalog says: messages' partitions (0: a plain table) and room_members'
    fillfactor (100 when none is set)."""
    partitions = await con.fetchval("SELECT count(*) FROM pg_inherits WHERE inhparent = 'messages'::regclass")
    options = await con.fetchval(f"SELECT reloptions FROM pg_class WHERE oid IN {leaves('room_members')} LIMIT 1")
    fillfactor = next((int(o.split("=")[1]) for o in options or [] if o.startswith("fillfactor=")), 100)
    return {"partitions": partitions, "fillfactor": fillfactor}


def _members(members: list[list[int]], counts: list[int], rng: random.Random) -> Iterator[tuple[object, ...]]:
    """70% of memberships have read everything, the rest are 1..200 behind (a week away, in a busy room)."""
    for r, room in enumerate(members):
        for i, user in enumerate(room):
            read = counts[r] if rng.random() < 0.7 else max(0, counts[r] - rng.randint(1, 200))
            yield r + 1, user, "owner" if i == 0 and len(room) > 2 else "member", 1, read, read


def _messages(members: list[list[int]], counts: list[int], rng: random.Random) -> Iterator[tuple[object, ...]]:
    """In time order across all rooms, as a live server writes them: a room's messages are spread over the
    table's pages, so a page of history touches as many heap pages as a real one does (not one or two)."""
    order = [r for r, n in enumerate(counts) for _ in range(n)]
    rng.shuffle(order)
    seqs = [0] * len(counts)
    start, step = time.time() - 365 * 86400, 365 * 86400 / (len(order) + 1)
    from datetime import UTC, datetime
    for i, r in enumerate(order):
        seqs[r] += 1
        yield (r + 1, seqs[r], rng.choice(members[r]), uuid.UUID(int=rng.getrandbits(128), version=4), "text",
               rng.choice(WORDS), datetime.fromtimestamp(start + i * step, UTC))


# --------------------------------------------------------------------------- measure (trio, the server's Store)

@dataclass
class Timings:
    samples: list[float]

    def summary(self) -> dict[str, float]:
        ordered = sorted(self.samples)
        p = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000  # noqa: E731
        return {"n": len(ordered), "p50_ms": round(p(0.50), 2), "p99_ms": round(p(0.99), 2),
                "mean_ms": round(statistics.fmean(ordered) * 1000, 2)}


async def timed(n: int, call: Callable[[int], Awaitable[object]]) -> Timings:
    """`n` timed calls, after WARM_UP untimed ones. Each is the server's whole call: the trio-asyncio bridge
    hop, asyncpg and Postgres (what a user actor or handler waits for)."""
    for i in range(WARM_UP):
        await call(i)
    samples = []
    for i in range(n):
        t = time.perf_counter()
        await call(i)
        samples.append(time.perf_counter() - t)
    return Timings(samples)


async def measure(dsn: str, shape: Shape, samples: int) -> dict[str, Any]:
    rng = random.Random(shape.seed + 1)
    store = await Store.open(dsn, migrate=False, max_size=4)
    out: dict[str, Any] = {}
    try:
        pool = await _sample_rooms(store, rng, max(samples, 2000))  # (room, member, last_seq), weighted by activity
        rooms = pool[:samples]
        out["history_first_page"] = (await timed(samples, lambda i: store.history(
            rooms[i][1], rooms[i][0], None, 50))).summary()
        out["history_deep_page"] = (await timed(samples, lambda i: store.history(
            rooms[i][1], rooms[i][0], max(2, rng.randint(1, rooms[i][2])), 50))).summary()
        out["backlog_batch"] = (await timed(samples, lambda i: store.messages_after(
            rooms[i][1], [(rooms[i][0], max(0, rooms[i][2] - 200), rooms[i][2])], 100))).summary()
        busiest = await _busy_users(store, samples)
        out["list_rooms_unread"] = (await timed(samples, lambda i: store.list_rooms(busiest[i % len(busiest)])
                                                )).summary()
        out["append"] = await _append(store, pool, rng)
        out["cursors"] = await _cursors(store, rng)
        out["bytes"] = await _bytes(store, shape)
    finally:
        await store.close()
    return out


async def _sample_rooms(store: Store, rng: random.Random, n: int) -> list[tuple[int, int, int]]:
    rows = await _fetch(store, "SELECT r.id, r.last_seq, (SELECT m.user_id FROM room_members m"
                               " WHERE m.room_id = r.id LIMIT 1) AS member"
                               " FROM rooms r TABLESAMPLE SYSTEM (20) REPEATABLE (7) WHERE r.last_seq > 0")
    weights = [r["last_seq"] for r in rows]  # a room is read as often as it is written to
    picked = rng.choices(rows, weights=weights, k=n)
    return [(r["id"], r["member"], r["last_seq"]) for r in picked]


async def _busy_users(store: Store, n: int) -> list[int]:
    rows = await _fetch(store, f"SELECT user_id FROM room_members GROUP BY user_id ORDER BY count(*) DESC, user_id"
                               f" LIMIT {min(n, 100)}")
    return [r["user_id"] for r in rows]


async def _append(store: Store, rooms: list[tuple[int, int, int]], rng: random.Random) -> dict[str, float]:
    """The CommitWriter's path: one message in each of 100 distinct rooms per transaction, 200 transactions."""
    distinct = list({room: (room, member, last) for room, member, last in rooms}.values())
    batches, per, stored = 200, min(100, len(distinct)), 0
    started = time.perf_counter()
    for _ in range(batches):
        batch = [RoomAppend(room, [NewText(member, str(uuid.uuid4()), "appended by the storage bench")])
                 for room, member, _ in sorted(rng.sample(distinct, per))]
        for outcome in await store.append_rooms(batch):
            if isinstance(outcome, list):
                stored += sum(1 for a in outcome if a.message is not None)
    seconds = time.perf_counter() - started
    return {"messages": stored, "transactions": batches, "messages_per_s": round(stored / seconds),
            "ms_per_transaction": round(seconds / batches * 1000, 1), "us_per_message": round(seconds / stored * 1e6)}


async def _cursors(store: Store, rng: random.Random) -> dict[str, Any]:
    """The CursorWriter's path: read markers of distinct members who are behind move forward, 500 per
    statement; then what the table's statistics say of it (updates, how many were HOT: without an index on
    the cursor columns Postgres can rewrite the row on its page and leave the indexes alone)."""
    behind = await _fetch(store, "SELECT m.user_id, m.room_id, m.read_seq, r.last_seq FROM room_members m"
                                 " TABLESAMPLE SYSTEM (50) REPEATABLE (7) JOIN rooms r ON r.id = m.room_id"
                                 " WHERE m.read_seq < r.last_seq LIMIT 20000")
    before = (await _fetch(store, CURSOR_STATS))[0]
    per = 500
    rounds = max(1, len(behind) // per)
    started = time.perf_counter()
    for k in range(rounds):
        chunk = behind[k * per:(k + 1) * per]
        await store.save_cursors("read", [(r["user_id"], r["room_id"], min(r["last_seq"], r["read_seq"]
                                                                          + rng.randint(1, 40))) for r in chunk])
    seconds = time.perf_counter() - started
    await trio.sleep(11)  # a backend reports its statistics within about 10 s (PostgreSQL 15)
    after = (await _fetch(store, CURSOR_STATS))[0]
    updated = after["n_tup_upd"] - before["n_tup_upd"]
    return {"rows_moved_per_s": round(rounds * per / seconds), "ms_per_statement": round(seconds / rounds * 1000, 1),
            "updates_seen": updated, "hot_share": round((after["n_tup_hot_upd"] - before["n_tup_hot_upd"])
                                                        / max(1, updated), 2),
            "dead_tuples_after": after["n_dead_tup"],
            "autovacuums": after["autovacuum_count"] - before["autovacuum_count"]}


# room_members' statistics, summed over its partitions (a partitioned parent has none of its own)
CURSOR_STATS = ("SELECT sum(n_tup_upd)::bigint AS n_tup_upd, sum(n_tup_hot_upd)::bigint AS n_tup_hot_upd,"
                " sum(n_dead_tup)::bigint AS n_dead_tup, sum(n_live_tup)::bigint AS n_live_tup,"
                " sum(autovacuum_count)::bigint AS autovacuum_count, max(last_autovacuum) AS last_autovacuum"
                f" FROM pg_stat_user_tables WHERE relid IN {leaves('room_members')}")


async def _bytes(store: Store, shape: Shape) -> dict[str, Any]:
    rows = await _fetch(store, "SELECT sum(pg_relation_size(oid))::bigint AS heap,"
                               " sum(pg_indexes_size(oid))::bigint AS indexes,"
                               " sum(pg_total_relation_size(oid))::bigint AS total"
                               f" FROM pg_class WHERE oid IN {leaves('messages')}")
    r = rows[0]
    return {"heap_per_message": round(r["heap"] / shape.messages, 1),
            "indexes_per_message": round(r["indexes"] / shape.messages, 1),
            "total_per_message": round(r["total"] / shape.messages, 1), "total_mb": round(r["total"] / 2**20)}


async def _fetch(store: Store, sql: str) -> list[Any]:
    from chatd.persistence.bridge import aio
    return await aio(store.pool.fetch)(sql)  # type: ignore[no-any-return]


# --------------------------------------------------------------------------- sustained cursor load (trio)

async def cursor_load(dsn: str, seconds: float, per: int, every: float, seed: int = 7) -> dict[str, Any]:
    """The CursorWriter's statement (`save_cursors`: `per` distinct members' read markers in one UPDATE) back to
    back from one task for `seconds`, as a node under a steady stream of acks runs it, while room_members'
    statistics are sampled every `every` seconds: updates, how many were HOT, dead rows, autovacuum runs.

    The members are a sample of all memberships, taken in turn; each move is 1..40 past the marker, up to the
    room's end. A marker already at the end is written again all the same (Postgres makes a new row version
    for every row an UPDATE matches), so the table's churn is that of the ack rate whatever the markers hold.
    """
    rng = random.Random(seed)
    store = await Store.open(dsn, migrate=False, max_size=4)
    try:
        from chatd.persistence.bridge import aio
        shape = await aio(_with_con)(store, layout)
        members = [[r["user_id"], r["room_id"], r["read_seq"], r["last_seq"]] for r in await _fetch(
            store, "SELECT m.user_id, m.room_id, m.read_seq, r.last_seq FROM room_members m TABLESAMPLE SYSTEM (50)"
                   " REPEATABLE (7) JOIN rooms r ON r.id = m.room_id LIMIT 100000")]
        rng.shuffle(members)
        if len(members) < per:
            raise SystemExit(f"the database has {len(members)} memberships sampled, fewer than --per {per}")
        settings = {r["name"]: r["setting"] for r in await _fetch(
            store, "SELECT name, setting FROM pg_settings WHERE name IN ('autovacuum', 'autovacuum_naptime',"
                   " 'autovacuum_vacuum_scale_factor', 'autovacuum_vacuum_threshold', 'autovacuum_vacuum_cost_limit',"
                   " 'autovacuum_vacuum_cost_delay', 'shared_buffers')")}
        if settings.get("autovacuum") != "on":
            print("note: autovacuum is off on this server: the samples show the load without it", flush=True)
        moved = 0
        samples: list[dict[str, Any]] = []
        started = time.monotonic()

        async def sample(at: float, last: dict[str, Any] | None) -> dict[str, Any]:
            """The statistics now; rows/s and the HOT share over the interval since `last` (None when the
            interval holds no load: the first sample, and the last one, taken after the load stopped)."""
            row = dict((await _fetch(store, CURSOR_STATS))[0])
            since = min(at, seconds) - (last["t_s"] if last else 0.0)
            out = {"t_s": round(at, 1), "rows_moved": moved,
                   "rows_per_s": round((moved - last["rows_moved"]) / since) if last and since >= 1 else None,
                   **{k: row[k] for k in ("n_tup_upd", "n_tup_hot_upd", "n_dead_tup", "n_live_tup",
                                          "autovacuum_count")},
                   "last_autovacuum": row["last_autovacuum"].isoformat() if row["last_autovacuum"] else None}
            updated = out["n_tup_upd"] - last["n_tup_upd"] if last else 0
            out["hot_share"] = round((out["n_tup_hot_upd"] - last["n_tup_hot_upd"]) / updated, 2) \
                if last and updated > 0 else None
            print(json.dumps(out), flush=True)
            return out

        samples.append(await sample(0.0, None))
        async with trio.open_nursery() as nursery:
            async def write() -> None:
                nonlocal moved
                k = 0
                while time.monotonic() - started < seconds:
                    chunk = [members[(k + i) % len(members)] for i in range(per)]
                    k = (k + per) % len(members)
                    for m in chunk:
                        m[2] = min(m[3], m[2] + rng.randint(1, 40))
                    await store.save_cursors("read", [(m[0], m[1], m[2]) for m in chunk])
                    moved += per
                nursery.cancel_scope.cancel()

            async def watch() -> None:
                while True:
                    await trio.sleep(every - (time.monotonic() - started) % every)
                    samples.append(await sample(time.monotonic() - started, samples[-1]))

            nursery.start_soon(write)
            nursery.start_soon(watch)
        elapsed = time.monotonic() - started
        await trio.sleep(2)  # the writer's last statistics reach the shared counters within a second or so
        samples.append(await sample(time.monotonic() - started, samples[-1]))
    finally:
        await store.close()
    first, last = samples[0], samples[-1]
    updated = last["n_tup_upd"] - first["n_tup_upd"]
    return {**shape, "seconds": round(elapsed, 1), "per_statement": per, "memberships_sampled": len(members),
            "settings": settings, "samples": samples,
            "summary": {"rows_moved_per_s": round(moved / elapsed), "updates": updated,
                        "hot_share": round((last["n_tup_hot_upd"] - first["n_tup_hot_upd"]) / max(1, updated), 2),
                        "autovacuums": last["autovacuum_count"] - first["autovacuum_count"],
                        "dead_tuples_max": max(x["n_dead_tup"] for x in samples),
                        "dead_tuples_end": last["n_dead_tup"]}}


async def _with_con(store: Store, work: Callable[[asyncpg.Connection], Awaitable[Any]]) -> Any:
    async with store.pool.acquire() as con:
        return await work(con)


# --------------------------------------------------------------------------- command line

async def _recreate(name: str) -> str:
    con = await asyncpg.connect(ADMIN_URL)
    try:
        await con.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await con.execute(f'CREATE DATABASE "{name}"')
    finally:
        await con.close()
    return ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"


PLOT = Path(__file__).resolve().parent.parent / "docs" / "storage-latency.png"


def table(records: list[dict[str, Any]], partitions: int | None = None, fillfactor: int | None = None) -> str:
    """The markdown table of docs/storage.md: one column per size and layout (the latest run of each), those with
    the given partitions / fillfactor only if given. Records from before either was recorded were unpartitioned
    with fillfactor 100."""
    runs_of = {}
    for r in records:
        if "measure" in r:
            r = {"partitions": 0, "fillfactor": 100, **r}
            if partitions in (None, r["partitions"]) and fillfactor in (None, r["fillfactor"]):
                runs_of[(r["messages"], r["partitions"], r["fillfactor"])] = r
    runs = [runs_of[k] for k in sorted(runs_of)]
    rows: list[tuple[str, Callable[[dict[str, Any]], object]]] = [
        ("measured at", lambda r: r["when"]),
        ("rooms / users", lambda r: f"{r['rooms']:,} / {r['users']:,}"),
        ("hash partitions by room (CHAT_DB_PARTITIONS)", lambda r: r["partitions"] or "none"),
        ("room_members fillfactor", lambda r: r["fillfactor"]),
        ("COPY load, messages/s", lambda r: f"{r['generate']['copy_rate_per_s']:,}" if "generate" in r else "-"),
        ("history, newest page of 50: p50 / p99 ms", lambda r: _pp(r, "history_first_page")),
        ("history, a deep page of 50: p50 / p99 ms", lambda r: _pp(r, "history_deep_page")),
        ("backlog batch (100 after a cursor): p50 / p99 ms", lambda r: _pp(r, "backlog_batch")),
        ("list_rooms with unread counts, the heaviest users (~300 rooms): p50 / p99 ms",
         lambda r: _pp(r, "list_rooms_unread")),
        ("append, one message in each of 100 rooms per transaction: messages/s",
         lambda r: f"{r['measure']['append']['messages_per_s']:,}"),
        ("append: ms per transaction", lambda r: r["measure"]["append"]["ms_per_transaction"]),
        ("append: µs per message", lambda r: r["measure"]["append"]["us_per_message"]),
        ("read markers moved (500 distinct members per statement): rows/s",
         lambda r: f"{r['measure']['cursors']['rows_moved_per_s']:,}"),
        ("... of those updates, HOT (no index touched)", lambda r: f"{r['measure']['cursors']['hot_share']:.0%}"),
        ("bytes per message: heap + indexes = total", lambda r: "{heap_per_message} + {indexes_per_message} = "
         "{total_per_message}".format(**r["measure"]["bytes"])),
        ("messages table with its indexes, MB", lambda r: f"{r['measure']['bytes']['total_mb']:,}"),
    ]
    head = "| | " + " | ".join(f"{r['messages']:,} messages" for r in runs) + " |"
    lines = [head, "|---" * (len(runs) + 1) + "|"]
    lines += ["| " + name + " | " + " | ".join(str(get(r)) for r in runs) + " |" for name, get in rows]
    return "\n".join(lines)


def _pp(r: dict[str, Any], key: str) -> str:
    m = r["measure"][key]
    return f"{m['p50_ms']} / {m['p99_ms']}"


def _partitions(raw: str) -> int:
    try:
        return check_partitions(int(raw))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


async def _layout_of(dsn: str) -> dict[str, int]:
    con = await asyncpg.connect(dsn)
    try:
        return await layout(con)
    finally:
        await con.close()


def _append_result(path: Path, record: dict[str, Any]) -> None:
    history = json.loads(path.read_text()) if path.exists() else []
    path.write_text(json.dumps([*history, record], indent=1) + "\n")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.storage", description=__doc__.split("\n")[0])
    p.add_argument("command", choices=["generate", "measure", "run", "table", "plot", "cursors"])
    p.add_argument("--messages", type=int, default=1_000_000)
    p.add_argument("--samples", type=int, default=300, help="timed calls per read query (default 300)")
    p.add_argument("--database", default=None, help="database name (default chatd_storage_<messages>)")
    p.add_argument("--partitions", type=_partitions, default=None,
                   help=f"CHAT_DB_PARTITIONS for the database generated (default {DEFAULT_PARTITIONS}, as"
                        " chatd's: unpartitioned); with `table`: only runs with this many")
    p.add_argument("--fillfactor", type=int, default=None,
                   help="room_members' fillfactor, for an A/B (default 90, what migration 0017 sets);"
                        " with `table`: only runs with this one")
    p.add_argument("--seconds", type=float, default=300, help="cursors: how long the load runs (default 300)")
    p.add_argument("--per", type=int, default=500, help="cursors: memberships moved per statement (default 500)")
    p.add_argument("--every", type=float, default=10, help="cursors: seconds between samples (default 10)")
    p.add_argument("--results", type=Path, default=RESULTS, help=f"where results are appended (default {RESULTS})")
    args = p.parse_args(argv)
    if args.command == "table":
        print(table(json.loads(args.results.read_text()), args.partitions, args.fillfactor))
        return 0
    if args.command == "plot":
        from bench.storage_plot import latency_by_size
        print(latency_by_size(json.loads(args.results.read_text()), PLOT))
        return 0
    name = args.database or f"chatd_storage_{args.messages}"
    dsn = ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    when = time.strftime("%Y-%m-%d %H:%M")
    if args.command == "cursors":
        if args.seconds <= 0 or args.every <= 0 or args.per < 1:
            p.error("--seconds and --every must be > 0 and --per at least 1")
        result = trio.run(cursor_load, dsn, args.seconds, args.per, args.every)
        _append_result(args.results, {
            "scenario": "cursors", "database": name, "when": when,
            "command": f"python -m bench.storage cursors --database {name} --seconds {args.seconds:g}"
                       f" --per {args.per} --every {args.every:g}", **result})
        print(json.dumps(result["summary"], indent=1))
        return 0
    shape = replace(Shape.for_messages(args.messages),
                    partitions=DEFAULT_PARTITIONS if args.partitions is None else args.partitions,
                    fillfactor=90 if args.fillfactor is None else args.fillfactor)
    record: dict[str, Any] = {"messages": shape.messages, "users": shape.users, "rooms": shape.rooms, "when": when,
                              "command": f"python -m bench.storage {args.command} --messages {args.messages}"
                              f" --partitions {shape.partitions}"
                              + (f" --fillfactor {shape.fillfactor}" if shape.fillfactor != 90 else "")}
    if args.command in ("generate", "run"):
        dsn = asyncio.run(_recreate(name))
        record["generate"] = asyncio.run(generate(dsn, shape))
        print(json.dumps(record["generate"]))
    record.update(asyncio.run(_layout_of(dsn)))  # partitions and fillfactor, as the database has them
    if args.command in ("measure", "run"):
        record["measure"] = trio.run(measure, dsn, shape, args.samples)
        print(json.dumps(record["measure"], indent=1))
        _append_result(args.results, record)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
