"""The Python SDK (clients/sdk) against a real server: delivery, acks, retries, reconnects, cache."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import stat
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import msgpack
import trio

from chatd.clients.sdk import Chat, ChatError, ConnectionChanged, Event, NewMessage, SessionEnded
from chatd.clients.sdk.backoff import Backoff
from chatd.node import Node
from chatd.protocol import frames as f
from chatd.protocol import people as p
from tests.conftest import PASSWORD, Backing, People, make_config
from tests.sdk_proxy import reply_eater


def name(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


@contextlib.asynccontextmanager
async def chat(node: Node, cache: Path, url: str | None = None, **options: object) -> AsyncIterator[Chat]:
    async with Chat.open(url or node.url, cache, http_url=node.http_url, **options) as c:  # type: ignore[arg-type]
        yield c


async def signed_up(c: Chat, prefix: str) -> str:
    username = name(prefix)
    await c.signup(username, f"{username}@example.com", PASSWORD)
    return username


async def next_matching(c: Chat, match: Callable[[Event], bool], timeout: float = 10.0) -> Event:
    with trio.fail_after(timeout):
        while True:
            event = await c.next_event()
            if match(event):
                return event


def text(body: str) -> Callable[[Event], bool]:
    return lambda e: isinstance(e, NewMessage) and e.message.body == body


async def test_send_receive_and_automatic_ack(node: Node, tmp_path: Path) -> None:
    async with chat(node, tmp_path / "ann.db") as ann, chat(node, tmp_path / "bob.db") as bob:
        await signed_up(ann, "ann")
        bob_name = await signed_up(bob, "bob")
        room = (await ann.open_direct(bob_name)).room
        created = await next_matching(bob, lambda e: isinstance(e, NewMessage) and e.message.seq == 1)
        assert isinstance(created, NewMessage) and created.message.kind == "system"

        sent = await ann.send(room, "hi bob")
        with trio.move_on_after(0.5):  # bob's SDK holds the message but has not handed it over: no ack yet
            status = await next_matching(ann, lambda e: isinstance(e, f.Status) and e.delivered_seq >= sent.seq)
            raise AssertionError(f"delivered before bob's application took the message: {status}")
        got = await next_matching(bob, text("hi bob"))
        assert isinstance(got, NewMessage) and got.message.seq == sent.seq and got.message.sender == ann.user_id
        status = await next_matching(ann, lambda e: isinstance(e, f.Status) and e.delivered_seq >= sent.seq)
        assert isinstance(status, f.Status) and status.user == bob.user_id
        assert (await ann.receipts(room))[bob.user_id][0] == sent.seq

        await bob.read(room, sent.seq)
        status = await next_matching(ann, lambda e: isinstance(e, f.Status) and (e.read_seq or 0) >= sent.seq)
        assert (await ann.receipts(room))[bob.user_id] == (sent.seq, sent.seq)


async def test_edit_and_delete_reach_both_caches(node: Node, tmp_path: Path) -> None:
    async with chat(node, tmp_path / "ann.db") as ann, chat(node, tmp_path / "bob.db") as bob:
        await signed_up(ann, "ann")
        room = (await ann.open_direct(await signed_up(bob, "bob"))).room
        sent = await ann.send(room, "frist")
        await ann.edit(room, sent.seq, "first")
        for c in (ann, bob):  # each applies the message_edited event to the message it holds
            await next_matching(c, lambda e: isinstance(e, NewMessage) and (e.message.event or {}).get("target")
                                == sent.seq)
            [edited] = await c.cached_history(room, sent.seq + 1, 1)
            assert edited.body == "first" and edited.edited_ts and not edited.deleted
        try:
            await bob.edit(room, sent.seq, "mine now")
        except ChatError as exc:
            assert exc.code == "forbidden", exc
        else:
            raise AssertionError("bob edited ann's message")
        await ann.delete(room, sent.seq)
        await next_matching(bob, lambda e: isinstance(e, NewMessage) and (e.message.event or {}).get("type")
                            == "message_deleted")
        [deleted] = await bob.cached_history(room, sent.seq + 1, 1)
        assert deleted.deleted and deleted.body is None


async def test_replies_and_reactions_reach_both_caches(node: Node, tmp_path: Path) -> None:
    async with chat(node, tmp_path / "ann.db") as ann, chat(node, tmp_path / "bob.db") as bob:
        await signed_up(ann, "ann")
        room = (await ann.open_direct(await signed_up(bob, "bob"))).room
        asked = await ann.send(room, "lunch?")
        answer = await bob.send(room, "noon", reply_to=asked.seq)
        got = await next_matching(ann, text("noon"))
        assert isinstance(got, NewMessage) and got.message.reply_to == asked.seq
        assert [m.reply_to for m in await bob.cached_history(room, answer.seq + 1, 1)] == [asked.seq]

        def reaction(kind: str) -> Callable[[Event], bool]:
            return lambda e: isinstance(e, NewMessage) and (e.message.event or {}).get("type") == kind

        async def reactions_at(c: Chat) -> list[tuple[str, list[int]]]:
            [m] = await c.cached_history(room, answer.seq + 1, 1)
            return [(r.emoji, r.users) for r in m.reactions or []]
        await ann.react(room, answer.seq, "👍")
        await bob.react(room, answer.seq, "👍")
        await ann.react(room, answer.seq, "👍")  # again: nothing changes
        for c in (ann, bob):
            await next_matching(c, reaction("reaction_added"))
            await next_matching(c, reaction("reaction_added"))
            assert await reactions_at(c) == [("👍", [ann.user_id, bob.user_id])]
        await ann.unreact(room, answer.seq, "👍")
        await next_matching(bob, reaction("reaction_removed"))
        assert await reactions_at(bob) == [("👍", [bob.user_id])]


async def test_a_signed_out_device_ends_its_session_without_reconnecting(node: Node, tmp_path: Path) -> None:
    async with chat(node, tmp_path / "laptop.db") as laptop, chat(node, tmp_path / "phone.db") as phone:
        username = await signed_up(laptop, "ann")
        await phone.login(username, PASSWORD)
        await phone.logout_other_devices()
        ended = await next_matching(laptop, lambda e: isinstance(e, SessionEnded))
        assert isinstance(ended, SessionEnded) and ended.device_signed_out and not ended.account_closed
        assert "signed out" in ended.reason
        await trio.sleep(0.5)
        assert laptop.link.connects == 1 and not laptop.connected  # no second try with refused tokens


async def test_send_retried_after_a_dropped_connection_is_stored_once(node: Node, tmp_path: Path,
                                                                      people: People) -> None:
    bob, bob_raw = await people.new("bob")
    async with reply_eater(node.url) as proxy, chat(node, tmp_path / "ann.db", proxy.proxied_url) as ann:
        await signed_up(ann, "ann")
        room = (await ann.open_direct(bob.username)).room
        await bob_raw.ack_frame(await bob_raw.next_of(f.Msgs))  # the `created` backlog

        proxy.eat_replies = True  # the send reaches the server; its `sent` never comes back
        async with trio.open_nursery() as n:
            results: list[f.Sent] = []

            async def send() -> None:
                results.append(await ann.send(room, "exactly once"))
            n.start_soon(send)
            [stored] = await bob_raw.collect(room, 1)  # committed on the server
            assert stored.body == "exactly once" and not results
            proxy.eat_replies = False
            proxy.cut()  # the connection drops with the reply lost
            proxy.restore()
        [sent] = results
        assert sent.duplicate and sent.seq == stored.seq
        assert ann.link.connects == 2
        bodies = [m.body for m in await ann.history(room, limit=100)]
        assert bodies.count("exactly once") == 1
        page = await bob_raw.call(f.History, room=room, limit=100)
        assert [m.body for m in page.messages].count("exactly once") == 1


async def test_reconnect_resumes_from_cursors_without_gap_or_duplicate(node: Node, tmp_path: Path,
                                                                       people: People) -> None:
    bob, bob_raw = await people.new("bob")
    async with reply_eater(node.url) as proxy, chat(node, tmp_path / "ann.db", proxy.proxied_url) as ann:
        await signed_up(ann, "ann")
        room = (await ann.open_direct(bob.username)).room
        for i in range(3):
            await bob_raw.send_text(room, f"before {i}")
        for i in range(3):
            await next_matching(ann, text(f"before {i}"))
        proxy.cut()
        await next_matching(ann, lambda e: isinstance(e, ConnectionChanged) and not e.connected)
        for i in range(5):
            await bob_raw.send_text(room, f"after {i}")
        assert (await ann.cache.cursors())[room] == 4
        proxy.restore()

        got: list[f.Message] = []
        with trio.fail_after(Backoff.cap + 10):  # the reconnect waits out its back-off (it grew while cut)
            while len(got) < 5:
                event = await ann.next_event()
                if isinstance(event, NewMessage):
                    got.append(event.message)
        with trio.move_on_after(0.5):
            extra = await next_matching(ann, lambda e: isinstance(e, NewMessage))
            raise AssertionError(f"delivered twice: {extra}")
        assert [m.body for m in got] == [f"after {i}" for i in range(5)]
        assert [m.seq for m in got] == list(range(5, 10))
        assert [m.seq for m in await ann.cached_history(room, limit=100)] == list(range(1, 10))


async def test_history_asks_only_for_what_the_cache_lacks(node: Node, tmp_path: Path, people: People) -> None:
    ann, ann_raw = await people.new("ann")
    _, bob_raw = await people.new("bob")
    room = (await bob_raw.call(f.OpenDirect, user=ann.username)).room.room
    for i in range(30):
        await bob_raw.send_text(room, f"m{i}")
    await ann_raw.collect(room, 31)  # acked by another device: the SDK's device starts with no backlog
    async with chat(node, tmp_path / "ann.db") as sdk:
        await sdk.login(ann.username, PASSWORD)
        requests = lambda: sdk.link.sent_counts["history"]  # noqa: E731

        newest = await sdk.history(room, limit=10)
        older = await sdk.history(room, before_seq=newest[0].seq, limit=10)
        assert [m.seq for m in newest + older] == list(range(22, 32)) + list(range(12, 22))
        assert requests() == 2

        assert await sdk.history(room, limit=10) == newest  # the second scroll over the same range
        assert await sdk.history(room, before_seq=22, limit=10) == older
        assert requests() == 2

        rest = await sdk.history(room, before_seq=12, limit=50)  # reaches the start: the floor is known
        assert [m.seq for m in rest] == list(range(1, 12)) and requests() == 3
        assert [m.seq for m in await sdk.history(room, before_seq=12, limit=50)] == list(range(1, 12))
        assert [m.seq for m in await sdk.history(room, before_seq=32, limit=100)] == list(range(1, 32))
        assert requests() == 3

        half = await sdk.history(room, before_seq=25, limit=20)  # 5..24 cached
        assert [m.seq for m in half] == list(range(5, 25)) and requests() == 3


async def test_restarted_client_shows_the_cache_first_then_syncs_the_gap(node: Node, tmp_path: Path,
                                                                        people: People) -> None:
    bob, bob_raw = await people.new("bob")
    cache = tmp_path / "ann.db"
    async with chat(node, cache) as ann:
        await signed_up(ann, "ann")
        room = (await ann.open_direct(bob.username)).room
        await ann.send(room, "hello bob")
        await bob_raw.send_text(room, "hello ann")
        await next_matching(ann, text("hello ann"))
    await bob_raw.send_text(room, "while you were away")

    unreachable = "ws://127.0.0.1:9/"  # nothing listens: only the cache can answer
    async with chat(node, cache, unreachable) as offline:
        shown = await offline.cached_history(room)
        assert [m.body for m in shown[1:]] == ["hello bob", "hello ann"]
        assert offline.username is not None and not offline.connected

    async with chat(node, cache) as ann:
        assert [m.body for m in (await ann.cached_history(room))[1:]] == ["hello bob", "hello ann"]
        assert await ann.resume()  # the cached tokens
        news = await next_matching(ann, lambda e: isinstance(e, NewMessage))
        assert isinstance(news, NewMessage) and news.backlog and news.message.body == "while you were away"
        assert [m.body for m in (await ann.history(room))[1:]] == ["hello bob", "hello ann", "while you were away"]
        assert ann.link.sent_counts["history"] == 0


async def test_tokens_are_refreshed_in_band_and_when_expired(nursery: trio.Nursery, backing: Backing,
                                                             tmp_path: Path) -> None:
    node = await nursery.start(Node(make_config(backing, tmp_path, access_ttl=30)).run)
    cache = tmp_path / "ann.db"
    async with chat(node, cache, refresh_fraction=0.02) as ann:  # refresh every 0.6 s of a 30 s token
        await signed_up(ann, "ann")
        first = ann.tokens.tokens
        await trio.sleep(2.0)
        assert ann.tokens.refreshes >= 2
        assert ann.tokens.tokens != first and ann.link.connects == 1
        assert (await ann.profile()).user == ann.user_id  # the connection took the new token (`auth`)

    saved = (tmp_path / "ann.db")
    async with chat(node, saved) as ann:
        assert ann.tokens.tokens is not None
        ann.tokens.tokens = type(ann.tokens.tokens)(**{**ann.tokens.dump(ann.tokens.tokens), "expires_at": 0})
        await ann.resume()
        assert ann.tokens.refreshes == 1 and (await ann.profile()).user == ann.user_id


async def test_wrong_password_is_reported_and_nothing_retries(node: Node, tmp_path: Path) -> None:
    async with chat(node, tmp_path / "a.db") as a:
        username = await signed_up(a, "ann")
    async with chat(node, tmp_path / "b.db") as b:
        with trio.fail_after(5):
            try:
                await b.login(username, "not the password")
            except Exception as exc:
                assert getattr(exc, "code", None) == "unauthorized"
            else:
                raise AssertionError("login with a wrong password succeeded")
        assert not b.connected and b.link.connects == 0


async def test_cache_is_bounded_per_room(node: Node, tmp_path: Path, people: People) -> None:
    bob, bob_raw = await people.new("bob")
    async with chat(node, tmp_path / "ann.db", max_per_room=5) as ann:
        await signed_up(ann, "ann")
        room = (await ann.open_direct(bob.username)).room
        for i in range(8):
            await bob_raw.send_text(room, f"m{i}")
        await next_matching(ann, text("m7"))
        assert await ann.cache.count(room) == 5
        assert [m.seq for m in await ann.cached_history(room, limit=50)] == list(range(5, 10))
        assert [m.seq for m in await ann.history(room, limit=9)] == list(range(1, 10))  # the rest from the server


async def test_typing_presence_invites_and_files(node: Node, tmp_path: Path) -> None:
    async with chat(node, tmp_path / "ann.db") as ann, chat(node, tmp_path / "bob.db") as bob:
        await signed_up(ann, "ann")
        bob_name = await signed_up(bob, "bob")
        group = await ann.create_group("team", [bob_name])
        await bob.typing(group.room, True)
        typing = await next_matching(ann, lambda e: isinstance(e, f.TypingChanged))
        assert isinstance(typing, f.TypingChanged) and typing.user == bob.user_id and typing.active
        assert bob.user_id is not None
        [seen] = await ann.presence([bob.user_id])
        assert isinstance(seen, p.PresenceInfo) and seen.online

        link = await ann.create_invite(group.room)
        assert link.startswith(node.http_url.rstrip("/") + "/i/")
        async with chat(node, tmp_path / "carol.db") as carol:
            await signed_up(carol, "carol")
            preview = await carol.preview_invite(link)
            assert preview.room == group.room and not preview.member and preview.name == group.name
            await carol.join(link)
            assert carol.user_id in [m.user for m in (await carol.get_room(group.room)).members]

        upload, sent = await ann.send_file(group.room, b"%PDF-1.4 not really a pdf", "the plan", "plan.pdf")
        assert upload.mime == "application/pdf" and upload.kind == "file"
        got = await next_matching(bob, lambda e: isinstance(e, NewMessage) and e.message.seq == sent.seq)
        assert isinstance(got, NewMessage)
        assert ann.media is not None and bob.media is not None
        assert await ann.media.download(upload.id) == b"%PDF-1.4 not really a pdf"
        assert got.message.kind == "file" and got.message.body == "the plan"
        assert got.message.media is not None and got.message.media.file_name == "plan.pdf"
        assert await bob.media.download(upload.id) == b"%PDF-1.4 not really a pdf"  # a member of the room
        mine = await ann.cached_history(group.room, limit=1)
        assert mine[0].media is not None and mine[0].media.id == upload.id


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_cache_file_and_the_directories_it_makes_are_private(node: Node, tmp_path: Path) -> None:
    """The cache holds the refresh token: 0600 for the file and SQLite's side files, 0700 for directories the
    SDK makes, whatever the umask; a file an older client left readable is tightened when opened."""
    tmp_mode = mode(tmp_path)
    old_umask = os.umask(0)  # the most permissive: anything not set explicitly would come out 0777 / 0666
    try:
        cache = tmp_path / "made" / "by sdk" / "ann.db"
        async with chat(node, cache) as ann:
            await signed_up(ann, "ann")  # the tokens are written
            assert (tmp_path / "made" / "by sdk" / "ann.db-wal").exists()
            for path in (cache, *cache.parent.glob("ann.db-*")):
                assert mode(path) == 0o600, path
        assert mode(tmp_path / "made") == mode(cache.parent) == 0o700

        legacy = tmp_path / "legacy.db"
        for path in (legacy, tmp_path / "legacy.db-wal"):
            os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o644))
        async with chat(node, legacy):
            assert mode(legacy) == mode(tmp_path / "legacy.db-wal") == 0o600
        assert mode(tmp_path) == tmp_mode, "a directory the caller chose keeps its mode"
    finally:
        os.umask(old_umask)


async def test_unreadable_cache_rows_are_skipped_and_fetched_again(node: Node, tmp_path: Path,
                                                                   people: People) -> None:
    """A damaged cache (or one written by another schema) never stops a start: what cannot be read counts as
    not cached, so the server is asked for it again."""
    bob, _ = await people.new("bob")
    cache = tmp_path / "ann.db"
    async with chat(node, cache) as ann:
        username = await signed_up(ann, "ann")
        room = (await ann.open_direct(bob.username)).room
        for body in ("one", "two", "three"):
            await ann.send(room, body)
        await ann.rooms()
    with contextlib.closing(sqlite3.connect(cache)) as db, db:
        db.execute("UPDATE messages SET data = x'c1' WHERE seq = 3")  # "two": not msgpack
        db.execute("UPDATE messages SET data = ? WHERE seq = 2", (msgpack.packb({"room": "x"}),))  # not a message
        db.execute("UPDATE rooms SET data = 'text, not bytes'")
        db.execute("INSERT OR REPLACE INTO profiles VALUES (1, x'00')")
        db.execute("UPDATE meta SET value = ? WHERE key = 'tokens'", (msgpack.packb({"user": 1}),))

    async with chat(node, cache) as again:
        assert again.username is None, "tokens of another shape: sign in again"
        assert [m.body for m in await again.cached_history(room)] == ["three"]  # up to the first unreadable
        assert await again.cached_rooms() == [] and await again.cached_profiles() == {}
        await again.login(username, PASSWORD)
        assert [m.body for m in (await again.history(room))[1:]] == ["one", "two", "three"]
        assert [m.body for m in (await again.cached_history(room))[1:]] == ["one", "two", "three"], "stored again"


async def test_history_pages_keep_messages_as_they_are_now(node: Node, tmp_path: Path, people: People) -> None:
    """Pages come newest first: the older page's reaction and edit events must not take its messages back
    to an older state (the newer page's later events were stored before it)."""
    ann, ann_raw = await people.new("ann")
    _, bob_raw = await people.new("bob")
    room = (await bob_raw.call(f.OpenDirect, user=ann.username)).room.room
    said = await bob_raw.send_text(room, "first draft")
    await bob_raw.call(f.React, room=room, target=said.seq, emoji="👍")
    await bob_raw.call(f.Edit, room=room, seq=said.seq, body="final")
    for i in range(10):
        await bob_raw.send_text(room, f"m{i}")
    await bob_raw.call(f.Unreact, room=room, target=said.seq, emoji="👍")
    await ann_raw.collect(room, 15)  # acked by another device: the SDK's device starts with no backlog
    async with chat(node, tmp_path / "ann.db") as sdk:
        await sdk.login(ann.username, PASSWORD)
        newest = await sdk.history(room, limit=8)
        await sdk.history(room, before_seq=newest[0].seq, limit=50)
        [kept] = [m for m in await sdk.cached_history(room, limit=100) if m.seq == said.seq]
        assert (kept.body, kept.reactions) == ("final", None)
