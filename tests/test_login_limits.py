"""Login throttling in layers (issue 16): only failures count, per (name, address), per address and per
account with back-off; fail closed without Redis; a bounded argon2 queue; limits before hello."""

from __future__ import annotations

import uuid
from dataclasses import replace

import httpx
import pytest
import trio
from trio_websocket import ConnectionRejected, HandshakeError

from chatd.auth.passwords import PasswordHasher, PasswordQueueFull
from chatd.clients.ws import ChatClient
from chatd.node import Node
from chatd.persistence.cache import Cache, LoginKeys, LoginLimits
from chatd.protocol import devices as d
from chatd.protocol import frames as f
from chatd.runtime.config import Config
from tests.conftest import PASSWORD, People, start_node
from tests.faultproxy import fault_proxy
from tests.faults.load import wait_until
from tests.test_people import sql

TOO_MANY = "too many attempts, wait and try again"
AT_ONCE = "too many password checks from your address at once: wait for one to finish"
PROXY = ("127.0.0.1/32",)  # the test client plays a reverse proxy: X-Forwarded-For names each client


async def login(nursery: trio.Nursery, node: Node, username: str, password: str = PASSWORD) -> f.Frame:
    """One login on a connection of its own, as `chatctl` or a fresh client does."""
    c = await ChatClient.open_in(nursery, node.url)
    try:
        return await c.request(f.Login, username=username, password=password)
    finally:
        await c.disconnect()


def forwarded(address: str) -> list[tuple[bytes, bytes]]:
    return [(b"X-Forwarded-For", address.encode())]


async def login_from(nursery: trio.Nursery, node: Node, address: str, username: str,
                     password: str = PASSWORD) -> f.Frame:
    """One login on a connection of its own, from `address` (forwarded by the trusted proxy)."""
    c = await ChatClient.open_in(nursery, node.url, extra_headers=forwarded(address))
    try:
        return await c.request(f.Login, username=username, password=password)
    finally:
        await c.disconnect()


def code(reply: f.Frame) -> str:
    return reply.code if isinstance(reply, f.Error) else reply.type


async def serve(nursery: trio.Nursery, config: Config, **overrides: object) -> tuple[Node, People]:
    """A node with its own Redis prefix: the counters of 127.0.0.1 start from zero."""
    own = replace(config, redis_prefix=f"{config.redis_prefix}{uuid.uuid4().hex[:6]}:", **overrides)  # type: ignore[arg-type]
    node: Node = await nursery.start(Node(own.validated()).run)
    return node, People(nursery, node)


async def test_only_failures_count_per_name_and_address(nursery: trio.Nursery, config: Config) -> None:
    node, people = await serve(nursery, config, login_attempts=10, login_failures_per_account=1000)
    ann = await people.signup("ann")
    for _ in range(30):  # an operator running chatctl again and again is never locked out
        assert code(await login(nursery, node, ann.username)) == "auth_ok"
    for _ in range(3):  # a success clears the (name, address) window: 9 failures, a success, 9 more
        for _ in range(9):
            assert code(await login(nursery, node, ann.username, "wrong password")) == "unauthorized"
        assert code(await login(nursery, node, ann.username)) == "auth_ok"
    for _ in range(10):
        assert code(await login(nursery, node, ann.username, "wrong password")) == "unauthorized"
    refused = await login(nursery, node, ann.username)  # the right password too, once the window is used up
    assert isinstance(refused, f.Error) and refused.code == "rate_limited" and refused.message == TOO_MANY
    assert refused.retry_after is not None and 0 < refused.retry_after <= config.login_window
    ghost = f"nobody_{uuid.uuid4().hex[:8]}"  # an unknown name gets exactly the same answers
    for _ in range(10):
        reply = await login(nursery, node, ghost)
        assert isinstance(reply, f.Error) and reply.code == "unauthorized"
        assert reply.message == "wrong username or password"
    again = await login(nursery, node, ghost)
    assert isinstance(again, f.Error) and (again.code, again.message) == ("rate_limited", TOO_MANY)


async def test_address_budget_across_names(nursery: trio.Nursery, config: Config) -> None:
    node, people = await serve(nursery, config, login_attempts=100, login_failures_per_address=5,
                               login_failures_per_account=1000)
    ann, bob = await people.signup("ann"), await people.signup("bob")
    for i in range(10):  # successes from the address cost nothing
        assert code(await login(nursery, node, (ann, bob)[i % 2].username)) == "auth_ok"
    names = [ann.username, f"nobody_{uuid.uuid4().hex[:8]}", bob.username, "x" * 5, f"{ann.username}@example.com"]
    for n in names:  # one failure each for five different names
        assert code(await login(nursery, node, n, "wrong password")) == "unauthorized"
    sprayed = await login(nursery, node, f"other_{uuid.uuid4().hex[:8]}", "wrong password")
    assert isinstance(sprayed, f.Error) and (sprayed.code, sprayed.message) == ("rate_limited", TOO_MANY)
    assert code(await login(nursery, node, bob.username)) == "rate_limited"  # the whole address waits


async def test_account_backoff_doubles_up_to_its_cap(nursery: trio.Nursery, config: Config) -> None:
    """The account layer counts a name's failures from any address (here one, with the other layers set
    high): after the free ones each failure doubles the wait, up to the cap; the owner is slowed, not locked
    out, and gets in with the right password once the wait is over."""
    node, people = await serve(nursery, config, login_attempts=1000, login_failures_per_account=2,
                               login_backoff_seconds=0.5, login_backoff_max=2.0)
    ann = await people.signup("ann")
    for _ in range(2):
        assert code(await login(nursery, node, ann.username, "wrong password")) == "unauthorized"
    for expected in (0.5, 1.0, 2.0, 2.0):
        assert code(await login(nursery, node, ann.username, "wrong password")) == "unauthorized"
        waiting = await login(nursery, node, ann.username)
        assert isinstance(waiting, f.Error) and (waiting.code, waiting.message) == ("rate_limited", TOO_MANY)
        assert waiting.retry_after is not None and expected - 0.4 < waiting.retry_after <= expected
        await trio.sleep(waiting.retry_after + 0.05)
    assert code(await login(nursery, node, ann.username)) == "auth_ok"
    other = await people.signup("bob")  # other accounts are not slowed
    assert code(await login(nursery, node, other.username)) == "auth_ok"


async def test_password_checks_fail_closed_without_redis(nursery: trio.Nursery, config: Config) -> None:
    assert config.redis_url
    async with fault_proxy(config.redis_url, 6379) as redis:
        running = await start_node(nursery, replace(config, redis_url=redis.proxied_url))
        node, people = running.node, People(nursery, running.node)
        ann, ann_c = await people.new("ann")
        redis.cut()
        for reply in (await login(nursery, node, ann.username),
                      await login(nursery, node, ann.username, "wrong password"),
                      await ann_c.request(d.ChangePassword, old_password=PASSWORD, new_password="a new password 1"),
                      await ann_c.request(d.DeleteAccount, password=PASSWORD)):
            assert isinstance(reply, f.Error) and reply.code == "retry" and reply.retry_after == 1.0, reply
        c = await people.raw()
        n = f"new_{uuid.uuid4().hex[:8]}"
        signup = await c.request(f.Signup, username=n, email=f"{n}@example.com", password=PASSWORD)
        assert isinstance(signup, f.Error) and signup.code == "retry"
        async with httpx.AsyncClient(base_url=node.http_url) as http:  # the HTTP side answers 503 + Retry-After
            over_http = await http.post("/api/login", json={"username": ann.username, "password": PASSWORD})
        assert over_http.status_code == 503 and over_http.headers["retry-after"] == "1"
        assert over_http.json()["code"] == "retry"
        assert (await ann_c.call(f.ListRooms)).rooms == [], "chat goes on"
        redis.restore()
        codes = []
        for _ in range(50):  # Redis answers again (a pooled connection cut by the proxy may fail once more)
            codes.append(code(await login(nursery, node, ann.username)))
            if codes[-1] == "auth_ok":
                break
            await trio.sleep(0.1)
        assert codes[-1] == "auth_ok" and set(codes) <= {"retry", "auth_ok"}, codes
        await running.stop()


def test_hasher_queue_is_bounded() -> None:
    hasher = PasswordHasher(time_cost=1, memory_kib=64, queue=1)
    stored = hasher.hash_blocking(PASSWORD)

    async def main() -> None:
        results: list[object] = []

        async def check() -> None:
            try:
                results.append(await hasher.verify(stored, PASSWORD))
            except PasswordQueueFull as exc:
                results.append(exc)
        async with trio.open_nursery() as n:
            for _ in range(5):  # started together: 2 run, 1 waits, 2 are refused at once
                n.start_soon(check)
        assert results.count(True) == 3 and sum(isinstance(r, PasswordQueueFull) for r in results) == 2
        assert await hasher.verify(stored, PASSWORD), "free again afterwards"
    trio.run(main)


async def test_full_argon2_queue_answers_retry(nursery: trio.Nursery, config: Config) -> None:
    node, people = await serve(nursery, config, password_queue=1, argon2_time_cost=4,
                               argon2_memory_kib=32 * 1024, password_checks_per_address=100)
    ann = await people.signup("ann")
    replies: list[f.Frame] = []

    async def attempt() -> None:
        replies.append(await login(nursery, node, ann.username))
    with trio.fail_after(30):  # none hangs
        async with trio.open_nursery() as n:
            for _ in range(12):
                n.start_soon(attempt)
    codes = [code(r) for r in replies]
    assert codes.count("retry") >= 1 and codes.count("auth_ok") >= 1 and set(codes) == {"retry", "auth_ok"}, codes
    assert all(r.retry_after == 1.0 for r in replies if isinstance(r, f.Error))
    assert code(await login(nursery, node, ann.username)) == "auth_ok", "one at a time, every login gets in"


async def test_frames_before_hello_are_few(nursery: trio.Nursery, config: Config) -> None:
    node, people = await serve(nursery, config, prehello_frames=3)
    ann = await people.signup("ann")
    c = await people.raw()
    for _ in range(3):
        assert code(await c.request(f.Login, username=ann.username, password="wrong password")) == "unauthorized"
    with trio.fail_after(5):
        await c.send_frame(f.Login(id=99, username=ann.username, password=PASSWORD))
        await c.closed.wait()
    assert c.close_code == 1008
    after = await people.raw()  # after hello there is no such budget
    assert code(await after.request(f.Login, username=ann.username, password=PASSWORD)) == "auth_ok"
    await after.hello(ann.access_token)
    for _ in range(10):
        assert (await after.call(f.ListRooms)).rooms == []


async def test_connections_waiting_for_hello_are_capped(nursery: trio.Nursery, config: Config) -> None:
    node, people = await serve(nursery, config, max_prehello_connections=2)
    ann = await people.signup("ann")  # its connection said no hello, and is closed
    gateway = node.gateway
    assert gateway is not None
    await wait_until(lambda: gateway.prehello == 0, 5, "the signup connection is closed")
    first, second = await people.raw(), await people.raw()
    with pytest.raises(HandshakeError) as refused:
        await people.raw()
    assert isinstance(refused.value, ConnectionRejected) and refused.value.status_code == 503
    await first.hello(ann.access_token)  # one says hello: there is room for one more
    third = await people.raw()
    await third.hello(ann.access_token)
    await second.hello(ann.access_token)
    assert (await (await people.raw()).call(f.Login, username=ann.username, password=PASSWORD)).user_id == ann.user_id


async def test_correct_logins_from_one_address_cannot_fill_the_argon2_queue(nursery: trio.Nursery,
                                                                           config: Config) -> None:
    """Successes cost no login budget, so one address could keep the argon2 queue full with correct
    passwords of its own accounts; it may have only CHAT_PASSWORD_CHECKS_PER_ADDRESS checks under way."""
    node, people = await serve(nursery, config, trusted_proxies=PROXY, password_queue=8, prehello_frames=10_000,
                               password_checks_per_address=4, prehello_per_address=1000)
    mine = [await people.signup(f"mine{i}") for i in range(5)]
    ann = await people.signup("ann")
    flooder = "198.51.100.66"
    flood: list[f.Frame] = []
    done = trio.Event()

    async def keep_logging_in(i: int) -> None:
        c = await ChatClient.open_in(nursery, node.url, extra_headers=forwarded(flooder))
        while not done.is_set():
            flood.append(await c.request(f.Login, username=mine[i % 5].username, password=PASSWORD))
        await c.disconnect()
    async with trio.open_nursery() as n:
        for i in range(50):
            n.start_soon(keep_logging_in, i)
        await wait_until(lambda: len(flood) >= 100, 30, "the flood is under way")
        others = [await login_from(nursery, node, f"203.0.113.{i}", ann.username) for i in range(1, 6)]
        done.set()
    assert [code(r) for r in others] == ["auth_ok"] * 5, others
    refused = [r for r in flood if isinstance(r, f.Error)]
    assert refused and {(r.code, r.message, r.retry_after) for r in refused} == {("rate_limited", AT_ONCE, 1.0)}
    assert node.services is not None and node.services.password_checks.count(flooder) == 0, "all given back"


async def test_logins_beyond_the_device_cap_sign_out_the_least_recently_seen(nursery: trio.Nursery,
                                                                           config: Config) -> None:
    node, people = await serve(nursery, config, max_devices_per_user=3)
    ann, first = await people.new("ann")  # the signup's device, signed in on this socket
    grants = [await login(nursery, node, ann.username) for _ in range(2)]
    assert all(isinstance(g, f.AuthOk) for g in grants) and first.close_code is None  # 3 devices: within the cap
    newest = await login(nursery, node, ann.username)
    assert isinstance(newest, f.AuthOk)
    with trio.fail_after(5):
        await first.closed.wait()
    assert first.close_code == 4010, "the least recently seen device is signed out and its socket closed"
    c = await people.raw()
    await c.hello(newest.access_token)
    listed = await c.call(d.ListDevices)
    assert len(listed.devices) == 3 and sum(dev.current for dev in listed.devices) == 1
    stale = await people.raw()
    assert code(await stale.request(f.Refresh, refresh_token=ann.refresh_token)) == "unauthorized"
    looped = [await login(nursery, node, ann.username) for _ in range(5)]  # never more devices than the cap
    assert isinstance(looped[-1], f.AuthOk)
    with trio.fail_after(5):
        await c.closed.wait()  # that device too was signed out by the loop
    async with trio.open_nursery() as at_once:  # logins at the same moment cannot each miss the others
        for _ in range(6):
            at_once.start_soon(login, nursery, node, ann.username)
    live = await sql(node.config.database_url or "",
                     "SELECT count(*) FROM devices WHERE user_id = $1 AND revoked_at IS NULL", ann.user_id)
    assert live == [(3,)]


async def test_an_address_the_owner_logged_in_from_skips_the_names_backoff(nursery: trio.Nursery,
                                                                          config: Config) -> None:
    """A stranger's failures make the name wait (and `retry_after` would tell them when to fail again), but
    not at an address where the owner logged in lately; other addresses still wait."""
    node, people = await serve(nursery, config, trusted_proxies=PROXY, login_failures_per_account=2,
                               login_backoff_seconds=60, login_backoff_max=900)
    ann = await people.signup("ann")
    home, stranger, elsewhere = "203.0.113.10", "198.51.100.7", "192.0.2.44"
    assert code(await login_from(nursery, node, home, ann.username)) == "auth_ok"
    for _ in range(3):
        assert code(await login_from(nursery, node, stranger, ann.username, "wrong password")) == "unauthorized"
    waiting = await login_from(nursery, node, stranger, ann.username)
    assert isinstance(waiting, f.Error) and waiting.code == "rate_limited" and waiting.retry_after
    assert code(await login_from(nursery, node, elsewhere, ann.username)) == "rate_limited"
    for _ in range(3):
        assert code(await login_from(nursery, node, home, ann.username)) == "auth_ok"
    assert code(await login_from(nursery, node, home, ann.username, "wrong password")) == "unauthorized"


async def test_one_check_at_a_time_per_name_once_its_free_failures_are_used(nursery: trio.Nursery,
                                                                          config: Config) -> None:
    """Parallel guesses from many addresses all used to pass when a wait ended; now one is checked, the
    others are told to wait."""
    node, people = await serve(nursery, config, trusted_proxies=PROXY, login_failures_per_account=1,
                               login_backoff_seconds=5, login_backoff_max=60)
    ann = await people.signup("ann")
    assert code(await login_from(nursery, node, "198.51.100.1", ann.username, "wrong password")) == "unauthorized"
    clients = [await ChatClient.open_in(nursery, node.url, extra_headers=forwarded(f"192.0.2.{i}"))
               for i in range(1, 21)]
    replies: list[f.Frame] = []

    async def guess(c: ChatClient) -> None:
        replies.append(await c.request(f.Login, username=ann.username, password="wrong password"))
    async with trio.open_nursery() as n:
        for c in clients:
            n.start_soon(guess, c)
    codes = [code(r) for r in replies]
    assert codes.count("unauthorized") == 1 and codes.count("rate_limited") == 19, codes
    assert all(r.retry_after for r in replies if isinstance(r, f.Error) and r.code == "rate_limited")


async def test_waiting_a_names_backoff_out_forgives_nothing_a_quiet_window_everything(config: Config) -> None:
    """Guessing as each wait ends keeps doubling the wait; a window without failures after the last wait
    forgets them all (the owner is not held back for long once the guessing stops)."""
    assert config.redis_url
    cache = await Cache.open(config.redis_url, f"{config.redis_prefix}{uuid.uuid4().hex[:6]}:")
    limits = LoginLimits(window=1.0, per_pair=100, per_address=100, free_per_account=2, backoff=0.5,
                         backoff_max=60)
    keys = LoginKeys(account="ann", address="198.51.100.1")

    async def fail() -> None:
        assert await cache.login_begin(keys, limits) is None
        await cache.login_end(keys, limits, "fail")
    try:
        for _ in range(3):  # two free, then a 0.5 s wait
            await fail()
        await trio.sleep(0.7)  # the wait is over: the next failure doubles it
        await fail()
        wait = await cache.login_begin(keys, limits)
        assert wait is not None and 0.5 < wait <= 1.0, f"a 1 s wait, not {wait}"
        await trio.sleep(1.0 + 1.0 + 0.3)  # the wait, then a quiet window: all forgotten
        for _ in range(2):
            await fail()  # free again
        assert await cache.login_begin(keys, limits) is None
        await cache.login_end(keys, limits, "undo")
    finally:
        await cache.close()
