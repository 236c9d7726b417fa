"""Partitioning by room (migration 0017, CHAT_DB_PARTITIONS): what an operator's database looks like after it,
fresh (unpartitioned unless the setting says otherwise) or converted by chatd_partition_by_room (what
`chatctl partition-rooms` runs) from one that already holds chats, on a real Postgres."""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Iterator
from typing import Any

import asyncpg
import pytest

from chatd.persistence.messages import MESSAGE_COLUMNS
from chatd.persistence.migrate import apply_migrations, check_partitions, migration_files
from tests.conftest import Backing, fresh_database, on_connection

PER_ROOM = ("messages", "room_members", "mentions", "message_edits")
BEFORE = 16  # the last migration before 0017


@pytest.fixture
def database(backing: Backing) -> Iterator[str]:
    with fresh_database(backing.database_url) as url:
        yield url


async def partitions_of(con: asyncpg.Connection) -> dict[str, tuple[str, int]]:
    """Each per-room table's partitioning: (strategy and key column, or 'plain'; number of partitions)."""
    out = {}
    for table in PER_ROOM:
        row = await con.fetchrow(
            "SELECT p.partstrat::text || ':' || a.attname AS how,"
            " (SELECT count(*) FROM pg_inherits i WHERE i.inhparent = c.oid) AS n"
            " FROM pg_class c LEFT JOIN pg_partitioned_table p ON p.partrelid = c.oid"
            " LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = p.partattrs[0]"
            " WHERE c.oid = $1::regclass", table)
        out[table] = (row["how"] or "plain", row["n"])
    return out


async def fillfactors(con: asyncpg.Connection, table: str) -> set[str | None]:
    """The fillfactor of each table holding the rows of `table` (its partitions, or itself)."""
    rows = await con.fetch("SELECT reloptions FROM pg_class WHERE relkind = 'r' AND (oid = $1::regclass"
                           " OR oid IN (SELECT relid FROM pg_partition_tree($1::regclass)))", table)
    return {next((o.split("=")[1] for o in r["reloptions"] or [] if o.startswith("fillfactor=")), None) for r in rows}


def test_a_fresh_database_is_unpartitioned_by_default_and_cursors_get_room_on_each_page(database: str) -> None:
    async def work(con: asyncpg.Connection) -> None:
        assert 17 in await apply_migrations(con)
        assert await partitions_of(con) == {t: ("plain", 0) for t in PER_ROOM}
        assert await fillfactors(con, "room_members") == {"90"}
        assert await con.fetchval("SELECT to_regprocedure('chatd_partition_by_room(int)')") is not None
    on_connection(database, work)


def test_with_the_setting_at_the_first_migration_the_tables_are_hash_partitioned_by_room(database: str) -> None:
    async def work(con: asyncpg.Connection) -> None:
        assert 17 in await apply_migrations(con, partitions=16)
        assert await partitions_of(con) == {t: ("h:room_id", 16) for t in PER_ROOM}
        assert await fillfactors(con, "room_members") == {"90"}
        assert await fillfactors(con, "messages") == {None}
        analyzed = await con.fetchval("SELECT count(*) FROM pg_stat_user_tables WHERE relname = ANY($1)"
                                      " AND last_analyze IS NOT NULL", list(PER_ROOM))
        assert analyzed >= len(PER_ROOM)  # the parents too, which autovacuum never analyzes
    on_connection(database, work)


def test_a_partition_count_out_of_range_is_refused_before_anything_runs(database: str) -> None:
    for bad in (-1, 1025):
        with pytest.raises(ValueError, match=r"partitions must be a whole number 0\.\.1024"):
            check_partitions(bad)

    async def work(con: asyncpg.Connection) -> None:
        with pytest.raises(ValueError, match="got 4096"):
            await apply_migrations(con, partitions=4096)
        assert await con.fetchval("SELECT to_regclass('schema_migrations')") is None
        await apply_migrations(con, upto=BEFORE)  # the SQL checks too, for a setting made by hand
        async with con.transaction():
            await con.execute("SET LOCAL chatd.partitions = 'many'")
            with pytest.raises(asyncpg.RaiseError, match=r"chatd\.partitions must be a whole number 0\.\.1024"):
                await con.execute(next(sql for v, _, sql in migration_files() if v == 17))
    on_connection(database, work)


# --------------------------------------------------------------------------- converting a database in use

ROOMS, USERS, PER_ROOM_MESSAGES = 12, 6, 30


async def fill(con: asyncpg.Connection) -> None:
    """Chats as the migrated schema keeps them: users, rooms with members and messages, mentions, edits, push marks."""
    await con.execute(
        f"INSERT INTO users (id, username, email, password_hash)"
        f" SELECT g, 'user' || g, 'user' || g || '@example.com', 'x' FROM generate_series(1, {USERS}) g;"
        f" INSERT INTO rooms (id, kind, name, last_seq, created_by)"
        f" SELECT g, 'group', 'room ' || g, {PER_ROOM_MESSAGES}, 1 FROM generate_series(1, {ROOMS}) g;"
        f" INSERT INTO room_members (room_id, user_id, role, joined_seq, read_seq, muted)"
        f" SELECT r, u, CASE WHEN u = 1 THEN 'owner' ELSE 'member' END, 1, r + u, u = 3"
        f" FROM generate_series(1, {ROOMS}) r, generate_series(1, {USERS}) u;"
        f" INSERT INTO push_marks SELECT room_id, user_id, 2 FROM room_members;"
        f" INSERT INTO messages (room_id, seq, sender_id, client_id, body)"
        f" SELECT r, s, 1 + s % {USERS}, gen_random_uuid(), 'hello ' || s"
        f" FROM generate_series(1, {ROOMS}) r, generate_series(1, {PER_ROOM_MESSAGES}) s;"
        f" INSERT INTO mentions (room_id, user_id, seq) SELECT r, 2, s"
        f" FROM generate_series(1, {ROOMS}) r, generate_series(1, {PER_ROOM_MESSAGES}, 3) s;"
        f" INSERT INTO message_edits (room_id, seq, edit_seq, body, deleted, reactions)"
        f" SELECT r, s, s + 1, 'draft', false, '[{{\"emoji\": \"x\", \"users\": [2]}}]'"
        f" FROM generate_series(1, {ROOMS}) r, generate_series(1, 5) s;")


async def snapshot(con: asyncpg.Connection) -> dict[str, Any]:
    """Every row of the per-room tables (and push_marks), the constraints on them and pointing at them, the
    indexes (by name) and the column defaults: what the conversion must keep."""
    rows = {t: sorted(tuple(r) for r in await con.fetch(f"SELECT * FROM {t}"))
            for t in (*PER_ROOM, "push_marks")}
    constraints = sorted(tuple(r) for r in await con.fetch(
        "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint"
        " WHERE (conrelid::regclass::text = ANY($1) OR confrelid::regclass::text = ANY($1))"
        " AND conparentid = 0", list(PER_ROOM)))  # not the copies Postgres keeps per partition
    indexes = sorted(tuple(r) for r in await con.fetch(
        "SELECT tablename, indexname FROM pg_indexes WHERE tablename = ANY($1)", list(PER_ROOM)))
    columns = sorted(tuple(r) for r in await con.fetch(
        "SELECT table_name, column_name, data_type, is_nullable, column_default FROM information_schema.columns"
        " WHERE table_name = ANY($1)", list(PER_ROOM)))
    access = sorted(tuple(r) for r in await con.fetch(  # who owns each table and who else may use it
        "SELECT relname, pg_get_userbyid(relowner), relacl::text FROM pg_class WHERE relname = ANY($1)",
        list(PER_ROOM)))
    return {"rows": rows, "constraints": constraints, "indexes": indexes, "columns": columns, "access": access}


def convert(con: asyncpg.Connection, partitions: int) -> Awaitable[str]:
    """What `chatctl partition-rooms` runs, in its one transaction."""
    return con.execute("SELECT chatd_partition_by_room($1)", partitions)


def test_a_database_with_chats_in_it_is_converted_keeping_every_row_and_rule(database: str) -> None:
    async def work(con: asyncpg.Connection) -> None:
        await apply_migrations(con)  # every migration, unpartitioned, as a deployment now starts
        await fill(con)
        reader = f"chatd_reader_{uuid.uuid4().hex[:8]}"  # a replica's read-only role, say
        await con.execute(f"CREATE ROLE {reader}; GRANT SELECT ON messages, room_members TO {reader}")
        before = await snapshot(con)
        async with con.transaction():
            await convert(con, 8)
        after = await snapshot(con)
        await con.execute(f"REVOKE ALL ON messages, room_members FROM {reader}; DROP ROLE {reader}")
        assert await partitions_of(con) == {t: ("h:room_id", 8) for t in PER_ROOM}
        assert after == before, "rows, keys, indexes, columns, owner and grants are as they were"
        assert any(reader in (acl or "") for _, _, acl in after["access"])
        assert await fillfactors(con, "room_members") == {"90"}
        assert await fillfactors(con, "messages") == {None}

        # the retry key still refuses a second copy of a send
        sender, client = await con.fetchrow("SELECT sender_id, client_id FROM messages WHERE room_id = 5 AND seq = 7")
        with pytest.raises(asyncpg.UniqueViolationError):
            await con.execute("INSERT INTO messages (room_id, seq, sender_id, client_id, body)"
                              " VALUES (5, 31, $1, $2, 'again')", sender, client)
        # foreign keys still refuse, and still cascade
        with pytest.raises(asyncpg.ForeignKeyViolationError):
            await con.execute("INSERT INTO mentions (room_id, user_id, seq) VALUES (5, 2, 99)")
        with pytest.raises(asyncpg.ForeignKeyViolationError):
            await con.execute("INSERT INTO push_marks VALUES (5, 99, 1)")
        await con.execute("DELETE FROM messages WHERE room_id = 5 AND seq IN (1, 4)")
        assert await con.fetchval("SELECT count(*) FROM mentions WHERE room_id = 5 AND seq IN (1, 4)") == 0
        assert await con.fetchval("SELECT count(*) FROM message_edits WHERE room_id = 5 AND seq IN (1, 4)") == 0
        await con.execute("DELETE FROM room_members WHERE room_id = 6 AND user_id = 2")
        assert await con.fetchval("SELECT count(*) FROM push_marks WHERE room_id = 6 AND user_id = 2") == 0
        await con.execute("DELETE FROM rooms WHERE id = 7")
        for table in (*PER_ROOM, "push_marks"):
            assert await con.fetchval(f"SELECT count(*) FROM {table} WHERE room_id = 7") == 0
        with pytest.raises(asyncpg.ForeignKeyViolationError):  # a sender's row stays (0011: deleted_at)
            await con.execute("DELETE FROM users WHERE id = 3")
        await con.execute("INSERT INTO users (id, username, email, password_hash) VALUES (99, 'lurker', 'l@x', 'x');"
                          " INSERT INTO room_members (room_id, user_id, joined_seq) VALUES (2, 99, 30)")
        await con.execute("DELETE FROM users WHERE id = 99")
        assert await con.fetchval("SELECT count(*) FROM room_members WHERE user_id = 99") == 0
        # the defaults came along: a membership and a message written the way the server writes them
        await con.execute("INSERT INTO room_members (room_id, user_id, joined_seq) VALUES (1, 3, 31)"
                          " ON CONFLICT (room_id, user_id) DO NOTHING")
        row = await con.fetchrow("INSERT INTO messages (room_id, seq, sender_id, client_id, body)"
                                 " VALUES (1, 31, 2, $1, 'new') RETURNING kind, deleted, created_at", uuid.uuid4())
        assert (row["kind"], row["deleted"]) == ("text", False) and row["created_at"] is not None
    on_connection(database, work)


def test_a_second_conversion_and_a_count_out_of_range_are_refused_changing_nothing(database: str) -> None:
    async def work(con: asyncpg.Connection) -> None:
        await apply_migrations(con)
        await fill(con)
        for bad in (0, -1, 1025):
            with pytest.raises(asyncpg.InvalidParameterValueError, match=rf"partitions must be 1\.\.1024, got {bad}"):
                await convert(con, bad)
        assert await partitions_of(con) == {t: ("plain", 0) for t in PER_ROOM}
        await convert(con, 4)
        before = await snapshot(con)
        with pytest.raises(asyncpg.ObjectNotInPrerequisiteStateError, match=r"already partitioned \(4 partitions\)"):
            await convert(con, 8)
        assert await partitions_of(con) == {t: ("h:room_id", 4) for t in PER_ROOM}
        assert await snapshot(con) == before
    on_connection(database, work)


# --------------------------------------------------------------------------- queries read one partition

def scanned(plan: dict[str, Any]) -> list[str]:
    """The tables an executed plan read (nodes that ran at least once)."""
    out = [plan["Relation Name"]] if "Relation Name" in plan and plan.get("Actual Loops", 0) > 0 else []
    for child in plan.get("Plans", []):
        out += scanned(child)
    return out


def test_a_history_page_and_the_commits_retry_lookup_read_one_partition(database: str) -> None:
    async def work(con: asyncpg.Connection) -> None:
        await apply_migrations(con, partitions=8)
        await fill(con)
        await con.execute("ANALYZE")

        async def explain(sql: str, *args: object) -> list[str]:
            plan = await con.fetchval(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}", *args)
            return scanned((json.loads(plan) if isinstance(plan, str) else plan)[0]["Plan"])

        # messages.py `history`, for a member: the newest page of the room, from its primary key
        history = await explain(
            f"SELECT m.* FROM unnest($2::bigint[], $3::bigint[]) AS w(lo, hi)"
            f" CROSS JOIN LATERAL (SELECT {MESSAGE_COLUMNS} FROM messages m WHERE m.room_id = $1"
            f" AND m.seq BETWEEN w.lo AND w.hi ORDER BY m.seq DESC LIMIT $4) m ORDER BY m.seq DESC LIMIT $4",
            5, [1], [PER_ROOM_MESSAGES], 10)
        assert len(history) == 1 and history[0].startswith("messages_p"), history
        # the group commit's retry lookup for two rooms: one partition each, however many there are (at this
        # size the planner would rather scan the little tables whole; a real one has no choice)
        room_at = {r["p"]: r["room_id"] for r in await con.fetch(
            "SELECT room_id, tableoid::regclass::text AS p FROM messages WHERE seq = 1 ORDER BY room_id DESC")}
        two = sorted(room_at.items())[:2]  # two rooms in different partitions
        async with con.transaction():
            await con.execute("SET LOCAL enable_seqscan = off; SET LOCAL enable_hashjoin = off;"
                              " SET LOCAL enable_mergejoin = off")
            retry = await explain(
                "SELECT room_id FROM messages WHERE (room_id, sender_id, client_id)"
                " IN (SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::uuid[]))",
                [room for _, room in two], [1, 2], [uuid.uuid4(), uuid.uuid4()])
        assert sorted(retry) == [p for p, _ in two], retry
    on_connection(database, work)
