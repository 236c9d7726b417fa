"""Behind a reverse proxy (CHAT_TRUSTED_PROXIES): per-address limits count each client, not the proxy.

The test client connects from 127.0.0.1, so with CHAT_TRUSTED_PROXIES=127.0.0.1/32 it plays the proxy and
its X-Forwarded-For / Forwarded headers name the clients; without it the same headers are a client's
spoofing attempt and are ignored.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio
from trio_websocket import ConnectionRejected, open_websocket_url

from chatd.clients.ws import ChatClient
from chatd.node import Node
from chatd.protocol import frames as f
from tests.conftest import PASSWORD, Backing, make_config, start_node
from tests.faults.load import wait_until

PROXY = ("127.0.0.1/32",)


async def serve(nursery: trio.Nursery, backing: Backing, tmp_path: Path, **overrides: Any) -> Node:
    """A node with its own Redis prefix: each test's rate limits start from zero."""
    prefix = f"{backing.redis_prefix}{uuid.uuid4().hex[:8]}:"
    return (await start_node(nursery, make_config(backing, tmp_path, redis_prefix=prefix, **overrides))).node


def via(header: str, value: str) -> list[tuple[bytes, bytes]]:
    return [(header.encode(), value.encode())]


def xff(client: str) -> list[tuple[bytes, bytes]]:
    return via("X-Forwarded-For", client)


async def connected(nursery: trio.Nursery, node: Node, headers: list[tuple[bytes, bytes]]) -> ChatClient:
    return await ChatClient.open_in(nursery, node.url, extra_headers=headers)


async def refused_status(node: Node, headers: list[tuple[bytes, bytes]]) -> int:
    with pytest.raises(ConnectionRejected) as refused:
        async with open_websocket_url(node.url, extra_headers=headers):
            pass
    return int(refused.value.status_code)


async def test_connections_forwarded_by_a_trusted_proxy_count_per_client(
        nursery: trio.Nursery, backing: Backing, tmp_path: Path) -> None:
    node = await serve(nursery, backing, tmp_path, trusted_proxies=PROXY, max_connections_per_address=2)
    for client in ("203.0.113.7", "203.0.113.8"):
        for _ in range(2):
            await connected(nursery, node, xff(f"198.51.100.1, {client}"))  # what the client prepends: ignored
    assert await refused_status(node, xff("203.0.113.7")) == 429
    assert await refused_status(node, xff("1.1.1.1, 203.0.113.8")) == 429
    c = await connected(nursery, node, xff("203.0.113.9"))  # a third client still gets in, and works
    assert isinstance(await c.request(f.Login, username="nobody", password=PASSWORD), f.Error)


async def test_a_spoofed_header_from_an_untrusted_peer_cannot_dodge_the_cap(
        nursery: trio.Nursery, backing: Backing, tmp_path: Path) -> None:
    node = await serve(nursery, backing, tmp_path, max_connections_per_address=2)  # no trusted proxies
    await connected(nursery, node, xff("203.0.113.7"))
    await connected(nursery, node, via("Forwarded", "for=203.0.113.8"))
    assert await refused_status(node, xff("203.0.113.9")) == 429  # all of them are 127.0.0.1
    assert await refused_status(node, []) == 429


async def test_ipv6_clients_share_a_cap_per_64(nursery: trio.Nursery, backing: Backing, tmp_path: Path) -> None:
    node = await serve(nursery, backing, tmp_path, trusted_proxies=PROXY, max_connections_per_address=2,
                       forwarded_header="Forwarded")
    await connected(nursery, node, via("Forwarded", 'for="[2001:db8:1:2::1]:443"'))
    await connected(nursery, node, via("Forwarded", 'for="[2001:db8:1:2:ffff::9]"'))
    assert await refused_status(node, via("Forwarded", 'for="[2001:db8:1:2::3]:443"')) == 429  # same /64
    await connected(nursery, node, via("Forwarded", 'for="[2001:db8:1:3::1]:443"'))  # another /64


def signup_body() -> dict[str, str]:
    name = f"p_{uuid.uuid4().hex[:10]}"
    return {"username": name, "email": f"{name}@example.com", "password": PASSWORD}


async def test_http_signups_count_per_forwarded_client(
        nursery: trio.Nursery, backing: Backing, tmp_path: Path) -> None:
    node = await serve(nursery, backing, tmp_path, trusted_proxies=PROXY, signups_per_hour=2)
    async with httpx.AsyncClient(base_url=node.http_url) as http:
        async def signup(headers: dict[str, str]) -> httpx.Response:
            return await http.post("/api/signup", json=signup_body(), headers=headers)

        for client in ("203.0.113.7", "2001:db8:1:2::1"):
            for _ in range(2):
                assert (await signup({"X-Forwarded-For": client})).status_code == 200
        third = await signup({"X-Forwarded-For": "203.0.113.7"})
        assert third.status_code == 429 and third.json()["code"] == "rate_limited"
        same_64 = await signup({"X-Forwarded-For": "[2001:db8:1:2::bad]:443"})
        assert same_64.status_code == 429
        assert (await signup({"X-Forwarded-For": "2001:db8:1:3::1"})).status_code == 200  # another /64
        assert (await signup({"Forwarded": "for=198.51.100.77", "X-Forwarded-For": "203.0.113.7"})
                ).status_code == 429  # a client's own Forwarded next to the proxy's X-Forwarded-For: ignored
        assert (await signup({"X-Forwarded-For": "203.0.113.8"})).status_code == 200


async def test_http_signups_ignore_headers_from_an_untrusted_peer(
        nursery: trio.Nursery, backing: Backing, tmp_path: Path) -> None:
    node = await serve(nursery, backing, tmp_path, signups_per_hour=2)
    async with httpx.AsyncClient(base_url=node.http_url) as http:
        for client in ("203.0.113.7", "203.0.113.8"):
            ok = await http.post("/api/signup", json=signup_body(), headers={"X-Forwarded-For": client})
            assert ok.status_code == 200
        spoofed = await http.post("/api/signup", json=signup_body(), headers={"X-Forwarded-For": "203.0.113.9"})
        assert spoofed.status_code == 429


async def test_one_clients_wrong_passwords_do_not_lock_the_account_for_others(
        nursery: trio.Nursery, backing: Backing, tmp_path: Path) -> None:
    node = await serve(nursery, backing, tmp_path, trusted_proxies=PROXY, login_attempts=2, signups_per_hour=5)
    owner = await connected(nursery, node, xff("203.0.113.1"))
    body = signup_body()
    await owner.call(f.Signup, username=body["username"], email=body["email"], password=PASSWORD)
    guesser = await connected(nursery, node, xff("198.51.100.66"))
    for _ in range(2):
        wrong = await guesser.request(f.Login, username=body["username"], password="not the password")
        assert isinstance(wrong, f.Error) and wrong.code == "unauthorized"
    locked = await guesser.request(f.Login, username=body["username"], password="not the password")
    assert isinstance(locked, f.Error) and locked.code == "rate_limited"
    auth = await owner.call(f.Login, username=body["username"], password=PASSWORD)
    assert isinstance(auth, f.AuthOk)


async def test_one_address_gets_only_a_share_of_the_connections_waiting_for_hello(
        nursery: trio.Nursery, backing: Backing, tmp_path: Path) -> None:
    """Sockets that never say hello from one or two addresses must not fill the process's pre-hello pool
    and lock everyone else out at the handshake."""
    node = await serve(nursery, backing, tmp_path, trusted_proxies=PROXY, prehello_per_address=2,
                       max_prehello_connections=100)
    idle = [await connected(nursery, node, xff("203.0.113.7")) for _ in range(2)]
    assert await refused_status(node, xff("203.0.113.7")) == 429
    other = await connected(nursery, node, xff("203.0.113.8"))  # another client is not locked out
    body = signup_body()
    auth = await other.call(f.Signup, username=body["username"], email=body["email"], password=PASSWORD)
    await other.hello(auth.access_token)
    await idle[0].disconnect()
    gateway = node.gateway
    assert gateway is not None
    await wait_until(lambda: gateway.prehello_per_address["203.0.113.7"] < 2, 5, "the idle socket's slot is free")
    await connected(nursery, node, xff("203.0.113.7"))
