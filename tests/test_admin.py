"""The admin API (issue 8) against a real node: who may use it, the tree it reports, and its actions on live
connections and actors."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest
import trio

from chatd.clients.ws import ChatClient, Disconnected
from chatd.node import Node
from chatd.protocol import frames as f
from tests.admin_support import actor, find, http, new_admin
from tests.conftest import PASSWORD, Backing, People


async def status(api: httpx.AsyncClient) -> dict[str, Any]:
    answer = await api.get("/api/admin/status")
    assert answer.status_code == 200, answer.text
    return answer.json()  # type: ignore[no-any-return]


async def closed_with(client: ChatClient, code: int) -> None:
    with trio.fail_after(5):
        await client.closed.wait()
    assert client.close_code == code


async def test_only_admins_may_use_it_and_refusals_are_logged(node: Node, people: People, backing: Backing,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, "chatd.admin")
    someone = await people.signup("someone")
    async with http(node.http_url) as anonymous, http(node.http_url, someone.access_token) as user:
        assert (await anonymous.get("/api/admin/status")).status_code == 401
        for method, path in (("GET", "/api/admin/status"), ("POST", "/api/admin/drain"),
                             ("POST", f"/api/admin/users/{someone.user_id}/disable")):
            refused = await user.request(method, path)
            assert refused.status_code == 403 and refused.json()["code"] == "forbidden", (path, refused.text)
    refusals = [r for r in caplog.records if "admin API refused" in r.getMessage()]
    assert any(getattr(r, "user", None) == someone.user_id and "not an admin" in r.getMessage() for r in refusals)
    assert len(refusals) == 4
    assert node.admin is not None and node.admin.state == "running"

    admin = await new_admin(people, backing)
    async with http(node.http_url, admin.access_token) as api:
        report = await status(api)
    tree = report["tree"]
    assert tree["name"] == "root" and tree["kind"] == "supervisor"
    names = {c["name"]: c for c in tree["children"]}
    assert {"rooms", "cursors", "users", "presence", "gateway", "http", "push"} <= names.keys()
    assert names["rooms"]["kind"] == "supervisor" and names["cursors"]["mailbox"]["capacity"] > 0
    assert find(tree, "push-scan") is not None  # the push service's own supervisor is walked too
    assert report["database"]["status"] == "ok" and report["database"]["pool"]["max"] == node.config.db_pool_size
    assert report["redis"]["status"] == "ok" and report["node"]["uptime_seconds"] > 0
    assert report["node"]["state"] == "running" and report["node"]["name"] == node.config.node_name


async def test_an_injected_crash_shows_in_the_tree_with_its_reason_then_an_idle_room_stops(
        node: Node, people: People, backing: Backing) -> None:
    admin = await new_admin(people, backing)
    ann, ann_c = await people.new("ann")
    bob, bob_c = await people.new("bob")
    room = (await ann_c.call(f.OpenDirect, user=bob.username)).room.room
    for i in range(3):
        await ann_c.send_text(room, f"before {i}")
    async with http(node.http_url, admin.access_token) as api:
        report = await status(api)
        before = actor(report["tree"], "room", room)
        assert before is not None and before["restarts"] == 0 and before["last_seq"] >= 3
        assert before["handled"] >= 3 and before["mailbox"]["depth"] == 0
        bob_actor = actor(report["tree"], "user", bob.user_id)
        assert bob_actor is not None and bob_actor["devices"] == 1 and isinstance(bob_actor["lag"], int)
        assert {"user": bob.user_id, "devices": 1} in report["connections"]["by_user"]

        restarted = await api.post(f"/api/admin/actors/room/{room}/restart")
        assert restarted.status_code == 200, restarted.text
        with trio.fail_after(5):
            while True:  # the crash is handled after what was queued before it
                now = actor((await status(api))["tree"], "room", room)
                if now is not None and now["restarts"] >= 1:
                    break
                await trio.sleep(0.05)
        assert now["name"] == before["name"] and now["state"] == "running"
        assert "RuntimeError: restart requested by admin " + admin.username in now["last_exit"]
        assert now["traceback"] and any("room.py" in frame for frame in now["traceback"])
        events = (await api.get("/api/admin/events", params={"limit": 1000})).json()["events"]
        assert any(e["child"] == before["name"] and e["kind"] == "restarted" for e in events)

        await ann_c.send_text(room, "after the restart")  # the restarted room goes on
        assert (await api.post("/api/admin/actors/room/999999/restart")).status_code == 404

        stopped = await api.post(f"/api/admin/rooms/{room}/stop")
        assert stopped.status_code == 200, stopped.text
        assert actor((await status(api))["tree"], "room", room) is None
        assert (await ann_c.send_text(room, "after the stop")).seq >= 5  # a fresh actor loads the room
        got = [m.body for m in await bob_c.collect(room, 5)]
        assert got[-2:] == ["after the restart", "after the stop"]


async def test_disconnect_and_disable_act_on_live_connections_and_tokens(node: Node, people: People,
                                                                         backing: Backing) -> None:
    admin = await new_admin(people, backing)
    bob = await people.signup("bob")
    phone, laptop = await people.connect(bob), await people.connect(bob)
    async with http(node.http_url, admin.access_token) as api, http(node.http_url, bob.access_token) as as_bob:
        answer = await api.post(f"/api/admin/users/{bob.username}/disconnect")
        assert answer.status_code == 200 and answer.json()["closed_connections"] == 2, answer.text
        await closed_with(phone, 4009)
        await closed_with(laptop, 4009)

        phone = await people.connect(bob)  # a disconnect is not a ban
        assert (await as_bob.get("/api/media/nothing")).status_code == 404  # the token works over HTTP too
        answer = await api.post(f"/api/admin/users/{bob.user_id}/disable")
        assert answer.status_code == 200, answer.text
        assert answer.json()["closed_connections"] == 1 and answer.json()["revoked_refresh_tokens"] >= 1
        await closed_with(phone, 4003)

        again = await people.raw()
        refused = await again.request(f.Hello, version=f.PROTOCOL_VERSION, token=bob.access_token)
        assert isinstance(refused, f.Error) and refused.code == "unauthorized", refused
        assert (await as_bob.get("/api/media/nothing")).status_code == 401
        refresh = await again.request(f.Refresh, refresh_token=bob.refresh_token)
        assert isinstance(refresh, f.Error) and refresh.code == "unauthorized", refresh
        login = await again.request(f.Login, username=bob.username, password=PASSWORD)
        assert isinstance(login, f.Error) and login.code == "forbidden", login
        assert (await api.post(f"/api/admin/users/{admin.username}/disable")).status_code == 409  # not yourself

        assert (await api.post(f"/api/admin/users/{bob.username}/enable")).status_code == 200
        back = await again.call(f.Login, username=bob.username, password=PASSWORD)
        await again.hello(back.access_token)
    with pytest.raises(Disconnected):
        await phone.send_text(1, "closed connections stay closed")


def test_json_logs_carry_the_actor_and_its_room() -> None:
    import json

    from chatd.admin.logjson import JsonFormatter
    from chatd.supervisor import current_child

    record = logging.makeLogRecord({"name": "chatd.room", "levelname": "WARNING", "msg": "commit failed: %s",
                                    "args": ("x",), "admin": "ann"})
    token = current_child.set("room:12#3")
    try:
        line = json.loads(JsonFormatter().format(record))
    finally:
        current_child.reset(token)
    assert line["msg"] == "commit failed: x" and line["level"] == "warning" and line["logger"] == "chatd.room"
    assert line["actor"] == "room:12#3" and line["room"] == 12 and line["admin"] == "ann" and "ts" in line
