"""Web Push: subscriptions over HTTP, the delayed trigger, collapsing, previews, retries and gone endpoints.

Each test runs its own node with sub-second push delays and a stand-in push service on 127.0.0.1
(tests/push_service.py). The test plays the browser: it holds the subscription's private key and auth
secret, and decrypts what the push service received.
"""

from __future__ import annotations

import asyncio
import base64
import stat
import time
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import jwt
import pytest
import trio
from cryptography.hazmat.primitives.asymmetric import ec

from chatd.node import Node
from chatd.persistence.errors import DeviceSignedOut
from chatd.protocol import devices as d
from chatd.protocol import frames as f
from chatd.protocol import people as p
from chatd.push.subscription import InvalidSubscription, parse_subscription
from chatd.push.vapid import VapidKey
from chatd.runtime.config import Config
from tests.conftest import PASSWORD, Backing, People, Person, make_config, start_node
from tests.push_service import Browser, PushService, Received

FAST = {"push_delay": 0.3, "push_scan_seconds": 0.05, "push_retry_base": 0.1, "push_allow_insecure": True}


class World:
    def __init__(self, node: Node, people: People, service: PushService) -> None:
        self.node = node
        self.people = people
        self.service = service
        self.config = node.config

    async def subscribe(self, person: Person, browser: Browser | None = None) -> Browser:
        browser = browser or Browser(self.service)
        answer = await self.http("POST", "/api/push/subscriptions", person, browser.subscription())
        assert answer.status_code in (200, 201), answer.text
        return browser

    async def http(self, method: str, path: str, person: Person | None = None, body: Any = None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {person.access_token}"} if person else {}
        async with httpx.AsyncClient(base_url=self.node.http_url) as client:
            return await client.request(method, path, json=body, headers=headers)

    async def quiet(self, seconds: float | None = None) -> None:
        """Long enough for anything due to have been pushed: a few delays and scans."""
        await trio.sleep(seconds or self.config.push_delay * 2 + self.config.push_scan_seconds * 10)

    async def sql(self, statement: str, *args: Any) -> list[Any]:
        url = self.config.database_url

        async def run() -> list[Any]:
            con = await asyncpg.connect(url)
            try:
                return [tuple(r) for r in await con.fetch(statement, *args)]
            finally:
                await con.close()
        return await trio.to_thread.run_sync(asyncio.run, run())  # type: ignore[no-any-return]


async def world(nursery: trio.Nursery, backing: Backing, tmp_path: Path, **overrides: Any) -> World:
    running = await start_node(nursery, make_config(backing, tmp_path, **{**FAST, **overrides}))
    service = await PushService().start(nursery)
    return World(running.node, People(nursery, running.node), service)


def check_vapid(received: Received, public_key: str, audience: str) -> None:
    """Authorization: vapid t=<ES256 JWT signed with the server's key>, k=<that public key>."""
    scheme, _, params = received.headers["authorization"].partition(" ")
    assert scheme == "vapid"
    parts = dict(item.strip().split("=", 1) for item in params.split(","))
    assert parts["k"] == public_key
    point = base64.urlsafe_b64decode(public_key + "=" * (-len(public_key) % 4))
    key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
    claims = jwt.decode(parts["t"], key, algorithms=["ES256"], audience=audience)  # checks the signature and exp
    assert claims["sub"] == "mailto:admin@localhost" and claims["exp"] > time.time()


# ---------------------------------------------------------------------- subscriptions

def test_subscription_json_is_checked() -> None:
    keys = Browser().subscription()["keys"]
    hosts = Config().push_endpoint_hosts

    def parse(endpoint: str, insecure: bool = False, **changed: Any) -> str:
        try:
            parse_subscription({"endpoint": endpoint, "keys": {**keys, **changed}}, allow_insecure=insecure,
                               hosts=hosts)
            return "ok"
        except InvalidSubscription as exc:
            return str(exc)

    assert parse("https://fcm.googleapis.com/fcm/send/abc") == "ok"
    assert parse("https://updates.push.services.mozilla.com/wpush/v2/x") == "ok"
    assert parse("https://web.push.apple.com/QG4") == "ok"
    assert "https://" in parse("http://fcm.googleapis.com/fcm/send/abc")
    assert "not a push service" in parse("https://evil.example.com/x")
    assert "not a push service" in parse("https://fcm.googleapis.com.evil.example/x")
    assert "private" in parse("https://10.0.0.1/x") and "private" in parse("https://[::1]/x")
    assert "private" in parse("https://localhost/x")
    assert "credentials" in parse("https://user:pw@fcm.googleapis.com/x")
    assert "https://" in parse("http://10.1.2.3:8080/x", insecure=True)  # insecure means loopback only
    assert parse("http://127.0.0.1:8080/push/x", insecure=True) == "ok"
    assert "https://" in parse("http://127.0.0.1:8080/push/x")
    assert "65 bytes" in parse("https://fcm.googleapis.com/x", p256dh=keys["p256dh"][:-4])
    assert "16 bytes" in parse("https://fcm.googleapis.com/x", auth=base64.urlsafe_b64encode(b"x" * 15).decode())
    assert "base64url" in parse("https://fcm.googleapis.com/x", auth="not base64!")
    off_curve = base64.urlsafe_b64encode(b"\x04" + b"\x01" * 64).decode()
    assert "curve" in parse("https://fcm.googleapis.com/x", p256dh=off_curve)
    assert "keys" in parse_error({"endpoint": "https://fcm.googleapis.com/x"})


def parse_error(data: dict[str, Any]) -> str:
    with pytest.raises(InvalidSubscription) as caught:
        parse_subscription(data, allow_insecure=False, hosts=("*",))
    return str(caught.value)


async def test_vapid_key_is_generated_once_and_served(nursery: trio.Nursery, backing: Backing,
                                                      tmp_path: Path) -> None:
    config = make_config(backing, tmp_path)
    key = config.with_secret().push_vapid_key
    assert key and config.with_secret().push_vapid_key == key  # created once, then read back
    assert stat.S_IMODE((tmp_path / "vapid-private-key").stat().st_mode) == 0o600
    w = await world(nursery, backing, tmp_path)
    answer = await w.http("GET", "/api/push/vapid-public-key")
    assert answer.status_code == 200 and answer.json() == {"public_key": VapidKey(key).public_key}
    assert len(base64.urlsafe_b64decode(answer.json()["public_key"] + "=")) == 65


async def test_subscribe_is_idempotent_limited_and_undone(nursery: trio.Nursery, backing: Backing,
                                                          tmp_path: Path) -> None:
    w = await world(nursery, backing, tmp_path, push_max_subscriptions=3)
    ann, bob = await w.people.signup("ann"), await w.people.signup("bob")
    browser = Browser(w.service)
    path = "/api/push/subscriptions"

    assert (await w.http("POST", path, None, browser.subscription())).status_code == 401
    first = await w.http("POST", path, ann, browser.subscription())
    assert (first.status_code, first.json()) == (201, {"endpoint": browser.endpoint, "created": True})
    again = await w.http("POST", path, ann, browser.subscription())
    assert (again.status_code, again.json()["created"]) == (200, False)

    bad = await w.http("POST", path, ann, {**browser.subscription(), "endpoint": "ftp://127.0.0.1/x"})
    assert bad.status_code == 400 and bad.json()["code"] == "bad_request" and "endpoint" in bad.json()["message"]
    bad = await w.http("POST", path, ann, {"endpoint": browser.endpoint, "keys": {"p256dh": "AAAA", "auth": "x"}})
    assert bad.status_code == 400 and "keys.p256dh" in bad.json()["message"]
    assert (await w.http("POST", path, ann, [1, 2])).status_code == 400

    others = [await w.subscribe(ann) for _ in range(3)]  # a fourth: the least recently renewed goes
    rows = await w.sql("SELECT endpoint FROM push_subscriptions WHERE user_id = $1", ann.user_id)
    assert sorted(r[0] for r in rows) == sorted(b.endpoint for b in others)

    moved = await w.http("POST", path, bob, others[0].subscription())  # the browser changed hands
    assert (moved.status_code, moved.json()["created"]) == (201, True)
    assert await w.sql("SELECT user_id FROM push_subscriptions WHERE endpoint = $1", others[0].endpoint) == \
        [(bob.user_id,)]

    gone = await w.http("DELETE", path, ann, {"endpoint": others[1].endpoint})
    assert gone.status_code == 204
    missing = await w.http("DELETE", path, ann, {"endpoint": others[1].endpoint})
    assert (missing.status_code, missing.json()["code"]) == (404, "not_found")
    not_hers = await w.http("DELETE", path, ann, {"endpoint": others[0].endpoint})
    assert not_hers.status_code == 404
    other_method = await w.http("PUT", path, ann, browser.subscription())
    assert other_method.status_code == 405 and set(other_method.headers["allow"].split(", ")) == {"POST", "DELETE"}


async def test_signing_a_device_out_drops_its_push_subscriptions(nursery: trio.Nursery, backing: Backing,
                                                                  tmp_path: Path) -> None:
    """A signed-out browser must not keep getting message previews: its subscription goes with its device,
    whichever way it was signed out; the user's other devices keep theirs."""
    w = await world(nursery, backing, tmp_path)
    ann = await w.people.signup("ann")
    client = await w.people.raw()
    logins = [await client.call(f.Login, username=ann.username, password=PASSWORD, device=name)
              for name in ("laptop", "phone", "tablet")]
    laptop, phone, tablet = (Person(ann.username, ann.user_id, a.access_token, a.refresh_token) for a in logins)
    browsers = {who: await w.subscribe(person) for who, person in
                (("first", ann), ("laptop", laptop), ("phone", phone), ("tablet", tablet))}

    async def subscribed() -> set[str]:
        rows = await w.sql("SELECT endpoint FROM push_subscriptions WHERE user_id = $1", ann.user_id)
        return {who for who, b in browsers.items() if (b.endpoint,) in rows}
    assert await subscribed() == {"first", "laptop", "phone", "tablet"}
    await client.call(f.Logout, refresh_token=laptop.refresh_token)
    assert await subscribed() == {"first", "phone", "tablet"}
    # a subscription whose token was checked just before its device was signed out is not stored either
    store = w.node.services.store  # type: ignore[union-attr]
    device = jwt.decode(laptop.access_token, options={"verify_signature": False})["dev"]
    late = Browser(w.service)
    with pytest.raises(DeviceSignedOut):
        keys = late.subscription()["keys"]
        await store.add_push_subscription(ann.user_id, device, late.endpoint, keys["p256dh"], keys["auth"], 20)
    assert (await w.http("POST", "/api/push/subscriptions", laptop, late.subscription())).status_code == 401
    await client.hello(phone.access_token)
    await client.call(d.LogoutDevices, others=True)  # "log out other devices", from the phone
    assert await subscribed() == {"phone"}


# ---------------------------------------------------------------------- the trigger and the payload

async def test_offline_user_gets_an_encrypted_signed_push(nursery: trio.Nursery, backing: Backing,
                                                          tmp_path: Path) -> None:
    w = await world(nursery, backing, tmp_path)
    (ann, ann_c), bob = await w.people.new("ann"), await w.people.signup("bob")
    await ann_c.call(p.UpdateProfile, display_name="Ann A.")
    browser = await w.subscribe(bob)
    room = (await ann_c.call(f.OpenDirect, user=bob.user_id)).room.room
    body = "hello bob, " + "this is a long message " * 10
    sent = await ann_c.send_text(room, body)

    (push,) = await w.service.wait_for(browser.path, 1)
    assert browser.decrypt(push) == {
        "type": "message", "room": room, "room_kind": "direct", "room_name": None, "sender": ann.user_id,
        "sender_name": "Ann A.", "count": 1, "seq": sent.seq, "preview": " ".join(body.split())[:99] + "…"}
    assert push.headers["ttl"] == str(w.config.push_ttl) and push.headers["urgency"] == "high"
    assert 1 <= len(push.headers["topic"]) <= 32
    public_key = (await w.http("GET", "/api/push/vapid-public-key")).json()["public_key"]
    check_vapid(push, public_key, w.service.url)

    await w.quiet()
    assert len(w.service.to(browser.path)) == 1  # notified once
    assert await w.sql("SELECT count(*) FROM push_outbox WHERE user_id = $1", bob.user_id) == [(0,)]


async def test_acked_in_time_makes_no_push_unacked_does(nursery: trio.Nursery, backing: Backing,
                                                        tmp_path: Path) -> None:
    w = await world(nursery, backing, tmp_path)
    (_, ann_c), (bob, bob_c) = await w.people.new("ann"), await w.people.new("bob")
    browser = await w.subscribe(bob)
    room = (await ann_c.call(f.OpenDirect, user=bob.user_id)).room.room
    await bob_c.collect(room, 1)
    await ann_c.send_text(room, "read at once")
    await bob_c.collect(room, 1)  # delivered and acked well within the delay
    await w.quiet()
    assert w.service.to(browser.path) == []

    sent = await ann_c.send_text(room, "seen by a device that never acks")
    (push,) = await w.service.wait_for(browser.path, 1)  # connected, but the device did not ack in time
    assert browser.decrypt(push)["seq"] == sent.seq and browser.decrypt(push)["count"] == 1


async def test_muted_room_makes_no_push(nursery: trio.Nursery, backing: Backing, tmp_path: Path) -> None:
    w = await world(nursery, backing, tmp_path)
    (ann, ann_c), (bob, bob_c) = await w.people.new("ann"), await w.people.new("bob")
    browser = await w.subscribe(bob)
    muted = (await ann_c.call(f.OpenDirect, user=bob.user_id)).room.room
    group = (await ann_c.call(f.CreateGroup, name="Team", members=[bob.user_id])).room.room
    await bob_c.call(f.Mute, room=muted, muted=True)
    await bob_c.disconnect()
    await ann_c.send_text(muted, "muted, so no push")
    sent = await ann_c.send_text(group, "the group is not muted")

    (push,) = await w.service.wait_for(browser.path, 1)
    assert browser.decrypt(push) == {
        "type": "message", "room": group, "room_kind": "group", "room_name": "Team", "sender": ann.user_id,
        "sender_name": ann.username, "count": 1, "seq": sent.seq, "preview": "the group is not muted"}
    assert push.headers["urgency"] == "normal"
    await w.quiet()
    assert len(w.service.to(browser.path)) == 1


async def test_a_burst_makes_one_push(nursery: trio.Nursery, backing: Backing, tmp_path: Path) -> None:
    w = await world(nursery, backing, tmp_path, push_delay=1.5)
    (_, ann_c), bob = await w.people.new("ann"), await w.people.signup("bob")
    browser = await w.subscribe(bob)
    room = (await ann_c.call(f.OpenDirect, user=bob.user_id)).room.room
    sent: dict[int, str] = {}

    async def send(i: int) -> None:
        sent[(await ann_c.send_text(room, f"message {i}")).seq] = f"message {i}"

    started = trio.current_time()
    async with trio.open_nursery() as n:
        for i in range(50):
            n.start_soon(send, i)
    assert trio.current_time() - started < w.config.push_delay, "the burst took longer than the push delay"

    (push,) = await w.service.wait_for(browser.path, 1)
    data = browser.decrypt(push)
    assert (data["count"], data["seq"], data["preview"]) == (50, max(sent), sent[max(sent)])
    await w.quiet(1.0)  # every message was in that push: nothing else can come due
    assert len(w.service.to(browser.path)) == 1


async def test_private_preview_rooms_carry_no_preview(nursery: trio.Nursery, backing: Backing,
                                                      tmp_path: Path) -> None:
    w = await world(nursery, backing, tmp_path)
    (ann, ann_c), bob = await w.people.new("ann"), await w.people.signup("bob")
    browser = await w.subscribe(bob)
    room = (await ann_c.call(f.CreateGroup, name="Secret", members=[bob.user_id])).room.room
    await w.sql("UPDATE rooms SET private_preview = true WHERE id = $1", room)
    await ann_c.send_text(room, "the launch code is 1234")

    (push,) = await w.service.wait_for(browser.path, 1)
    data = browser.decrypt(push)
    assert data["preview"] is None and "1234" not in str(data)
    assert (data["room_name"], data["sender"], data["count"]) == ("Secret", ann.user_id, 1)


# ---------------------------------------------------------------------- failures

async def test_a_failed_push_is_retried_for_that_browser_only(nursery: trio.Nursery, backing: Backing,
                                                              tmp_path: Path) -> None:
    w = await world(nursery, backing, tmp_path)
    (_, ann_c), bob = await w.people.new("ann"), await w.people.signup("bob")
    phone, laptop = await w.subscribe(bob), await w.subscribe(bob)
    w.service.answers[laptop.path] = [500, 429]
    room = (await ann_c.call(f.OpenDirect, user=bob.user_id)).room.room
    sent = await ann_c.send_text(room, "try again")

    tries = await w.service.wait_for(laptop.path, 3)
    assert [t.answered for t in tries] == [500, 429, 201]
    assert all(laptop.decrypt(t)["seq"] == sent.seq for t in tries)  # each attempt is a whole, valid push
    await w.quiet()
    assert len(w.service.to(phone.path)) == 1  # the phone took the first one and was not sent it again
    assert len(w.service.to(laptop.path)) == 3
    assert await w.sql("SELECT count(*) FROM push_outbox WHERE user_id = $1", bob.user_id) == [(0,)]


async def test_retries_run_out(nursery: trio.Nursery, backing: Backing, tmp_path: Path) -> None:
    w = await world(nursery, backing, tmp_path, push_max_attempts=2)
    (_, ann_c), bob = await w.people.new("ann"), await w.people.signup("bob")
    browser = await w.subscribe(bob)
    w.service.answers[browser.path] = [503] * 10
    room = (await ann_c.call(f.OpenDirect, user=bob.user_id)).room.room
    await ann_c.send_text(room, "nobody home")

    await w.service.wait_for(browser.path, 2)
    await w.quiet()
    assert len(w.service.to(browser.path)) == 2
    failures = await w.sql("SELECT outcome, status, attempts, room_id FROM push_failures WHERE user_id = $1",
                           bob.user_id)
    assert failures == [("gave_up", 503, 2, room)]
    assert await w.sql("SELECT count(*) FROM push_outbox WHERE user_id = $1", bob.user_id) == [(0,)]
    assert await w.sql("SELECT count(*) FROM push_subscriptions WHERE user_id = $1", bob.user_id) == [(1,)]


async def test_gone_subscription_is_dropped(nursery: trio.Nursery, backing: Backing, tmp_path: Path) -> None:
    w = await world(nursery, backing, tmp_path)
    (_, ann_c), bob = await w.people.new("ann"), await w.people.signup("bob")
    browser = await w.subscribe(bob)
    w.service.answers[browser.path] = [410]
    room = (await ann_c.call(f.OpenDirect, user=bob.user_id)).room.room
    await ann_c.send_text(room, "are you there?")

    async def subscriptions() -> list[Any]:
        return await w.sql("SELECT count(*) FROM push_subscriptions WHERE user_id = $1", bob.user_id)

    await w.service.wait_for(browser.path, 1)
    with trio.fail_after(5):
        while await subscriptions() != [(0,)]:  # noqa: ASYNC110
            await trio.sleep(0.05)
    assert await w.sql("SELECT outcome, status FROM push_failures WHERE user_id = $1", bob.user_id) == \
        [("gone", 410)]
    await ann_c.send_text(room, "hello?")
    await w.quiet()
    assert len(w.service.to(browser.path)) == 1  # nothing more goes to a gone endpoint


async def test_two_nodes_push_each_message_once(nursery: trio.Nursery, backing: Backing, tmp_path: Path) -> None:
    w = await world(nursery, backing, tmp_path)
    other = (await start_node(nursery, make_config(backing, tmp_path, **FAST))).node  # same database and key
    (_, ann_c), bob = await w.people.new("ann"), await w.people.signup("bob")
    browser = await w.subscribe(bob)
    room = (await ann_c.call(f.OpenDirect, user=bob.user_id)).room.room
    cat_c = await People(nursery, other).connect(await w.people.signup("cat"))  # on the other node
    group = (await cat_c.call(f.CreateGroup, name="g", members=[bob.user_id])).room.room
    for i in range(3):
        await ann_c.send_text(room, f"round {i}")
        await cat_c.send_text(group, f"round {i}")
        await w.service.wait_for(browser.path, 2 * (i + 1))
    await w.quiet()
    pushes = [browser.decrypt(r) for r in w.service.to(browser.path)]
    assert sorted((d["room"], d["preview"]) for d in pushes) == sorted(
        [(room, f"round {i}") for i in range(3)] + [(group, f"round {i}") for i in range(3)])
