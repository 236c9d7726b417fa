"""How each table would be laid out on a distributed Postgres (Citus-style): the one place that says it.

Nothing at run time reads this map; tests/test_schema_shapes.py checks the migrated schema against it, and
a table missing from it fails that test, so a new table must be classified here (docs/storage.md section 5).

Each table is one of:

- **distributed** by a column: its rows are hash-sharded on that column's value. Tables whose columns hold
  the same kind of value are in one co-location group (`room`: `rooms.id` and every per-room table's
  `room_id`; `user`: a user id; `device`: a device id; `invite_code`: an invite code...), and rows of one
  group with the same value live on the same shard.
- **reference**: a full copy on every node (small, read from any shard, joined with any table).

The rules Citus enforces on them, which the test checks mechanically:

1. A distributed table's distribution column exists and is NOT NULL, and all tables of a co-location group
   give it the same type.
2. Every PRIMARY KEY, UNIQUE and EXCLUDE constraint and every unique index of a distributed table has the
   distribution column among its key columns (a plain column, not an expression; INCLUDE columns do not
   count). Each shard checks uniqueness alone, so a key without that column could not be enforced.
3. A FOREIGN KEY between two distributed tables joins co-located tables (one group) and maps the
   referencing table's distribution column to the referenced table's one, so the referenced row is on the
   same shard. Its ON DELETE may not be SET NULL / SET DEFAULT and its ON UPDATE may not be CASCADE /
   SET NULL / SET DEFAULT (either would move the row to another shard).
4. A FOREIGN KEY from a distributed table to a reference table is fine, and so is one between reference
   tables; a reference table may not reference a distributed table (its copy on every node could not check it).

One more rule is this repository's convention, not Citus's, and checked with them:

5. A distributed table has a primary key, and it leads with the distribution column (a room's rows lie
   together in the index, and every per-room table is keyed the same way).

Declarative hash partitioning by the same column (migration 0017) enforces rule 2 in plain Postgres as well:
a unique key of a partitioned table must include the partition key.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Distributed:
    """Hash-sharded by `column`, co-located with the other tables of `group`; `why` when it is not obvious."""

    column: str
    group: str
    why: str = ""


@dataclass(frozen=True)
class Reference:
    """Copied to every node, for the reason given."""

    why: str


Layout = Distributed | Reference


def _room(why: str = "") -> Distributed:
    return Distributed("room_id", "room", why)


TABLES: dict[str, Layout] = {
    # per room: every query names its room, so each goes to one shard
    "rooms": Distributed("id", "room", "the room row itself: its id is the room's distribution value"),
    "room_members": _room(),
    "messages": _room(),
    "mentions": _room(),
    "message_edits": _room(),
    "room_visibility": _room(),
    "room_bans": _room(),
    "invite_links": _room("keyed (room_id, code) since 0018: a join names its room (from invite_codes first)"),
    "invite_joins": _room("keyed (room_id, code, user_id, seq) since 0018, referencing invite_links within the room"),
    "media_refs": _room("written in the room's commit; keyed (room_id, seq, media_id) since 0018, and its foreign "
                        "key goes to media, a reference table. A download's lookup by media_id reads every shard "
                        "(an index on each), which is a read, not a constraint"),
    "push_marks": _room("keyed (room_id, user_id) like the room_members row it references, in the same shard"),
    "push_outbox": _room("one job per (user, room), written by the scan of the room's messages; keyed "
                         "(room_id, user_id) since 0018. The sender's claim of due jobs across rooms is a "
                         "multi-shard row lock (docs/storage.md section 5)"),
    # per user
    "direct_rooms": Distributed("user_low", "user", "one direct room per pair (0018): keyed by the pair's lower "
                                "user id, so the pair's row is on one shard; its room_id names a room in "
                                "another group, so it has no foreign key to rooms"),
    "key_backups": Distributed("user_id", "user"),
    "key_backup_entries": Distributed("user_id", "user"),
    "upload_usage": Distributed("user_id", "user"),
    # per device: queues a device drains
    "one_time_keys": Distributed("device_id", "device", "claimed one by one (DELETE ... RETURNING) per device"),
    "to_device": Distributed("device_id", "device", "the device's inbox; its retry key includes device_id "
                             "since 0018"),
    # by their own key: looked up by it alone, nothing co-located needed
    "invite_codes": Distributed("code", "invite_code", "code -> room lookup (0018): a join or preview knows only "
                                "the code; global uniqueness of codes is its primary key"),
    "push_failures": Distributed("id", "push_failure", "an append-only log nothing references; reads of it by "
                                 "user or age go to every shard, and are rare"),
    # reference: account-level tables read at every connection or request, from any node
    "users": Reference("every table names users; joined with members, senders and mentions in any shard"),
    "devices": Reference("checked by id at hello and every request; referenced by tokens, subscriptions and keys"),
    "refresh_tokens": Reference("looked up by token hash alone at a refresh; references devices"),
    "profiles": Reference("joined with room members' lists and user searches from any shard"),
    "push_subscriptions": Reference("unique by endpoint across users (a browser changes hands); few per user"),
    "device_keys": Reference("set once per device and read by every member's key query; one_time_keys "
                             "reference it"),
    "media": Reference("looked up by id from any room (a forwarded item), thumbnails reference their original by "
                       "id, and media_refs in every room reference it; one row per upload"),
    "media_doomed_blobs": Reference("a handful of blobs waiting to be deleted"),
    "schema_migrations": Reference("the migrations applied: bookkeeping"),
}
