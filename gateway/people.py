"""People requests: profiles with per-field visibility, user search, presence (docs/protocol.md section 7).

What the asker may see is decided here, per field, by auth/visibility.py, from the profile row and
whether the asker currently shares a room with its owner (computed by the same query). Search and
looking up other people are rate-limited per user in Redis, so the user table cannot be read off quickly.
"""

from __future__ import annotations

import re

from chatd.actors.reply import Reply
from chatd.auth.visibility import may_see, text_problem
from chatd.gateway.checks import check_picture, look_up, spend
from chatd.gateway.context import Context
from chatd.persistence.cache import Seen
from chatd.persistence.profiles import TEXT_FIELDS, ProfileRow
from chatd.protocol import frames as f
from chatd.protocol import people as p
from chatd.protocol.errors import ErrorCode, Refusal

PRESENCE_RETRY_AFTER = 5.0
USERNAME_CHARS = re.compile(r"[A-Za-z0-9_.]*")  # what usernames are made of (protocol.frames.USERNAME_RE)


async def _views(cx: Context, rows: list[ProfileRow]) -> list[p.ProfileInfo]:
    seen = await cx.services.cache.presence([r.user for r in rows], cx.services.config.presence_ttl)
    return [profile_view(r, cx.me, seen.get(r.user) if seen is not None else None) for r in rows]


async def update_profile(cx: Context, req: p.UpdateProfile, reply: Reply) -> None:
    texts = {name: value for name in TEXT_FIELDS if (value := getattr(req, name)) is not None}
    if not texts and not req.visibility:
        raise Refusal(ErrorCode.BAD_REQUEST, "update_profile names nothing to change")
    for name, value in texts.items():
        problem = text_problem(name, value)
        if problem:
            raise Refusal(ErrorCode.BAD_REQUEST, problem)
    await check_picture(cx, "avatar", req.avatar)
    await cx.services.store.update_profile(cx.me, {k: v or None for k, v in texts.items()},
                                        req.visibility or {})
    reply.send(await _profile_reply(cx, req.id, cx.me))


async def get_profile(cx: Context, req: p.GetProfile, reply: Reply) -> None:
    if req.user is None:
        reply.send(await _profile_reply(cx, req.id, cx.me))
        return
    if req.user != cx.me:
        await look_up(cx, 1)
    if isinstance(req.user, str) and not USERNAME_CHARS.fullmatch(req.user):
        raise Refusal(ErrorCode.NOT_FOUND, f"no such user: {req.user}")
    found = await cx.services.store.resolve_users([req.user])
    if req.user not in found:
        raise Refusal(ErrorCode.NOT_FOUND, f"no such user: {req.user}")
    reply.send(await _profile_reply(cx, req.id, found[req.user][0]))


async def _profile_reply(cx: Context, req_id: int, user: int) -> f.Frame:
    rows = await cx.services.store.profiles(cx.me, [user])
    if not rows:  # disabled between the lookup and now
        raise Refusal(ErrorCode.NOT_FOUND, f"no such user: {user}")
    (view,) = await _views(cx, rows)
    return p.Profile(id=req_id, profile=view)


async def search_users(cx: Context, req: p.SearchUsers, reply: Reply) -> None:
    await spend(cx, "search", cx.services.config.searches_per_minute, 1, "too many searches, wait and try again")
    if not USERNAME_CHARS.fullmatch(req.query):
        reply.send(p.Users(id=req.id, users=[]))  # no username has such a character
        return
    rows = await cx.services.store.search_users(cx.me, req.query, req.limit)
    reply.send(p.Users(id=req.id, users=await _views(cx, rows)))


async def get_presence(cx: Context, req: p.GetPresence, reply: Reply) -> None:
    wanted = list(dict.fromkeys(req.users))
    await look_up(cx, sum(1 for u in wanted if u != cx.me))
    rows = {r.user: r for r in await cx.services.store.profiles(cx.me, wanted)}
    seen = await cx.services.cache.presence(list(rows), cx.services.config.presence_ttl)
    if seen is None:
        raise Refusal(ErrorCode.RETRY, "presence is unavailable right now, try again later",
                      retry_after=PRESENCE_RETRY_AFTER)
    entries = []
    for user in wanted:
        row = rows.get(user)
        if row is not None:  # unknown and disabled users are left out
            online, last_seen = presence_view(row, cx.me, seen[user])
            entries.append(p.PresenceInfo(user=user, online=online, last_seen=last_seen))
    reply.send(p.Presence(id=req.id, users=entries))


def presence_view(row: ProfileRow, viewer: int, seen: Seen | None) -> tuple[bool | None, int | None]:
    """(online, last_seen) as `viewer` may see them: both None when last_seen is hidden from them.

    Online users have no last_seen; an offline user's is the later of the stored disconnect and the last
    renewal by a node that died. `seen` None (Redis unavailable): online unknown, the stored last_seen.
    """
    if not may_see(row.levels["last_seen"], own=row.user == viewer, contact=row.contact):
        return None, None
    if seen is None:
        return None, row.last_seen
    if seen.online:
        return True, None
    known = [t for t in (row.last_seen, seen.last_seen) if t is not None]
    return False, max(known) if known else None


def profile_view(row: ProfileRow, viewer: int, seen: Seen | None) -> p.ProfileInfo:
    """The fields of `row` that `viewer` may see; the owner also gets every field's visibility level."""
    own = row.user == viewer

    def shown(name: p.ProfileField, value: str | None) -> str | None:
        return value if may_see(row.levels[name], own=own, contact=row.contact) else None
    online, last_seen = presence_view(row, viewer, seen)
    return p.ProfileInfo(user=row.user, username=row.username, display_name=shown("display_name", row.display_name),
                         about=shown("about", row.about), avatar=shown("avatar", row.avatar), online=online,
                         last_seen=last_seen, visibility=dict(row.levels) if own else None)
