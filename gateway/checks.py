"""What handlers check before they act: per-user budgets, pictures, the people a request names, membership.

Authorization happens where the data lives: membership checks in the room actor, visibility checks in the
history query. A request for a room whose actor is not running is refused here unless its sender is a member
(`member_of`), so that it cannot start the actor.
"""

from __future__ import annotations

import re

from chatd.actors.items import RoomItem
from chatd.actors.rules import no_such_room, not_a_member
from chatd.gateway.context import Context
from chatd.protocol import frames as f
from chatd.protocol.errors import ErrorCode, Refusal


async def spend(cx: Context, what: str, limit: int, cost: int, message: str) -> None:
    """Take `cost` from this user's per-minute budget `what` (Redis), or refuse with rate_limited."""
    wait = await cx.services.cache.hit(f"{what}:{cx.me}", limit, 60, cost)
    if wait is not None:
        raise Refusal(ErrorCode.RATE_LIMITED, message, retry_after=wait)


async def look_up(cx: Context, users: int) -> None:
    """Naming or looking at other people: `users` of the per-minute lookup budget, paid before the answer is
    known, so that no one can find out quickly which usernames exist."""
    if users:
        await spend(cx, "lookup", cx.services.config.lookups_per_minute, users,
                    "too many profile, presence or user lookups, wait and try again")


async def check_picture(cx: Context, what: str, value: str | None) -> None:
    """An avatar or icon that is a media id must be an image this user uploaded (it then becomes readable by
    whoever may see it); anything else is kept as text (e.g. a URL)."""
    if value and re.fullmatch(f.MEDIA_ID_RE, value) and not await cx.services.store.owns_image(cx.me, value):
        raise Refusal(ErrorCode.NOT_FOUND, f"{what}: you uploaded no image {value}")


async def resolve(cx: Context, refs: list[int | str]) -> list[int]:
    """The user ids of the users `refs` names (ids or usernames), paid from the lookup budget."""
    await look_up(cx, sum(1 for r in dict.fromkeys(refs) if r != cx.me))
    found = await cx.services.store.resolve_users(refs)
    missing = [str(r) for r in refs if r not in found]
    if missing:
        raise Refusal(ErrorCode.NOT_FOUND, f"no such user: {', '.join(missing[:10])}")
    return list(dict.fromkeys(found[r][0] for r in refs))


async def member_of(cx: Context, room: int, what: str = "") -> None:
    """Refuse a request for `room` from anyone but a current member before it can start the room's actor
    (which loads the room from Postgres), so a stranger cannot pull rooms into memory. A running actor
    checks the request itself against the membership it holds: no query on that, the hot, path. A
    stopped one starts only once Postgres says yes, and joins are stored there before they are
    acknowledged, so a room the user was just added to (on any process) is reachable at once."""
    if cx.services.rooms.is_online(room):
        return
    member = await cx.services.store.is_current_member(cx.me, room)
    if member is None:
        raise Refusal(ErrorCode.NOT_FOUND, what + no_such_room(room))
    if not member:
        raise Refusal(ErrorCode.FORBIDDEN, what + not_a_member(room))


async def to_room(cx: Context, room: int, item: RoomItem) -> None:
    """Hand a member's request to the room's actor (no checkpoint between the check and the put)."""
    await member_of(cx, room)
    await cx.services.rooms.put(room, item)
