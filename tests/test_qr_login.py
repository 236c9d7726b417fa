"""QR device login (docs/protocol.md 3.9) through the real server: a new device shows a code, a signed-in device
approves or declines it, and only the device that holds the request's secret gets tokens, for a device of its own."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import trio

from chatd.clients.sdk import Chat, ChatError, QrLogin
from chatd.clients.sdk.events import SessionEnded
from chatd.node import Node
from chatd.protocol import frames as f
from chatd.protocol import qr
from chatd.runtime.config import Config
from tests.conftest import PASSWORD, Backing, People, make_config, start_node, start_pair


@pytest.fixture
def config(backing: Backing, tmp_path: Path) -> Config:
    """A Redis prefix of its own per test: the per-address QR limits of one test do not spill into the next."""
    return make_config(backing, tmp_path, redis_prefix=f"qr-test-{uuid.uuid4().hex[:8]}:")


async def node_with(nursery: trio.Nursery, backing: Backing, tmp_path: Path, **overrides: object) -> Node:
    cfg = make_config(backing, tmp_path, redis_prefix=f"qr-test-{uuid.uuid4().hex[:8]}:", **overrides)
    return (await start_node(nursery, cfg)).node


@contextlib.asynccontextmanager
async def chat(node: Node, path: Path, device: str) -> AsyncIterator[Chat]:
    async with Chat.open(node.url, path, http_url=node.http_url, device=device) as c:
        yield c


@contextlib.asynccontextmanager
async def devices(node: Node, tmp_path: Path) -> AsyncIterator[tuple[Chat, Chat]]:
    """The phone (signed in, approves) and the laptop (the new device, shows the QR)."""
    async with chat(node, tmp_path / "phone.db", "phone") as phone, \
            chat(node, tmp_path / "laptop.db", "laptop") as laptop:
        yield phone, laptop


async def signed_up(c: Chat) -> str:
    name = f"ann_{uuid.uuid4().hex[:8]}"
    await c.signup(name, f"{name}@example.com", PASSWORD)
    return name


async def raw_wait(node: Node, request: QrLogin, secret: str | None = None,
                   headers: dict[str, str] | None = None, path: str = "/api/qr/wait") -> httpx.Response:
    async with httpx.AsyncClient(timeout=30) as http:
        return await http.post(f"{node.http_url.rstrip('/')}{path}", headers=headers,
                               json={"code": request.code, "secret": secret or request.secret})


async def refused(fn: object, code: str, words: str = "") -> ChatError:
    with pytest.raises(ChatError) as caught:
        await fn  # type: ignore[misc]
    assert caught.value.code == code and words in caught.value.error.message, caught.value
    return caught.value


async def test_an_approved_device_signs_in_as_a_device_of_its_own_that_can_be_signed_out(
        node: Node, tmp_path: Path, nursery: trio.Nursery) -> None:
    async with devices(node, tmp_path) as (phone, laptop):
        name = await signed_up(phone)
        request = await laptop.start_qr_login()
        assert request.link == f"{node.http_url.rstrip('/')}/qr/{request.code}"
        assert request.secret not in request.link and qr.code_of(request.link) == request.code
        signed_in = trio.Event()

        async def finish() -> None:
            await laptop.finish_qr_login(request)
            signed_in.set()
        nursery.start_soon(finish)

        # the phone pastes the code as people read it (grouped, lower case) and sees who asks, from where
        asking = await phone.qr_login_request(request.shown.lower())
        assert (asking.code, asking.device, asking.address) == (request.code, "laptop", "127.0.0.1")
        assert asking.user_agent and "python-httpx" in asking.user_agent and 100 < asking.expires_in <= 120
        await trio.sleep(0.5)
        assert not signed_in.is_set() and laptop.user_id is None  # nothing before the approval
        approved_at = trio.current_time()
        await phone.answer_qr_login(request.link, approve=True)
        with trio.fail_after(5):
            await signed_in.wait()
        assert trio.current_time() - approved_at < 1.0  # the long-poll was woken, not left to time out
        assert (laptop.user_id, laptop.username) == (phone.user_id, name)
        assert laptop.tokens.tokens and phone.tokens.tokens
        assert laptop.tokens.tokens.refresh_token != phone.tokens.tokens.refresh_token

        assert await laptop.rooms() == []  # a working session of its own
        listed = await phone.devices()
        assert sorted((d.name, d.current) for d in listed) == [("laptop", False), ("phone", True)]
        assert [d.name for d in await laptop.devices() if d.current] == ["laptop"]

        laptop_device = next(d.device for d in listed if d.name == "laptop")
        await phone.logout_device(laptop_device)  # revocable like any other device
        with trio.fail_after(10):
            while not isinstance(await laptop.next_event(), SessionEnded):
                pass
        assert [d.name for d in await phone.devices()] == ["phone"]


async def test_a_declined_request_signs_nobody_in_and_is_gone(node: Node, tmp_path: Path) -> None:
    async with devices(node, tmp_path) as (phone, laptop):
        await signed_up(phone)
        request = await laptop.start_qr_login()
        await phone.answer_qr_login(request.code, approve=False)
        await refused(phone.answer_qr_login(request.code, approve=True), "conflict", "answered already")
        await refused(laptop.finish_qr_login(request), "forbidden", "declined")
        assert laptop.user_id is None
        await refused(laptop.finish_qr_login(request), "not_found")
        assert [d.name for d in await phone.devices()] == ["phone"]


async def test_a_request_is_collected_once(node: Node, tmp_path: Path) -> None:
    async with devices(node, tmp_path) as (phone, laptop):
        await signed_up(phone)
        request = await laptop.start_qr_login()
        await phone.answer_qr_login(request.code, approve=True)
        await refused(phone.answer_qr_login(request.code, approve=True), "conflict", "answered already")
        await laptop.finish_qr_login(request)
        replay = await raw_wait(node, request)  # the same code and secret again: nothing more to collect
        assert replay.status_code == 404 and replay.json()["code"] == "not_found", replay.text
        await refused(phone.qr_login_request(request.code), "not_found")
        await refused(phone.answer_qr_login(request.code, approve=True), "not_found")
        assert sorted(d.name or "" for d in await phone.devices()) == ["laptop", "phone"]


async def test_only_the_holder_of_the_secret_gets_the_tokens(node: Node, tmp_path: Path) -> None:
    async with devices(node, tmp_path) as (phone, laptop):
        await signed_up(phone)
        request = await laptop.start_qr_login()
        await phone.answer_qr_login(request.code, approve=True)
        # someone who saw the QR (the code is public) cannot collect it, and does not spoil it either
        stolen = await raw_wait(node, request, secret=qr.new_secret())
        assert stolen.status_code == 401 and "wrong secret" in stolen.json()["message"]
        assert "access_token" not in stolen.text
        await laptop.finish_qr_login(request)
        assert laptop.user_id == phone.user_id


async def test_a_wait_whose_client_went_away_collects_nothing(node: Node, tmp_path: Path) -> None:
    """A wait the client gave up on (a closed tab, a dropped network) ends without taking the approval, which
    the device's next wait then gets."""
    async with devices(node, tmp_path) as (phone, laptop):
        await signed_up(phone)
        request = await laptop.start_qr_login()
        async with httpx.AsyncClient(timeout=0.5) as impatient:
            with pytest.raises(httpx.TimeoutException):
                await impatient.post(f"{node.http_url.rstrip('/')}/api/qr/wait",
                                     json={"code": request.code, "secret": request.secret})
        await phone.answer_qr_login(request.code, approve=True)
        with trio.fail_after(5):
            await laptop.finish_qr_login(request)
        assert laptop.user_id == phone.user_id
        assert sorted(d.name or "" for d in await phone.devices()) == ["laptop", "phone"]  # no orphan device


async def test_an_approval_from_a_device_signed_out_meanwhile_signs_nobody_in(node: Node, tmp_path: Path,
                                                                               people: People) -> None:
    async with devices(node, tmp_path) as (phone, laptop):
        await signed_up(phone)
        request = await laptop.start_qr_login()
        await phone.answer_qr_login(request.code, approve=True)
        assert phone.tokens.tokens is not None  # the phone is lost: signed out from elsewhere
        await (await people.raw()).call(f.Logout, refresh_token=phone.tokens.tokens.refresh_token)
        await refused(laptop.finish_qr_login(request), "forbidden", "signed out meanwhile")
        assert laptop.user_id is None


async def test_requests_expire(nursery: trio.Nursery, backing: Backing, tmp_path: Path) -> None:
    node = await node_with(nursery, backing, tmp_path, qr_login_ttl=1)
    async with devices(node, tmp_path) as (phone, laptop):
        await signed_up(phone)
        request = await laptop.start_qr_login()
        with trio.fail_after(5):  # a wait under way ends when its request expires; it does not hang
            await refused(laptop.finish_qr_login(request), "not_found", "expired")
        await refused(phone.qr_login_request(request.code), "not_found")
        await refused(phone.answer_qr_login(request.code, approve=True), "not_found")
        assert laptop.user_id is None


async def test_starting_and_waiting_are_limited_per_client_address(
        nursery: trio.Nursery, backing: Backing, tmp_path: Path) -> None:
    node = await node_with(nursery, backing, tmp_path, qr_logins_per_hour=2, qr_polls_per_minute=3,
                           qr_waits_per_address=1, qr_wait_seconds=1.0)
    async with chat(node, tmp_path / "laptop.db", "laptop") as laptop:
        request = await laptop.start_qr_login()
        await laptop.start_qr_login()
        over = await refused(laptop.start_qr_login(), "rate_limited", "too many attempts")
        assert over.error.retry_after and over.error.retry_after > 60

        answers: list[httpx.Response] = []

        async def wait() -> None:
            answers.append(await raw_wait(node, request))
        async with trio.open_nursery() as both:  # two waits at once from one address: one is refused at once
            both.start_soon(wait)
            both.start_soon(wait)
        assert sorted(a.status_code for a in answers) == [202, 429]
        assert "at once" in next(a for a in answers if a.status_code == 429).json()["message"]
        pending = next(a for a in answers if a.status_code == 202).json()
        assert pending["status"] == "pending" and 0 < pending["expires_in"] <= 120
        assert (await raw_wait(node, request)).status_code == 202  # the third wait of the minute
        fourth = await raw_wait(node, request)
        assert fourth.status_code == 429 and int(fourth.headers["retry-after"]) >= 1


async def test_the_new_device_counts_toward_the_device_cap(
        nursery: trio.Nursery, backing: Backing, tmp_path: Path) -> None:
    node = await node_with(nursery, backing, tmp_path, max_devices_per_user=2)
    people = People(nursery, node)
    async with devices(node, tmp_path) as (phone, laptop):
        name = f"ann_{uuid.uuid4().hex[:8]}"
        old = await (await people.raw()).call(f.Signup, username=name, email=f"{name}@example.com", password=PASSWORD,
                                              device="old tablet")
        await phone.login(name, PASSWORD)
        assert sorted(d.name or "" for d in await phone.devices()) == ["old tablet", "phone"]
        request = await laptop.start_qr_login()
        await phone.answer_qr_login(request.code, approve=True)
        await laptop.finish_qr_login(request)
        assert sorted(d.name or "" for d in await phone.devices()) == ["laptop", "phone"]  # the least recently seen
        refused_refresh = await (await people.raw()).request(f.Refresh, refresh_token=old.refresh_token)
        assert isinstance(refused_refresh, f.Error) and refused_refresh.code == "unauthorized"


async def test_the_web_client_gets_its_refresh_token_in_the_cookie_only(
        node: Node, tmp_path: Path, nursery: trio.Nursery) -> None:
    async with chat(node, tmp_path / "phone.db", "phone") as phone:
        await signed_up(phone)
        base = node.http_url.rstrip("/")
        async with httpx.AsyncClient(timeout=30) as browser:
            started = (await browser.post(f"{base}/api/qr/start", json={"device": "web (Chrome)"})).json()
            assert set(started) == {"code", "secret", "expires_in"}
            request = QrLogin(started["code"], qr.link(base, started["code"]), 0.0, started["secret"])
            no_header = await raw_wait(node, request, path="/api/auth/qr/wait")
            assert no_header.status_code == 403 and "X-Chatd" in no_header.json()["message"]
            await phone.answer_qr_login(request.code, approve=True)
            answer = await browser.post(f"{base}/api/auth/qr/wait", headers={"X-Chatd": "1"},
                                        json={"code": request.code, "secret": request.secret})
            assert answer.status_code == 200 and answer.json()["user_id"] == phone.user_id
            assert "refresh_token" not in answer.json()
            cookie = answer.headers["set-cookie"].lower()
            assert "chatd_refresh=" in cookie and "httponly" in cookie and "samesite=strict" in cookie
            refreshed = await browser.post(f"{base}/api/auth/refresh", headers={"X-Chatd": "1"}, json={})
            assert refreshed.status_code == 200 and refreshed.json()["user_id"] == phone.user_id
        assert sorted(d.name or "" for d in await phone.devices()) == ["phone", "web (Chrome)"]


async def test_the_approver_sees_the_address_a_trusted_proxy_forwarded(
        nursery: trio.Nursery, backing: Backing, tmp_path: Path) -> None:
    node = await node_with(nursery, backing, tmp_path, trusted_proxies=("127.0.0.1",))
    async with chat(node, tmp_path / "phone.db", "phone") as phone, httpx.AsyncClient() as http:
        await signed_up(phone)
        started = await http.post(f"{node.http_url.rstrip('/')}/api/qr/start", json={},
                                  headers={"X-Forwarded-For": "203.0.113.7", "User-Agent": "[b]Browser[/b]/1"})
        asking = await phone.qr_login_request(started.json()["code"])
        assert asking.address == "203.0.113.7" and asking.device is None
        assert asking.user_agent == "[b]Browser[/b]/1"  # as sent: clients show it as text, never as markup


async def test_approving_needs_a_signed_in_connection_and_a_real_code(node: Node, people: People) -> None:
    stranger = await people.raw()
    before_hello = await stranger.request(qr.QrLoginPreview, code="0" * 20)
    assert isinstance(before_hello, f.Error) and before_hello.code == "unauthorized"
    _, ann = await people.new("ann")
    bad = await ann.request(qr.QrLoginAnswer, code="not a code", approve=True)
    assert isinstance(bad, f.Error) and bad.code == "bad_request" and "not a QR login code" in bad.message
    unknown = await ann.request(qr.QrLoginPreview, code=qr.new_code())
    assert isinstance(unknown, f.Error) and unknown.code == "not_found"


async def test_an_approval_on_another_process_reaches_the_wait(nursery: trio.Nursery, backing: Backing,
                                                               tmp_path: Path) -> None:
    """The laptop waits on process a, the phone approves on process b: the wait hears it through Redis."""
    pair = await start_pair(nursery, backing, tmp_path, redis_prefix=f"qr-test-{uuid.uuid4().hex[:8]}:")
    async with chat(pair.b, tmp_path / "phone.db", "phone") as phone, \
            chat(pair.a, tmp_path / "laptop.db", "laptop") as laptop:
        await signed_up(phone)
        request = await laptop.start_qr_login()
        signed_in = trio.Event()

        async def finish() -> None:
            await laptop.finish_qr_login(request)
            signed_in.set()
        nursery.start_soon(finish)
        assert (await phone.qr_login_request(request.code)).device == "laptop"
        await trio.sleep(0.3)
        approved_at = trio.current_time()
        await phone.answer_qr_login(request.code, approve=True)
        with trio.fail_after(5):
            await signed_in.wait()
        assert trio.current_time() - approved_at < 2.0  # within a poll or two, not at the end of the wait
        assert laptop.user_id == phone.user_id
