"""The migrated schema keeps the rules of a distributed Postgres (persistence/distribution.py, Citus's rules).

Citus itself is not installable here, so what is checked is the shape of every key, read from pg_catalog
on the real schema after all migrations: the rules a sharded Postgres would refuse a CREATE for.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import asyncpg
import pytest

from chatd.persistence.distribution import TABLES, Distributed, Layout, Reference
from chatd.persistence.invites import link_by_code
from chatd.persistence.migrate import apply_migrations, migration_files
from tests.conftest import Backing, fresh_database, on_connection

T = TypeVar("T")

# ON DELETE / ON UPDATE actions (pg_constraint.confdeltype / confupdtype) that move or blank the key
SET_NULL, SET_DEFAULT, CASCADE = "n", "d", "c"


@dataclass(frozen=True)
class Table:
    name: str
    columns: dict[int, tuple[str, bool, str]]  # attnum -> (name, NOT NULL, type)


@dataclass(frozen=True)
class Key:
    table: str
    name: str
    columns: list[str | None]  # None: an expression
    primary: bool = False


@dataclass(frozen=True)
class ForeignKey:
    name: str
    table: str
    columns: list[str]
    target: str
    target_columns: list[str]
    on_delete: str
    on_update: str


@dataclass(frozen=True)
class Schema:
    tables: dict[str, Table]
    keys: list[Key]
    foreign_keys: list[ForeignKey]


async def read_schema(con: asyncpg.Connection, schema: str) -> Schema:
    """Top-level tables (a partition is checked through its parent) with their unique keys and foreign keys."""
    rows = await con.fetch(
        "SELECT c.oid, c.relname, a.attnum, a.attname, a.attnotnull, format_type(a.atttypid, a.atttypmod) AS type"
        " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped"
        " WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') AND NOT c.relispartition", schema)
    by_oid: dict[int, Table] = {}
    for r in rows:
        by_oid.setdefault(r["oid"], Table(r["relname"], {})).columns[r["attnum"]] = (
            r["attname"], r["attnotnull"], r["type"])

    def names(oid: int, attnums: list[int]) -> list[str | None]:
        return [by_oid[oid].columns[a][0] if a else None for a in attnums]

    keys = [Key(by_oid[r["conrelid"]].name, r["conname"], names(r["conrelid"], list(r["conkey"])),
                r["contype"] == b"p")
            for r in await con.fetch(
                "SELECT conrelid, conname, conkey, contype FROM pg_constraint"
                " WHERE contype IN ('p', 'u', 'x') AND conparentid = 0 AND conrelid = ANY($1::oid[])", list(by_oid))]
    keys += [Key(by_oid[r["indrelid"]].name, r["relname"],
                 names(r["indrelid"], [int(a) for a in r["indkey"].split()][:r["indnkeyatts"]]))
             for r in await con.fetch(
                 "SELECT i.indrelid, c.relname, i.indkey::text AS indkey, i.indnkeyatts FROM pg_index i"
                 " JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indisunique AND i.indrelid = ANY($1::oid[])"
                 " AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid"
                 "                 AND k.conrelid = i.indrelid AND k.contype IN ('p', 'u', 'x'))",
                 list(by_oid))]
    fks = [ForeignKey(r["conname"], by_oid[r["conrelid"]].name, [str(c) for c in names(r["conrelid"], r["conkey"])],
                      by_oid[r["confrelid"]].name, [str(c) for c in names(r["confrelid"], r["confkey"])],
                      r["confdeltype"].decode(), r["confupdtype"].decode())  # "char" comes as bytes
           for r in await con.fetch(
               "SELECT conname, conrelid, conkey, confrelid, confkey, confdeltype, confupdtype FROM pg_constraint"
               " WHERE contype = 'f' AND conparentid = 0 AND conrelid = ANY($1::oid[])", list(by_oid))]
    return Schema({t.name: t for t in by_oid.values()}, keys, fks)


def violations(schema: Schema, layout: Mapping[str, Layout]) -> Iterator[str]:
    """Every break of the rules in persistence/distribution.py's docstring, one line each."""
    for name in sorted(set(schema.tables) - set(layout)):
        yield f"{name}: not classified in persistence/distribution.py"
    for name in sorted(set(layout) - set(schema.tables)):
        yield f"{name}: classified in persistence/distribution.py but no such table"
    group_types: dict[str, set[tuple[str, str]]] = {}
    for name, table in sorted(schema.tables.items()):
        place = layout.get(name)
        if not isinstance(place, Distributed):
            continue
        column = {c[0]: c for c in table.columns.values()}.get(place.column)
        if column is None:
            yield f"{name}: no distribution column {place.column}"
            continue
        if not column[1]:
            yield f"{name}: distribution column {place.column} may be NULL"
        group_types.setdefault(place.group, set()).add((column[2], name))
    for group, types in sorted(group_types.items()):
        if len({t for t, _ in types}) > 1:
            yield f"group {group}: distribution columns of different types {sorted(types)}"
    for key in schema.keys:
        place = layout.get(key.table)
        if isinstance(place, Distributed) and place.column not in key.columns:
            yield f"{key.table}: unique key {key.name} {key.columns} lacks distribution column {place.column}"
        elif isinstance(place, Distributed) and key.primary and key.columns[0] != place.column:
            yield f"{key.table}: primary key {key.name} {key.columns} does not lead with {place.column}"
    keyed = {key.table for key in schema.keys if key.primary}
    for name in sorted(schema.tables):
        if isinstance(layout.get(name), Distributed) and name not in keyed:
            yield f"{name}: distributed table without a primary key"
    for fk in schema.foreign_keys:
        source, target = layout.get(fk.table), layout.get(fk.target)
        if isinstance(source, Reference) and isinstance(target, Distributed):
            yield f"{fk.table}: reference table's foreign key {fk.name} points into distributed {fk.target}"
        if not (isinstance(source, Distributed) and isinstance(target, Distributed)):
            continue
        where = f"{fk.table}: foreign key {fk.name} to {fk.target}"
        if source.group != target.group:
            yield f"{where} crosses co-location groups ({source.group} -> {target.group})"
            continue
        pairs = list(zip(fk.columns, fk.target_columns, strict=True))
        if (source.column, target.column) not in pairs:
            yield f"{where} does not map {source.column} to {target.column}: {pairs}"
            continue
        if fk.on_delete in (SET_NULL, SET_DEFAULT):
            yield f"{where}: ON DELETE SET NULL/DEFAULT would blank the distribution column"
        if fk.on_update in (SET_NULL, SET_DEFAULT, CASCADE):
            yield f"{where}: ON UPDATE {fk.on_update} would change the distribution column"


@pytest.fixture(scope="module")
def migrated(backing: Backing) -> Schema:
    async def read(con: asyncpg.Connection) -> Schema:
        await apply_migrations(con)  # what a starting node does (no-op if one did)
        return await read_schema(con, "public")
    return on_connection(backing.database_url, read)


def test_every_table_is_classified_and_exists(migrated: Schema) -> None:
    problems = [v for v in violations(migrated, TABLES) if "classified" in v]
    assert not problems, "\n".join(problems)


def test_the_schema_keeps_the_distributed_key_rules(migrated: Schema) -> None:
    problems = list(violations(migrated, TABLES))
    assert not problems, "\n".join(problems)


def test_the_core_room_tables_are_co_located_by_room_id(migrated: Schema) -> None:
    core = ("rooms", "room_members", "messages", "mentions", "message_edits", "invite_links", "invite_joins")
    places = [TABLES[t] for t in core]
    assert [p.group if isinstance(p, Distributed) else p for p in places] == ["room"] * len(core)
    assert isinstance(TABLES["users"], Reference)


PROBE = """
CREATE TABLE rooms (id bigint PRIMARY KEY, direct_key text UNIQUE);
CREATE TABLE members (room_id bigint REFERENCES rooms (id) ON UPDATE CASCADE, user_id bigint NOT NULL,
                      PRIMARY KEY (room_id, user_id));
CREATE TABLE users (id bigint PRIMARY KEY, name text);
CREATE UNIQUE INDEX users_name ON users (lower(name));
CREATE TABLE links (code text PRIMARY KEY, room_id bigint REFERENCES rooms (id),
                    created_by bigint REFERENCES users (id));
CREATE UNIQUE INDEX links_code_lower ON links (room_id, lower(code));
CREATE TABLE joins (code text NOT NULL, room_id bigint NOT NULL, user_id bigint REFERENCES users (id),
                    FOREIGN KEY (room_id, user_id) REFERENCES members (room_id, user_id),
                    FOREIGN KEY (code) REFERENCES links (code));
CREATE TABLE notes (user_id bigint NOT NULL REFERENCES users (id), room_id bigint REFERENCES rooms (id));
CREATE TABLE audit (room_id bigint);
CREATE TABLE part (room_id bigint NOT NULL, seq bigint NOT NULL, PRIMARY KEY (room_id, seq))
    PARTITION BY HASH (room_id);
CREATE TABLE part_0 PARTITION OF part FOR VALUES WITH (MODULUS 2, REMAINDER 0);
CREATE TABLE part_1 PARTITION OF part FOR VALUES WITH (MODULUS 2, REMAINDER 1);
CREATE TABLE uclass (room_id bigint NOT NULL, seq bigint NOT NULL UNIQUE);
CREATE TABLE refs (user_id bigint REFERENCES users (id), room_id bigint REFERENCES rooms (id));
CREATE TABLE late (user_id bigint, room_id bigint NOT NULL, PRIMARY KEY (user_id, room_id));
"""


def test_the_checker_finds_each_kind_of_break(backing: Backing) -> None:
    """On a small schema that breaks each rule once (the checker is what keeps the real schema honest)."""
    room = Distributed("room_id", "room")
    layout: dict[str, Layout] = {
        "rooms": Distributed("id", "room"), "members": room, "users": Reference("r"), "links": room, "joins": room,
        "notes": Distributed("user_id", "user"), "part": room, "uclass": room, "refs": Reference("r"), "late": room,
        "gone": Reference("r")}
    assert backing.database_url
    with fresh_database(backing.database_url) as url:
        async def probe(con: asyncpg.Connection) -> Schema:
            await con.execute(PROBE)
            return await read_schema(con, "public")
        found = sorted(violations(on_connection(url, probe), layout))
    assert found == sorted([
        "audit: not classified in persistence/distribution.py",
        "gone: classified in persistence/distribution.py but no such table",
        "rooms: unique key rooms_direct_key_key ['direct_key'] lacks distribution column id",
        "links: unique key links_pkey ['code'] lacks distribution column room_id",
        "links: distribution column room_id may be NULL",
        "members: foreign key members_room_id_fkey to rooms: ON UPDATE c would change the distribution column",
        "joins: foreign key joins_code_fkey to links does not map room_id to room_id: [('code', 'code')]",
        "notes: foreign key notes_room_id_fkey to rooms crosses co-location groups (user -> room)",
        "uclass: unique key uclass_seq_key ['seq'] lacks distribution column room_id",
        "refs: reference table's foreign key refs_room_id_fkey points into distributed rooms",
        "late: primary key late_pkey ['user_id', 'room_id'] does not lead with room_id",
        "joins: distributed table without a primary key",
        "notes: distributed table without a primary key",
        "uclass: distributed table without a primary key",
    ])


async def _up_to_0017(con: asyncpg.Connection) -> None:
    """The schema as it stood before 0018, with the rows 0018 converts."""
    await con.execute("CREATE TABLE schema_migrations (version int PRIMARY KEY, name text NOT NULL,"
                      " applied_at timestamptz NOT NULL DEFAULT now())")
    for version, name, sql in migration_files():
        if version < 18:
            await con.execute(sql)
            await con.execute("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", version, name)
    await con.execute("""
        INSERT INTO users (id, username, email, password_hash) VALUES
            (7, 'ann', 'ann@example.com', ''), (12, 'bob', 'bob@example.com', ''), (30, 'cy', 'cy@example.com', '');
        INSERT INTO rooms (id, kind, direct_key) VALUES (100, 'direct', '7:12'), (101, 'direct', '12:30');
        INSERT INTO rooms (id, kind, name, created_by) VALUES (102, 'group', 'club', 7);
        INSERT INTO room_members (room_id, user_id, joined_seq) VALUES (102, 7, 1), (102, 30, 2);
        INSERT INTO invite_links (code, room_id, created_by, max_uses, use_count) VALUES
            ('old-code-one', 102, 7, 5, 1), ('old-code-two', 102, 7, NULL, 0);
        INSERT INTO invite_joins (code, room_id, user_id, seq) VALUES ('old-code-one', 102, 30, 2);
        INSERT INTO devices (id, user_id) VALUES ('00000000-0000-0000-0000-000000000001', 12);
        INSERT INTO to_device (device_id, user_id, sender_id, sender_device, txn, part, body) VALUES
            ('00000000-0000-0000-0000-000000000001', 12, 7, '00000000-0000-0000-0000-000000000002',
             '00000000-0000-0000-0000-000000000003', 1, 'sealed');
        INSERT INTO media (id, uploader, sha256, mime, size) VALUES ('pic', 7, repeat('a', 64), 'image/png', 3);
        INSERT INTO media_refs (media_id, room_id, seq) VALUES ('pic', 102, 3);
        INSERT INTO push_outbox (user_id, room_id, count, last_seq) VALUES (30, 102, 1, 3);
    """)


def test_0018_converts_existing_rows_in_place(backing: Backing) -> None:
    """Direct rooms keep their pair, old invite codes still lead to their link, and the join audit, to-device
    messages, media references and pending pushes stay."""
    async def convert(con: asyncpg.Connection) -> dict[str, Any]:
        await _up_to_0017(con)
        applied = await apply_migrations(con)
        return {
            "applied": [v for v in applied if v >= 18],
            "direct": [tuple(r) for r in await con.fetch(
                "SELECT user_low, user_high, room_id FROM direct_rooms ORDER BY room_id")],
            "codes": [tuple(r) for r in await con.fetch("SELECT code, room_id FROM invite_codes ORDER BY code")],
            "link": await link_by_code(con, "old-code-one"),
            "unknown": await link_by_code(con, "no-such-code"),
            "joins": [tuple(r) for r in await con.fetch("SELECT room_id, code, user_id, seq FROM invite_joins")],
            "inbox": await con.fetchval("SELECT count(*) FROM to_device"),
            "refs": [tuple(r) for r in await con.fetch("SELECT room_id, seq, media_id FROM media_refs")],
            "outbox": [tuple(r) for r in await con.fetch("SELECT room_id, user_id, count FROM push_outbox")],
        }
    with fresh_database(backing.database_url) as url:
        got = on_connection(url, convert)
    assert got["applied"][:1] == [18]
    assert got["direct"] == [(7, 12, 100), (12, 30, 101)]
    assert got["codes"] == [("old-code-one", 102), ("old-code-two", 102)]
    link = got["link"]
    assert isinstance(link, dict) and (link["room_id"], link["max_uses"], link["use_count"]) == (102, 5, 1)
    assert got["unknown"] is None
    assert got["joins"] == [(102, "old-code-one", 30, 2)] and got["inbox"] == 1
    assert got["refs"] == [(102, 3, "pic")] and got["outbox"] == [(102, 30, 1)]
