"""History as it was at a seq: the SQL that reads what migration 0013 keeps.

The room's history_visibility log (`room_visibility`, by seq) comes with each history or backlog query as
two arrays (`VISIBILITY_LOG`); protocol/history.py applies it.

An edit, delete or reaction stores the message's previous body, edited_at, deleted, media and reactions in
`message_edits` under the seq of its event (persistence/messages.py `_apply`). A former member, whose
membership ended at left_seq L, sees each message as it was at L: for a message changed after L, the
version the first change after L replaced. Everyone else, and every message not changed after L, reads the
`messages` row as it is: the join is gated on L, so current members pay nothing for it.
"""

from __future__ import annotations

from typing import Any

from chatd.protocol.rooms import Visibility

VISIBILITY_LOG = ("SELECT array_agg(v.from_seq ORDER BY v.from_seq) AS vis_from,"
                  " array_agg(v.visibility ORDER BY v.from_seq) AS vis FROM room_visibility v")


def visibility_log(row: Any) -> list[tuple[int, Visibility]]:
    """The room's history_visibility log from a row that selected VISIBILITY_LOG's columns."""
    return list(zip(row["vis_from"] or (), row["vis"] or (), strict=True))


VERSIONED = ("body", "edited_at", "deleted", "media", "reactions", "encrypted")  # what a change may change


def as_of_columns(m: str = "m", e: str = "e") -> str:
    """The versioned columns of message `m`, from the old version `e` where `as_of_join` found one."""
    return ", ".join(f"CASE WHEN {e}.deleted IS NULL THEN {m}.{c} ELSE {e}.{c} END AS {c}" for c in VERSIONED)


def as_of_join(left_seq: str, m: str = "m", e: str = "e") -> str:
    """A LEFT JOIN (alias `e`) to the version of message `m` at seq `left_seq` (an SQL expression; NULL: the
    reader is a current member and sees the latest, with no lookup)."""
    return (f" LEFT JOIN LATERAL (SELECT {', '.join(f'x.{c}' for c in VERSIONED)} FROM message_edits x"
            f" WHERE {left_seq} IS NOT NULL AND x.room_id = {m}.room_id AND x.seq = {m}.seq"
            f" AND x.edit_seq > {left_seq} ORDER BY x.edit_seq LIMIT 1) {e} ON true")


def as_of_select(m: str = "m") -> str:
    """Every message column of `m` (an alias in FROM, followed by `as_of_join`), as of that join's seq."""
    return (f"{m}.room_id, {m}.seq, {m}.sender_id, {m}.client_id, {m}.kind, {m}.event, {m}.created_at, {m}.reply_to, "
            + as_of_columns(m))


def deleted_as_of(left_seq: str, m: str = "m") -> str:
    """Whether message `m` was deleted at seq `left_seq` (NULL: now). A delete is a message's last change, so
    it came after `left_seq` exactly when some change did; the lookup only runs for a deleted message
    and a former member."""
    return (f"({m}.deleted AND NOT ({left_seq} IS NOT NULL AND EXISTS (SELECT 1 FROM message_edits x"
            f" WHERE x.room_id = {m}.room_id AND x.seq = {m}.seq AND x.edit_seq > {left_seq})))")
