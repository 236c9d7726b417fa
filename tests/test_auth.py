"""Accounts over the websocket: signup rules, login, refresh rotation, logout, token checks."""

from __future__ import annotations

import time
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

import jwt
import pytest
import trio

from chatd.auth.tokens import AUDIENCE, ISSUER, TokenIssuer
from chatd.clients.ws import ChatClient
from chatd.node import Node
from chatd.protocol import frames as f
from chatd.runtime.config import Config
from tests.conftest import PASSWORD, Backing, People, make_config, start_node


def name() -> str:
    return f"u_{uuid.uuid4().hex[:10]}"


async def test_signup_rules(people: People) -> None:
    c = await people.raw()
    n = name()
    cases: list[tuple[dict[str, Any], str, str]] = [
        ({"username": n, "email": f"{n}@x.io", "password": "short"}, "bad_request", "at least 8"),
        ({"username": n, "email": "not-an-email", "password": PASSWORD}, "bad_request", "email"),
        ({"username": n, "email": f"{n}@x.io", "password": n}, "bad_request", "username"),
        ({"username": "a b", "email": f"{n}@x.io", "password": PASSWORD}, "bad_request", "username"),
    ]
    for fields, code, words in cases:
        err = await c.request(f.Signup, **fields)
        assert isinstance(err, f.Error) and err.code == code and words in err.message, fields
    ok = await c.call(f.Signup, username=n, email=f"{n}@x.io", password=PASSWORD)
    assert ok.user_id > 0 and ok.username == n
    dup_name = await c.request(f.Signup, username=n.upper(), email=f"other{n}@x.io", password=PASSWORD)
    assert isinstance(dup_name, f.Error) and dup_name.code == "conflict" and "username" in dup_name.message
    dup_mail = await c.request(f.Signup, username=name(), email=f"{n.upper()}@X.IO", password=PASSWORD)
    assert isinstance(dup_mail, f.Error) and dup_mail.code == "conflict" and "email" in dup_mail.message


async def test_login_by_username_or_email_and_wrong_password(people: People) -> None:
    ann = await people.signup("ann")
    c = await people.raw()
    by_name = await c.call(f.Login, username=ann.username.upper(), password=PASSWORD)
    by_mail = await c.call(f.Login, username=f"{ann.username}@example.com", password=PASSWORD)
    assert by_name.user_id == by_mail.user_id == ann.user_id
    for login, password in [(ann.username, "wrong password"), ("nobody_" + uuid.uuid4().hex[:6], PASSWORD)]:
        err = await c.request(f.Login, username=login, password=password)
        assert isinstance(err, f.Error) and err.code == "unauthorized" and err.message == "wrong username or password"


async def refused(c: ChatClient, refresh_token: str) -> bool:
    """Whether `refresh` with this token is refused as unauthorized."""
    reply = await c.request(f.Refresh, refresh_token=refresh_token)
    return isinstance(reply, f.Error) and reply.code == "unauthorized"


async def test_refresh_rotates_and_reuse_revokes_the_device(people: People) -> None:
    ann = await people.signup("ann")
    c = await people.raw()
    fresh = await c.call(f.Refresh, refresh_token=ann.refresh_token)
    assert fresh.refresh_token != ann.refresh_token and fresh.user_id == ann.user_id
    await (await people.raw()).hello(fresh.access_token)  # the new access token works
    fresher = await c.call(f.Refresh, refresh_token=fresh.refresh_token)  # the successor was used in turn
    # now the first token is spent for good: its reuse (a stolen copy) revokes the device's latest token too
    assert await refused(c, ann.refresh_token)
    assert await refused(c, fresher.refresh_token)


async def test_a_refresh_whose_reply_was_lost_can_be_retried(people: People) -> None:
    ann = await people.signup("ann")
    c = await people.raw()
    lost = await c.call(f.Refresh, refresh_token=ann.refresh_token)  # as if this reply never arrived
    retried = await c.call(f.Refresh, refresh_token=ann.refresh_token)  # the client tries again, same token
    again = await c.call(f.Refresh, refresh_token=ann.refresh_token)  # and again: still the same device
    # each answer names the same successor (so a reply that did arrive after all holds a live token)
    assert lost.refresh_token == retried.refresh_token == again.refresh_token != ann.refresh_token
    await (await people.raw()).hello(again.access_token)
    next_one = await c.call(f.Refresh, refresh_token=lost.refresh_token)
    # once the successor is used, the first token is spent for good: showing it is theft, the device goes
    assert await refused(c, ann.refresh_token)
    assert await refused(c, next_one.refresh_token)


async def test_no_retry_once_the_window_is_over(nursery: trio.Nursery, backing: Backing, tmp_path: Path) -> None:
    node = (await start_node(nursery, make_config(backing, tmp_path, refresh_retry_seconds=0.0))).node
    people = People(nursery, node)
    ann = await people.signup("ann")
    c = await people.raw()
    fresh = await c.call(f.Refresh, refresh_token=ann.refresh_token)
    assert await refused(c, ann.refresh_token)
    assert await refused(c, fresh.refresh_token)


async def test_logout_revokes_only_that_device(people: People) -> None:
    ann = await people.signup("ann")
    c = await people.raw()
    laptop = await c.call(f.Login, username=ann.username, password=PASSWORD, device="laptop")
    await c.call(f.Logout, refresh_token=laptop.refresh_token)
    gone = await c.request(f.Refresh, refresh_token=laptop.refresh_token)
    assert isinstance(gone, f.Error) and gone.code == "unauthorized"
    still = await c.call(f.Refresh, refresh_token=ann.refresh_token)  # the signup device is unaffected
    assert still.user_id == ann.user_id
    again = await c.request(f.Logout, refresh_token=laptop.refresh_token)
    assert isinstance(again, f.Error) and again.code == "not_found"


def forged_tokens(user_id: int) -> dict[str, str]:
    now = int(time.time())
    good = {"sub": str(user_id), "dev": "d", "iat": now, "exp": now + 600, "aud": AUDIENCE, "iss": ISSUER}
    return {
        "other key": jwt.encode(good, "k" * 40, algorithm="HS256"),
        "alg none": jwt.encode(good, None, algorithm="none"),  # type: ignore[arg-type]
        "other algorithm": jwt.encode(good, "t" * 64, algorithm="HS512"),
        "wrong audience": jwt.encode({**good, "aud": "elsewhere"}, "t" * 40, algorithm="HS256"),
        "wrong issuer": jwt.encode({**good, "iss": "someone"}, "t" * 40, algorithm="HS256"),
        "no exp": jwt.encode({k: v for k, v in good.items() if k != "exp"}, "t" * 40, algorithm="HS256"),
        "expired": jwt.encode({**good, "iat": now - 700, "exp": now - 100}, "t" * 40, algorithm="HS256"),
        "garbage": "not.a.token",
    }


@pytest.mark.parametrize("kind", list(forged_tokens(1)))
async def test_forged_or_expired_token_is_refused(people: People, kind: str) -> None:
    ann = await people.signup("ann")
    c = await people.raw()
    err = await c.request(f.Hello, version=1, token=forged_tokens(ann.user_id)[kind])
    assert isinstance(err, f.Error) and err.code == "unauthorized", kind
    assert (await c.request(f.ListRooms)).code == "unauthorized"  # type: ignore[attr-defined]


async def test_connection_closes_when_token_expires_unless_refreshed(people: People, node: Node) -> None:
    ann = await people.signup("ann")
    issuer = TokenIssuer("t" * 40, access_ttl=900)
    dev = issuer.verify(ann.access_token).device_id  # tokens must name a signed-in device
    short = issuer.issue(ann.user_id, dev, now=time.time() - 900 + 1.5)  # expires in 1.5 s
    kept = await people.raw()
    await kept.hello(short)
    dropped = await people.raw()
    await dropped.hello(short)
    await kept.call(f.Auth, token=issuer.issue(ann.user_id, dev))  # in-band refresh
    with trio.fail_after(5):
        await dropped.closed.wait()
    assert dropped.close_code == 4001
    assert (await kept.call(f.ListRooms)).rooms == []


async def test_no_hello_in_time_closes(nursery: trio.Nursery, config: Config) -> None:
    node = await nursery.start(Node(replace(config, auth_timeout=0.5)).run)
    c = await People(nursery, node).raw()
    with trio.fail_after(5):
        await c.closed.wait()
    assert c.close_code == 4001
