"""The HTTP side: JSON account endpoints that mirror the websocket ones, health and metrics."""

from __future__ import annotations

import uuid
from dataclasses import replace
from pathlib import Path

import httpx
import trio

from chatd.node import Node
from chatd.protocol import frames as f
from chatd.runtime.config import Config
from tests.conftest import PASSWORD, Backing, People, make_config, start_node
from tests.faultproxy import fault_proxy


async def test_signup_login_refresh_logout_over_http(node: Node, people: People) -> None:
    name = f"web_{uuid.uuid4().hex[:8]}"
    async with httpx.AsyncClient(base_url=node.http_url) as http:
        signed = await http.post("/api/signup", json={"username": name, "email": f"{name}@example.com",
                                                      "password": PASSWORD})
        assert signed.status_code == 200, signed.text
        auth = signed.json()
        assert auth["username"] == name and auth["access_token"] and "id" not in auth

        # the access token works on the websocket
        client = await people.raw()
        assert (await client.hello(auth["access_token"])).user_id == auth["user_id"]

        taken = await http.post("/api/signup", json={"username": name, "email": "other@example.com",
                                                     "password": PASSWORD})
        assert (taken.status_code, taken.json()["code"]) == (409, "conflict")
        wrong = await http.post("/api/login", json={"username": name, "password": "not the password"})
        assert (wrong.status_code, wrong.json()["code"]) == (401, "unauthorized")
        login = await http.post("/api/login", json={"username": name, "password": PASSWORD, "device": "laptop"})
        assert login.status_code == 200
        fresh = await http.post("/api/refresh", json={"refresh_token": login.json()["refresh_token"]})
        assert fresh.status_code == 200 and fresh.json()["refresh_token"] != login.json()["refresh_token"]
        out = await http.post("/api/logout", json={"refresh_token": fresh.json()["refresh_token"]})
        assert out.status_code == 200
        again = await http.post("/api/refresh", json={"refresh_token": fresh.json()["refresh_token"]})
        assert again.status_code == 401


async def test_bad_requests_get_clear_errors(node: Node) -> None:
    async with httpx.AsyncClient(base_url=node.http_url) as http:
        missing = await http.post("/api/login", json={"username": "x"})
        assert missing.status_code == 400 and "password" in missing.json()["message"]
        not_json = await http.post("/api/login", content=b"{nope", headers={"content-type": "application/json"})
        assert not_json.status_code == 400 and "JSON" in not_json.json()["message"]
        form = await http.post("/api/login", data={"username": "x", "password": "y"})
        assert form.status_code == 400 and "Content-Type" in form.json()["message"]
        huge = await http.post("/api/login", json={"username": "x", "password": "y" * 100_000})
        assert huge.status_code == 413
        wrong_method = await http.get("/api/login")
        assert wrong_method.status_code == 405 and wrong_method.json()["code"] == "bad_request"
        assert "POST" in wrong_method.headers["allow"]
        no_route = await http.post("/api/admin/rooms/-1/stop")  # no route matches (the id is not a number)
        assert (no_route.status_code, no_route.json()["code"]) == (404, "not_found")
        assert (await http.get("/nope")).status_code == 404


async def test_healthz_reports_each_service(nursery: trio.Nursery, backing: Backing, tmp_path: Path) -> None:
    async with fault_proxy(backing.redis_url, 6379) as proxy:
        running = await start_node(nursery, make_config(backing, tmp_path, redis_url=proxy.proxied_url))
        async with httpx.AsyncClient(base_url=running.node.http_url) as http:
            ok = await http.get("/healthz")
            assert ok.status_code == 200 and ok.json() == {"status": "ok", "postgres": "ok", "redis": "ok"}
            proxy.cut()
            down = await http.get("/healthz")
            assert down.status_code == 503 and down.json()["redis"] == "down" and down.json()["postgres"] == "ok"
            proxy.restore()


async def test_account_requests_get_retry_while_the_database_is_down(nursery: trio.Nursery, config: Config) -> None:
    assert config.database_url
    async with fault_proxy(config.database_url, 5432) as pg:
        running = await start_node(nursery, replace(config, database_url=pg.proxied_url))
        name = f"web_{uuid.uuid4().hex[:8]}"
        async with httpx.AsyncClient(base_url=running.node.http_url) as http:
            signed = await http.post("/api/signup", json={"username": name, "email": f"{name}@example.com",
                                                          "password": PASSWORD})
            assert signed.status_code == 200
            pg.cut()
            for path, body in (("/api/login", {"username": name, "password": PASSWORD}),
                               ("/api/refresh", {"refresh_token": signed.json()["refresh_token"]})):
                down = await http.post(path, json=body)
                assert (down.status_code, down.json()["code"], down.headers["retry-after"]) == (503, "retry", "1")
            pg.restore()
            login = {"username": name, "password": PASSWORD}
            with trio.fail_after(20):  # and once it is back, logins work again
                while (again := await http.post("/api/login", json=login)).status_code != 200:
                    assert (again.status_code, again.json()["code"]) == (503, "retry")
                    await trio.sleep(0.1)
        await running.stop()


async def test_metrics_count_connections_actors_and_messages(node: Node, people: People) -> None:
    (_, ann_c), (bob, bob_c) = await people.new("ann"), await people.new("bob")
    room = (await ann_c.call(f.OpenDirect, user=bob.user_id)).room.room
    await bob_c.collect(room, 1)  # the creation (a backlog batch); after its ack, messages come live
    for i in range(3):
        await ann_c.send_text(room, f"m{i}")
    await bob_c.collect(room, 3)
    async with httpx.AsyncClient(base_url=node.http_url) as http:
        text = (await http.get("/metrics")).text
    values = {line.split(" ")[0]: float(line.split(" ")[1]) for line in text.splitlines()
              if line and not line.startswith("#")}
    assert values["chatd_connections"] == 2
    assert values['chatd_actors{kind="user"}'] == 2 and values['chatd_actors{kind="room"}'] >= 1
    assert values["chatd_messages_in_total"] == 3
    assert values['chatd_messages_out_total{backlog="false"}'] >= 3
    assert values["chatd_delivery_latency_seconds_count"] >= 3
    assert "chatd_delivery_latency_seconds_bucket" in text
