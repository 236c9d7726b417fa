"""Queries for profiles, user search, last seen and the contacts presence is pushed to.

A profile row is created on first use (an update or a disconnect); a user without one has no display
name, about or avatar, was never seen, and has the default visibility (a NULL level means the default
of protocol/people.py, so a changed default applies to everyone who did not choose).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg

from chatd.auth.visibility import levels
from chatd.persistence.bridge import bridged
from chatd.protocol.people import PROFILE_FIELDS, Level, ProfileField

TEXT_FIELDS = ("display_name", "about", "avatar")

# $1 is the viewer: `contact` says whether they currently share a room with the row's user
_COLUMNS = """
SELECT u.id, u.username, p.display_name, p.about, p.avatar, p.last_seen,
       p.show_display_name, p.show_about, p.show_avatar, p.show_last_seen,
       EXISTS (SELECT 1 FROM room_members mine JOIN room_members theirs ON theirs.room_id = mine.room_id
                WHERE mine.user_id = $1 AND theirs.user_id = u.id
                  AND mine.left_seq IS NULL AND theirs.left_seq IS NULL) AS contact
"""


def _select(users: str) -> str:
    """The profile columns of the users in `users` (a table or a subquery with id and username) as u."""
    return f"{_COLUMNS} FROM {users} u LEFT JOIN profiles p ON p.user_id = u.id"


# The first $4 usernames from the prefix $2 on, in index order (index users_username_prefix): an ordered
# scan that stops after $4 rows, in a custom and a generic plan alike (asyncpg prepares statements, and a
# generic plan cannot turn `LIKE $3` into an index range). The matches come first; LIKE keeps just those.
_SEARCH = _select("""(SELECT id, username FROM users
                       WHERE lower(username) COLLATE "C" >= $2 AND NOT disabled
                       ORDER BY lower(username) COLLATE "C" LIMIT $4)""") + """
 WHERE lower(u.username) COLLATE "C" LIKE $3 ESCAPE '\\' ORDER BY lower(u.username) COLLATE "C"
"""


@dataclass(frozen=True, slots=True)
class ProfileRow:
    """A user's whole profile plus whether the viewer it was read for is a contact; not yet filtered."""

    user: int
    username: str
    display_name: str | None
    about: str | None
    avatar: str | None
    last_seen: int | None  # ms since the epoch of the last disconnect stored
    levels: dict[ProfileField, Level]
    contact: bool


def _ms(t: datetime | None) -> int | None:
    return round(t.timestamp() * 1000) if t is not None else None


def _row(r: Any) -> ProfileRow:
    return ProfileRow(r["id"], r["username"], r["display_name"], r["about"], r["avatar"], _ms(r["last_seen"]),
                      levels({name: r[f"show_{name}"] for name in PROFILE_FIELDS}), r["contact"])


def like_prefix(query: str) -> str:
    """A LIKE pattern matching what starts with `query` (lower-cased), its wildcards taken literally."""
    escaped = query.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped + "%"


class ProfileQueries:
    pool: asyncpg.Pool

    @bridged
    async def profiles(self, viewer: int, users: list[int]) -> list[ProfileRow]:
        """The profiles of those `users` who exist and are not disabled, read for `viewer`."""
        rows = await self.pool.fetch(_select("users") + " WHERE u.id = ANY($2::bigint[]) AND NOT u.disabled",
                                     viewer, users)
        return [_row(r) for r in rows]

    @bridged
    async def search_users(self, viewer: int, query: str, limit: int) -> list[ProfileRow]:
        """Users whose username starts with `query`, ignoring case, in that order."""
        rows = await self.pool.fetch(_SEARCH, viewer, query.lower(), like_prefix(query), limit)
        return [_row(r) for r in rows]

    @bridged
    async def update_profile(self, user: int, texts: Mapping[str, str | None],
                             visibility: Mapping[ProfileField, Level]) -> None:
        """Set the given text fields (None clears one) and visibility levels; the rest stays."""
        values: dict[str, str | None] = {name: texts[name] for name in TEXT_FIELDS if name in texts}
        values.update({f"show_{name}": visibility[name] for name in PROFILE_FIELDS if name in visibility})
        if not values:
            return
        columns = list(values)  # only names from TEXT_FIELDS / PROFILE_FIELDS reach the SQL text
        await self.pool.execute(
            f"INSERT INTO profiles (user_id, {', '.join(columns)})"
            f" VALUES ($1, {', '.join(f'${i}' for i in range(2, len(columns) + 2))})"
            f" ON CONFLICT (user_id) DO UPDATE SET {', '.join(f'{c} = EXCLUDED.{c}' for c in columns)}",
            user, *values.values())

    @bridged
    async def save_last_seen(self, seen: Mapping[int, int]) -> None:
        """Store when each user (id -> ms since the epoch) was last seen; never moves it back."""
        users = sorted(seen)
        await self.pool.execute(
            "INSERT INTO profiles (user_id, last_seen)"
            " SELECT u, s FROM unnest($1::bigint[], $2::timestamptz[]) AS v(u, s)"
            " ON CONFLICT (user_id) DO UPDATE SET last_seen = GREATEST(profiles.last_seen, EXCLUDED.last_seen)",
            users, [datetime.fromtimestamp(seen[u] / 1000, UTC) for u in users])

    @bridged
    async def presence_audience(self, users: list[int], room_max: int) -> dict[int, tuple[Level, list[int]]]:
        """For each of `users`: the level of their last_seen and the contacts to push their presence to,
        those sharing a room of at most `room_max` current members with them now (a bigger room's members
        ask with get_presence: pushing to all of them would cost members² frames as everyone comes and goes).
        """
        rows = await self.pool.fetch(
            "SELECT s.id, p.show_last_seen,"
            " ARRAY(SELECT DISTINCT theirs.user_id FROM room_members mine"
            "  JOIN room_members theirs ON theirs.room_id = mine.room_id"
            "  WHERE mine.user_id = s.id AND mine.left_seq IS NULL AND theirs.left_seq IS NULL"
            "    AND theirs.user_id <> s.id"
            "    AND (SELECT count(*) FROM (SELECT 1 FROM room_members n WHERE n.room_id = mine.room_id"
            "         AND n.left_seq IS NULL LIMIT $2 + 1) size) <= $2) AS contacts"
            " FROM unnest($1::bigint[]) AS s(id) LEFT JOIN profiles p ON p.user_id = s.id", users, room_max)
        return {r["id"]: (levels({"last_seen": r["show_last_seen"]})["last_seen"], list(r["contacts"]))
                for r in rows}
