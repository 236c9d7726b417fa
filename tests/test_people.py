"""People through the real server: profiles with per-field visibility, user search and presence.

Visibility is checked from three seats: the owner, a room-mate (a contact) and a stranger. Presence is
checked across a clean close, a TCP reset, and a node killed with SIGKILL (its users must not stay online).
"""

from __future__ import annotations

import asyncio
import math
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import pytest
import trio

from chatd.clients.ws import ChatClient
from chatd.node import Node
from chatd.protocol import frames as f
from chatd.protocol import people as p
from chatd.runtime.config import Config
from tests.conftest import PASSWORD, Backing, People, Person, make_config, start_node
from tests.faultproxy import fault_proxy
from tests.faults.rawws import RawWebSocket
from tests.faults.services import ChatdProcess

TTL = 1.0  # presence TTL of the test nodes: a dead node's users go offline after this
SEARCHES = 10  # search_users per user and minute
LOOKUPS = 300  # other people's profiles / presence per user and minute
EVERYTHING = {"display_name", "about", "avatar", "last_seen"}


@pytest.fixture
def config(backing: Backing, tmp_path: Path) -> Config:
    return make_config(backing, tmp_path, presence_ttl=TTL, searches_per_minute=SEARCHES, lookups_per_minute=LOOKUPS)


def now_ms() -> int:
    return math.floor(time.time() * 1000)


def shown(info: p.ProfileInfo) -> set[str]:
    """The profile fields present in a view (last_seen counts as shown when online state is given)."""
    out = {name for name in ("display_name", "about", "avatar") if getattr(info, name) is not None}
    if info.online is not None or info.last_seen is not None:
        out.add("last_seen")
    return out


async def profile(client: ChatClient, user: int | str) -> p.ProfileInfo:
    return (await client.call(p.GetProfile, user=user)).profile  # type: ignore[no-any-return]


async def presence(client: ChatClient, user: int) -> p.PresenceInfo:
    (entry,) = (await client.call(p.GetPresence, users=[user])).users
    return entry  # type: ignore[no-any-return]


async def pushed(client: ChatClient, user: int, online: bool, timeout: float = 5) -> p.PresenceChanged:
    """The next presence_changed about `user` saying `online` (other frames are skipped)."""
    with trio.fail_after(timeout):
        while True:
            frame = await client.next_of(p.PresenceChanged, timeout=timeout)
            if frame.user == user and frame.online == online:
                return frame


def presence_pushes(client: ChatClient, user: int) -> list[p.PresenceChanged]:
    return [x for x in client.pending_pushes() if isinstance(x, p.PresenceChanged) and x.user == user]


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float) -> float:
    """Poll until `check` holds; returns when (trio clock)."""
    with trio.fail_after(timeout):
        while True:
            if await check():
                break
            await trio.sleep(0.05)
    return trio.current_time()


async def sql(url: str, statement: str, *args: Any) -> list[Any]:
    """Change the database behind the server's back (on a connection of its own, from a worker thread)."""
    async def run() -> list[Any]:
        con = await asyncpg.connect(url)
        try:
            return [tuple(r) for r in await con.fetch(statement, *args)]
        finally:
            await con.close()
    return await trio.to_thread.run_sync(asyncio.run, run())  # type: ignore[no-any-return]


async def signup_as(people: People, username: str) -> Person:
    client = await people.raw()
    auth = await client.call(f.Signup, username=username, email=f"{username}@example.com", password=PASSWORD)
    await client.disconnect()
    return Person(username, auth.user_id, auth.access_token, auth.refresh_token)


# ---------------------------------------------------------------------------------------------- profiles

async def test_each_field_follows_its_visibility_for_owner_room_mate_and_stranger(people: People) -> None:
    ann, ann_c = await people.new("ann")
    _, bob_c = await people.new("bob")  # shares a group with ann
    cat, cat_c = await people.new("cat")  # shares nothing with ann
    rid = (await bob_c.call(f.CreateGroup, name="mates", members=[ann.user_id])).room.room

    # defaults: everything public but last_seen (and with it online), which is for contacts
    mine = (await ann_c.call(p.UpdateProfile, display_name="Ann A.", about="hi there", avatar="https://x/a.png")
            ).profile
    assert mine.visibility == p.DEFAULT_VISIBILITY and mine.online is True
    assert (mine.display_name, mine.about, mine.avatar) == ("Ann A.", "hi there", "https://x/a.png")
    assert shown(await profile(bob_c, ann.username.upper())) == EVERYTHING
    stranger_view = await profile(cat_c, ann.user_id)
    assert shown(stranger_view) == {"display_name", "about", "avatar"}
    assert stranger_view.username == ann.username and stranger_view.visibility is None

    for level, mate_sees, stranger_sees in [("everyone", EVERYTHING, EVERYTHING), ("contacts", EVERYTHING, set()),
                                            ("nobody", set(), set())]:
        mine = (await ann_c.call(p.UpdateProfile, visibility=dict.fromkeys(p.PROFILE_FIELDS, level))).profile
        assert mine.visibility == dict.fromkeys(p.PROFILE_FIELDS, level)
        assert shown(mine) == EVERYTHING, "the owner always sees everything"
        assert shown(await profile(bob_c, ann.user_id)) == mate_sees, level
        assert shown(await profile(cat_c, ann.user_id)) == stranger_sees, level
        assert shown(await profile(ann_c, ann.user_id)) == EVERYTHING

    # fields are independent, one way ...
    await ann_c.call(p.UpdateProfile, visibility={"display_name": "contacts", "about": "nobody", "avatar": "everyone",
                                                  "last_seen": "everyone"})
    assert shown(await profile(bob_c, ann.user_id)) == {"display_name", "avatar", "last_seen"}
    assert shown(await profile(cat_c, ann.user_id)) == {"avatar", "last_seen"}
    # ... and the other; a partial update keeps the other levels
    await ann_c.call(p.UpdateProfile, visibility={"display_name": "nobody", "about": "everyone"})
    await ann_c.call(p.UpdateProfile, visibility={"avatar": "contacts", "last_seen": "nobody"})
    assert shown(await profile(bob_c, ann.user_id)) == {"about", "avatar"}
    view = await profile(cat_c, ann.user_id)
    assert shown(view) == {"about"} and view.about == "hi there"
    assert view.display_name is None and view.online is None and view.last_seen is None

    # contacts are people who share a room *now*: once bob left, he is a stranger
    await bob_c.call(f.Leave, room=rid)
    assert shown(await profile(bob_c, ann.user_id)) == {"about"}

    # a user with defaults, seen by a stranger: display name yes, online state no
    await cat_c.call(p.UpdateProfile, display_name="Cat")
    cat_view = await profile(ann_c, cat.username)
    assert cat_view.display_name == "Cat" and shown(cat_view) == {"display_name"}


async def test_update_profile_refuses_bad_input_with_the_field_named(people: People) -> None:
    _, c = await people.new("val")
    await c.call(p.UpdateProfile, display_name="Val", about="before")
    refused: list[tuple[dict[str, Any], str]] = [
        ({"display_name": "x" * 65}, "field 'display_name' allows at most 64 characters"),
        ({"about": "x" * 501}, "field 'about' allows at most 500 characters"),
        ({"avatar": "x" * 257}, "field 'avatar' allows at most 256 characters"),
        ({"display_name": 5}, "field 'display_name' must be string"),
        ({"visibility": {"about": "friends"}}, "visibility['about']"),
        ({"visibility": {"email": "nobody"}}, "'display_name', 'about', 'avatar', 'last_seen'"),
        ({"visibility": {}}, "field 'visibility' needs at least 1"),
        ({"display_name": "two\nlines"}, "display_name must not contain control characters"),
        ({"display_name": "   "}, "display_name must not be only spaces"),
        ({"display_name": "evil\u202eeman"}, "display_name must not contain bidirectional"),
        ({"about": "bell\x07"}, "about must not contain control characters"),
        ({"avatar": "a b"}, "avatar must not contain spaces"),
        ({}, "update_profile names nothing to change"),
    ]
    for fields, expected in refused:
        reply = await c.request(p.UpdateProfile, **fields)
        assert isinstance(reply, f.Error) and reply.code == "bad_request", (fields, reply)
        assert expected in reply.message, (fields, reply.message)
    mine = await profile(c, c.user_id or 0)
    assert (mine.display_name, mine.about) == ("Val", "before"), "a refused update changed nothing"

    longest = (await c.call(p.UpdateProfile, display_name="x" * 64, about="line\nline\t" + "y" * 490,
                            avatar="z" * 256)).profile
    assert longest.display_name == "x" * 64 and longest.avatar == "z" * 256
    cleared = (await c.call(p.UpdateProfile, display_name="", avatar="")).profile
    assert cleared.display_name is None and cleared.avatar is None and cleared.about == longest.about

    missing = await c.request(p.GetProfile, user=f"nobody_{uuid.uuid4().hex[:8]}")
    assert isinstance(missing, f.Error) and missing.code == "not_found" and "no such user" in missing.message
    before_hello = await people.raw()
    asks: list[tuple[type[f.Frame], dict[str, Any]]] = [
        (p.GetProfile, {}), (p.UpdateProfile, {"about": "x"}), (p.SearchUsers, {"query": "a"}),
        (p.GetPresence, {"users": [1]})]
    for kind, extra in asks:
        reply = await before_hello.request(kind, **extra)
        assert isinstance(reply, f.Error) and reply.code == "unauthorized" and "needs a hello" in reply.message


# ---------------------------------------------------------------------------------------------- search

async def test_search_by_username_prefix(people: People, backing: Backing) -> None:
    base = f"s{uuid.uuid4().hex[:7]}"
    named = [await signup_as(people, f"{base}_{i:02d}") for i in range(22)]
    decoy = await signup_as(people, f"{base}x2")  # '_' in a query must not match its 'x'
    _, me = await people.new("seeker")

    found = (await me.call(p.SearchUsers, query=base.upper() + "_")).users
    assert [u.username for u in found] == [n.username for n in named[:20]], "case-insensitive, sorted, 20 at most"
    assert [u.user for u in found] == [n.user_id for n in named[:20]]
    assert [u.username for u in (await me.call(p.SearchUsers, query=base, limit=3)).users] == \
        [n.username for n in named[:3]]
    assert decoy.username in [u.username for u in (await me.call(p.SearchUsers, query=base + "x")).users]
    assert (await me.call(p.SearchUsers, query=base + "%")).users == [], "'%' is not a wildcard"
    assert (await me.call(p.SearchUsers, query=f"{base}_0_")).users == []
    assert [u.username for u in (await me.call(p.SearchUsers, query=f"{base}_2")).users] == \
        [named[20].username, named[21].username], "'_' is not a wildcard"
    too_many = await me.request(p.SearchUsers, query=base, limit=21)
    assert isinstance(too_many, f.Error) and "field 'limit' must be between 1 and 20" in too_many.message

    # results carry only what the searcher may see
    owner = await people.connect(named[1])
    await owner.call(p.UpdateProfile, display_name="One", about="secret", avatar="av1",
                     visibility={"display_name": "contacts", "about": "nobody"})
    (hit,) = (await me.call(p.SearchUsers, query=named[1].username)).users
    assert hit == p.ProfileInfo(user=named[1].user_id, username=named[1].username, avatar="av1")

    # disabled accounts are not found
    await sql(backing.database_url, "UPDATE users SET disabled = true WHERE id = $1", named[0].user_id)
    assert [u.username for u in (await me.call(p.SearchUsers, query=base, limit=1)).users] == [named[1].username]


async def test_search_and_lookups_are_rate_limited_per_user(people: People) -> None:
    _, greedy = await people.new("greedy")
    _, other = await people.new("other")
    for _ in range(SEARCHES):
        await greedy.call(p.SearchUsers, query="zz")
    refused = await greedy.request(p.SearchUsers, query="zz")
    assert isinstance(refused, f.Error) and refused.code == "rate_limited" and "too many searches" in refused.message
    assert refused.retry_after is not None and 0 < refused.retry_after <= 60
    await other.call(p.SearchUsers, query="zz")  # someone else's budget is untouched

    strangers = list(range(10**12, 10**12 + 100))  # looking up ids costs one each, whether they exist or not
    for _ in range(LOOKUPS // 100):
        assert (await greedy.call(p.GetPresence, users=strangers)).users == []
    refused = await greedy.request(p.GetPresence, users=strangers[:1])
    assert isinstance(refused, f.Error) and refused.code == "rate_limited"
    assert await profile(greedy, greedy.user_id or 0), "your own profile costs nothing"


# ---------------------------------------------------------------------------------------------- presence

async def test_presence_goes_to_room_mates_on_first_and_last_device(people: People) -> None:
    ann = await people.signup("ann")
    bob, bob_c = await people.new("bob")  # in a room with ann
    cat, cat_c = await people.new("cat")  # a stranger
    await bob_c.call(f.CreateGroup, name="pair", members=[ann.user_id])
    assert await presence(bob_c, ann.user_id) == p.PresenceInfo(user=ann.user_id, online=False), "never seen"

    phone = await people.connect(ann)
    came = await pushed(bob_c, ann.user_id, online=True)
    assert came.last_seen is None
    laptop = await people.connect(ann)  # a second device is no news
    assert await presence(bob_c, ann.user_id) == p.PresenceInfo(user=ann.user_id, online=True)
    await phone.disconnect()  # one device left: still online
    await trio.sleep(0.3)
    assert presence_pushes(bob_c, ann.user_id) == []
    assert (await presence(bob_c, ann.user_id)).online is True

    before = now_ms()
    await laptop.disconnect()
    gone = await pushed(bob_c, ann.user_id, online=False)
    assert gone.last_seen is not None and before <= gone.last_seen <= now_ms()
    assert await presence(bob_c, ann.user_id) == p.PresenceInfo(user=ann.user_id, online=False,
                                                                last_seen=gone.last_seen)
    view = await profile(bob_c, ann.user_id)
    assert (view.online, view.last_seen) == (False, gone.last_seen)

    # the stranger was told nothing and sees nothing (last_seen is for contacts by default)
    assert presence_pushes(cat_c, ann.user_id) == []
    assert await presence(cat_c, ann.user_id) == p.PresenceInfo(user=ann.user_id)
    # the owner sees her own, and everyone in one request: unknown ids are left out, duplicates merged
    ann_c = await people.connect(ann)
    both = (await ann_c.call(p.GetPresence, users=[ann.user_id, 10**12, bob.user_id, ann.user_id])).users
    assert both == [p.PresenceInfo(user=ann.user_id, online=True), p.PresenceInfo(user=bob.user_id, online=True)]
    assert cat.user_id not in [e.user for e in both]


async def test_presence_is_pushed_through_small_rooms_only(people: People, backing: Backing) -> None:
    ann = await people.signup("ann")
    bob, bob_c = await people.new("bob")
    tag = uuid.uuid4().hex[:8]
    crowd = [uid for (uid,) in await sql(
        backing.database_url, "INSERT INTO users (username, email, password_hash)"
        " SELECT 'crowd' || g || '_' || $1, 'crowd' || g || '_' || $1 || '@example.com', 'x'"
        " FROM generate_series(1, 99) g RETURNING id", tag)]
    await bob_c.call(f.CreateGroup, name="big", members=[ann.user_id, *crowd])  # 101 members
    ann_c = await people.connect(ann)
    await trio.sleep(0.5)
    assert presence_pushes(bob_c, ann.user_id) == [], "a room of 101 pushes no presence (members² frames)"
    assert (await presence(bob_c, ann.user_id)).online is True, "but its members are contacts who may ask"

    await bob_c.call(f.OpenDirect, user=ann.user_id)  # a small room together: now pushed
    await ann_c.disconnect()
    await pushed(bob_c, ann.user_id, online=False)


async def test_presence_after_the_connection_is_killed(people: People, node: Node) -> None:
    ann = await people.signup("ann")
    bob, bob_c = await people.new("bob")
    await bob_c.call(f.OpenDirect, user=ann.user_id)
    port = urlsplit(node.url).port
    assert port is not None
    raw = await RawWebSocket.connect(port)
    await raw.handshake()
    assert isinstance(await raw.request(f.Hello(id=1, version=1, token=ann.access_token)), f.Welcome)
    await pushed(bob_c, ann.user_id, online=True)

    before = now_ms()
    raw.abort()  # TCP reset: no close frame, no FIN
    gone = await pushed(bob_c, ann.user_id, online=False)
    assert gone.last_seen is not None and before <= gone.last_seen <= now_ms()
    assert (await presence(bob_c, ann.user_id)).last_seen == gone.last_seen


async def test_last_seen_visibility_governs_online_state_and_pushes(people: People) -> None:
    ann, ann_c = await people.new("ann")
    await ann_c.call(p.UpdateProfile, visibility={"last_seen": "nobody"})
    bob, bob_c = await people.new("bob")
    cat, cat_c = await people.new("cat")
    await ann_c.call(f.OpenDirect, user=bob.user_id)

    assert await presence(bob_c, ann.user_id) == p.PresenceInfo(user=ann.user_id)
    await ann_c.disconnect()
    await trio.sleep(0.5)
    assert presence_pushes(bob_c, ann.user_id) == [], "hidden last_seen: no presence pushes"
    ann_c = await people.connect(ann)
    await trio.sleep(0.3)
    assert presence_pushes(bob_c, ann.user_id) == []
    assert (await presence(ann_c, ann.user_id)).online is True, "the owner sees her own"

    # 'everyone': strangers may ask, but pushes go to contacts only
    await ann_c.call(p.UpdateProfile, visibility={"last_seen": "everyone"})
    assert await presence(cat_c, ann.user_id) == p.PresenceInfo(user=ann.user_id, online=True)
    await ann_c.disconnect()
    gone = await pushed(bob_c, ann.user_id, online=False)
    assert presence_pushes(cat_c, ann.user_id) == []
    assert await presence(cat_c, ann.user_id) == p.PresenceInfo(user=ann.user_id, online=False,
                                                                last_seen=gone.last_seen)


async def test_users_of_a_node_killed_with_sigkill_go_offline_after_the_ttl(people: People, backing: Backing,
                                                                            tmp_path: Path) -> None:
    data = tmp_path / "doomed"
    data.mkdir()
    doomed = ChatdProcess(backing, data, presence_ttl=str(TTL))
    await doomed.start()
    try:
        ann = await people.signup("ann")
        bob, bob_c = await people.new("bob")  # on the test's own node
        await bob_c.call(f.OpenDirect, user=ann.user_id)
        await people.connect(ann, node=doomed)

        async def online() -> bool:
            return (await presence(bob_c, ann.user_id)).online is True

        async def offline() -> bool:
            return (await presence(bob_c, ann.user_id)).online is False
        await eventually(online, 10)
        killed_at, killed_ms = trio.current_time(), now_ms()
        await doomed.kill9()  # no cleanup: its word that ann is online simply runs out
        offline_at = await eventually(offline, TTL * 5)
        assert offline_at - killed_at <= TTL + 1.5
        entry = await presence(bob_c, ann.user_id)
        assert entry.last_seen is not None and killed_ms - TTL * 1000 - 1000 <= entry.last_seen <= killed_ms + 500, \
            "last seen: the dead node's last renewal"
        await trio.sleep(TTL)
        assert await offline(), "and stays offline"
    finally:
        await doomed.stop()


async def test_without_redis_presence_is_unknown_but_profiles_work(nursery: trio.Nursery, config: Config) -> None:
    assert config.redis_url
    async with fault_proxy(config.redis_url, 6379) as redis:
        running = await start_node(nursery, replace(config, redis_url=redis.proxied_url))
        people = People(nursery, running.node)
        ann, ann_c = await people.new("ann")
        _, bob_c = await people.new("bob")
        await ann_c.call(f.OpenDirect, user=bob_c.user_id)
        assert (await presence(bob_c, ann.user_id)).online is True
        redis.cut()
        refused = await bob_c.request(p.GetPresence, users=[ann.user_id])
        assert isinstance(refused, f.Error) and refused.code == "retry" and refused.retry_after
        view = await profile(bob_c, ann.user_id)
        assert view.username == ann.username and view.online is None  # unknown, not "offline"
        redis.restore()

        async def online_again() -> bool:
            reply = await bob_c.request(p.GetPresence, users=[ann.user_id])
            return isinstance(reply, p.Presence) and reply.users[0].online is True
        await eventually(online_again, 10)  # the next heartbeat vouches for ann again
        await running.stop()


async def test_probing_usernames_through_room_requests_spends_the_lookup_budget(people: People) -> None:
    """open_direct / create_group / get_profile tell whether a username exists: each name asked costs one."""
    _, prober = await people.new("prober")
    real, _ = await people.new("realone")
    names = [f"guess{i}" for i in range(50)]
    for _ in range(LOOKUPS // 50):
        refused = await prober.request(f.CreateGroup, name="probe", members=names)
        assert isinstance(refused, f.Error) and refused.code == "not_found"
    for kind in (f.OpenDirect, p.GetProfile):
        answer = await prober.request(kind, user=real.username)
        assert isinstance(answer, f.Error) and answer.code == "rate_limited", "an existing name was revealed"
