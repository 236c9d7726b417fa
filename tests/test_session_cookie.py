"""The web client's session: the refresh token lives in an HttpOnly, SameSite=Strict cookie scoped to
/api/auth/, never in a JSON body; requests need `X-Chatd: 1`; two tabs refreshing at once both succeed."""

from __future__ import annotations

import uuid

import httpx
import trio

from chatd.node import Node
from tests.conftest import PASSWORD, People

APP = {"X-Chatd": "1"}


def set_cookie(response: httpx.Response) -> dict[str, str]:
    """The attributes of the response's chatd_refresh Set-Cookie (lower-cased names; flags map to "")."""
    [header] = [h for h in response.headers.get_list("set-cookie") if h.startswith("chatd_refresh=")]
    first, *attrs = [part.strip() for part in header.split(";")]
    out = {"value": first.partition("=")[2]}
    for attr in attrs:
        name, _, value = attr.partition("=")
        out[name.lower()] = value
    return out


async def web_signup(http: httpx.AsyncClient) -> httpx.Response:
    name = f"web_{uuid.uuid4().hex[:8]}"
    return await http.post("/api/auth/signup", headers=APP,
                           json={"username": name, "email": f"{name}@example.com", "password": PASSWORD})


async def test_the_refresh_token_is_an_httponly_cookie_for_the_refresh_endpoint(node: Node, people: People) -> None:
    async with httpx.AsyncClient(base_url=node.http_url) as http:
        signed = await web_signup(http)
        assert signed.status_code == 200, signed.text
        assert "refresh_token" not in signed.json() and signed.json()["access_token"]
        cookie = set_cookie(signed)
        assert cookie["path"] == "/api/auth/" and cookie["samesite"] == "strict" and "httponly" in cookie
        assert int(cookie["max-age"]) == node.config.refresh_ttl
        assert "secure" not in cookie  # plain http here; see the https case below
        assert (await (await people.raw()).hello(signed.json()["access_token"])).user_id == signed.json()["user_id"]

        # refresh takes the cookie (httpx's jar sends it to /api/auth/ only) and rotates it
        fresh = await http.post("/api/auth/refresh", headers=APP, json={})
        assert fresh.status_code == 200 and "refresh_token" not in fresh.json()
        assert fresh.json()["user_id"] == signed.json()["user_id"]
        rotated = set_cookie(fresh)["value"]
        assert rotated not in (cookie["value"], "")
        # the cookie's token is a real refresh token: the JSON endpoint would take it too (but never shows it)
        assert http.cookies.get("chatd_refresh") == rotated

        # without the app's header the request is refused (a form or script on another site cannot add it)
        forged = await http.post("/api/auth/refresh", json={})
        assert forged.status_code == 403 and "X-Chatd: 1" in forged.json()["message"]
        assert (await http.post("/api/auth/login", json={"username": "x", "password": "y"})).status_code == 403

        # logout revokes the device, clears the cookie and the browser's cache of this site
        out = await http.post("/api/auth/logout", headers=APP, json={})
        assert out.status_code == 200 and out.headers["clear-site-data"] == '"cache"'
        cleared = set_cookie(out)
        assert cleared["value"] in ("", '""') and cleared["max-age"] == "0" and cleared["path"] == "/api/auth/"
        assert "chatd_refresh" not in http.cookies
        again = await http.post("/api/auth/refresh", headers=APP, json={})
        assert again.status_code == 401 and "log in again" in again.json()["message"]
        replay = await http.post("/api/refresh", json={"refresh_token": rotated})
        assert replay.status_code == 401  # the device is gone


async def test_login_over_https_sets_a_secure_cookie_and_a_body_token_moves_into_it(node: Node) -> None:
    async with httpx.AsyncClient(base_url=node.http_url) as http:
        signed = await web_signup(http)
        username = (signed.json())["username"]
        http.cookies.clear()
        login = await http.post("/api/auth/login", headers={**APP, "X-Forwarded-Proto": "https"},
                                json={"username": username, "password": PASSWORD})
        assert login.status_code == 200 and "secure" in set_cookie(login)
        # a client that kept its refresh token elsewhere (the old web client) hands it over once
        http.cookies.clear()
        json_login = await http.post("/api/login", json={"username": username, "password": PASSWORD})
        assert "set-cookie" not in json_login.headers and json_login.json()["refresh_token"]  # SDK/TUI: unchanged
        moved = await http.post("/api/auth/refresh", headers=APP,
                                json={"refresh_token": json_login.json()["refresh_token"]})
        assert moved.status_code == 200 and "refresh_token" not in moved.json() and set_cookie(moved)["value"]
        # a dead token: refused, and the cookie holding it is cleared
        http.cookies.set("chatd_refresh", "not-a-token", path="/api/auth/")
        dead = await http.post("/api/auth/refresh", headers=APP, json={})
        assert dead.status_code == 401 and set_cookie(dead)["max-age"] == "0"


async def test_two_tabs_refreshing_at_once_both_succeed(node: Node) -> None:
    async with httpx.AsyncClient(base_url=node.http_url) as http:
        assert (await web_signup(http)).status_code == 200
        held = http.cookies["chatd_refresh"]
        replies: list[httpx.Response] = []

        async def tab() -> None:  # each tab sends the cookie it has: the same one
            async with httpx.AsyncClient(base_url=node.http_url, cookies={"chatd_refresh": held}) as own:
                replies.append(await own.post("/api/auth/refresh", headers=APP, json={}))

        async with trio.open_nursery() as nursery:
            for _ in range(4):
                nursery.start_soon(tab)
        assert [r.status_code for r in replies] == [200] * 4
        # every tab was told the same successor, so whichever Set-Cookie the browser keeps is live
        assert len({set_cookie(r)["value"] for r in replies}) == 1
        successor = set_cookie(replies[0])["value"]
        http.cookies.set("chatd_refresh", successor, path="/api/auth/")
        assert (await http.post("/api/auth/refresh", headers=APP, json={})).status_code == 200
        # the session lives on; only a copy shown after its successor was used counts as theft
        assert (await http.post("/api/refresh", json={"refresh_token": held})).status_code == 401
        assert (await http.post("/api/auth/refresh", headers=APP, json={})).status_code == 401  # all revoked


async def test_two_json_refreshes_at_once_get_the_same_pair(node: Node, people: People) -> None:
    ann = await people.signup("ann")
    async with httpx.AsyncClient(base_url=node.http_url) as http:
        replies: list[httpx.Response] = []

        async def refresh() -> None:
            replies.append(await http.post("/api/refresh", json={"refresh_token": ann.refresh_token}))

        async with trio.open_nursery() as nursery:
            for _ in range(3):
                nursery.start_soon(refresh)
        assert [r.status_code for r in replies] == [200] * 3
        assert len({r.json()["refresh_token"] for r in replies}) == 1
        assert (await http.post("/api/refresh", json={"refresh_token": replies[0].json()["refresh_token"]})
                ).status_code == 200
