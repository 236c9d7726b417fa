"""Media links without access tokens in URLs: `?token=` is refused, and browsers use short-lived links signed
for one item and one user (GET /api/media/links), checked again against the reader's access on each use."""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from chatd.auth.media_links import LinkError, MediaLinks
from chatd.node import Node
from chatd.protocol import frames as f
from tests.conftest import People
from tests.test_media import bearer, picture, post, upload


async def links_for(http: httpx.AsyncClient, token: str, *ids: str) -> dict[str, str]:
    got = await http.get("/api/media/links", params={"ids": ",".join(ids)}, headers=bearer(token))
    assert got.status_code == 200, got.text
    assert got.headers["cache-control"] == "no-store"
    # the lifetime relative to now too, so a client with a wrong clock can still time its re-signing
    lifetime = got.json()["expires"] - time.time()
    assert lifetime - 2 <= got.json()["expires_in"] <= lifetime + 1 and got.json()["expires_in"] > 0
    links: dict[str, str] = got.json()["links"]
    return links


def with_param(link: str, **changed: str) -> str:
    parts = urlsplit(link)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()} | changed
    return parts.path + "?" + "&".join(f"{k}={v}" for k, v in query.items())


async def test_an_access_token_in_the_url_is_refused(node: Node, people: People) -> None:
    ann = await people.signup("ann")
    async with httpx.AsyncClient(base_url=node.http_url) as http:
        item = (await upload(http, ann.access_token, b"the report")).json()
        for name in ("token", "access_token"):
            refused = await http.get(f"/api/media/{item['id']}", params={name: ann.access_token})
            assert refused.status_code == 400 and refused.json()["code"] == "bad_request"
            assert "Authorization: Bearer" in refused.json()["message"] and "signed link" in refused.json()["message"]
            # even next to a good header, and on uploads: the token has leaked into a URL either way
            both = await http.get(f"/api/media/{item['id']}", params={name: ann.access_token},
                                  headers=bearer(ann.access_token))
            assert both.status_code == 400
            up = await http.post("/api/media", content=b"x", params={name: ann.access_token})
            assert up.status_code == 400
        # the header keeps working
        assert (await http.get(f"/api/media/{item['id']}", headers=bearer(ann.access_token))).content == b"the report"


async def test_a_signed_link_serves_its_item_to_its_user_only(node: Node, people: People) -> None:
    (ann, ac), (bob, bc) = await people.new("ann"), await people.new("bob")
    stranger = await people.signup("stranger")
    room = (await ac.call(f.OpenDirect, user=bob.user_id)).room.room
    async with httpx.AsyncClient(base_url=node.http_url) as http:
        photo = (await upload(http, ann.access_token, picture("PNG", (640, 480)))).json()
        other = (await upload(http, ann.access_token, b"another file")).json()
        seq = (await post(ac, room, photo["id"], "image")).seq
        links = await links_for(http, bob.access_token, photo["id"], photo["thumbnail_id"], photo["id"])
        assert set(links) == {photo["id"], photo["thumbnail_id"]}  # one link each, duplicates dropped
        link = links[photo["id"]]
        assert "token" not in link and f"u={bob.user_id}" in link

        # no header needed: this is what an <img src> fetches
        shown = await http.get(link)
        assert shown.status_code == 200 and shown.headers["content-type"] == "image/png"
        exp = int(parse_qs(urlsplit(link).query)["exp"][0])
        max_age = int(shown.headers["cache-control"].removeprefix("private, max-age="))
        assert 0 < max_age <= exp - time.time() + 1  # the browser keeps it no longer than the link lives
        assert (await http.get(links[photo["thumbnail_id"]])).status_code == 200
        # Range, ETag and If-Range work as with the header
        part = await http.get(link, headers={"Range": "bytes=0-9", "If-Range": shown.headers["etag"]})
        assert part.status_code == 206 and part.content == shown.content[:10]
        assert (await http.get(link, headers={"If-None-Match": shown.headers["etag"]})).status_code == 304
        # signed again within the period: the same URL, so the browser's cache is used
        assert (await links_for(http, bob.access_token, photo["id"]))[photo["id"]] == link

        # altered: another user, another item, another expiry, another signature
        refusals = [await http.get(with_param(link, u=str(stranger.user_id))),
                    await http.get(link.replace(photo["id"], other["id"], 1)),
                    await http.get(with_param(link, exp=str(exp + 3600))),
                    await http.get(with_param(link, sig="A" * 43)),
                    await http.get(with_param(link, sig="é")),
                    await http.get(with_param(link, u="bob"))]
        assert [(r.status_code, r.json()["code"]) for r in refusals] == [(401, "unauthorized")] * 6
        assert "one item and one user" in refusals[0].json()["message"]
        assert "integers" in refusals[5].json()["message"]
        partial = await http.get(link.split("&sig=")[0])
        assert partial.status_code == 401 and "u, exp and sig" in partial.json()["message"]

        # a stranger may sign any id, but the link serves only what the stranger may read
        theirs = await links_for(http, stranger.access_token, photo["id"])
        assert (await http.get(theirs[photo["id"]])).status_code == 404

        # bob's access ends (the message is deleted): his still-valid link stops working at once
        await ac.call(f.Delete, room=room, seq=seq)
        assert (await http.get(link)).status_code == 404

        bad = [await http.get("/api/media/links", params={"ids": ""}, headers=bearer(bob.access_token)),
               await http.get("/api/media/links", params={"ids": "../etc"}, headers=bearer(bob.access_token)),
               await http.get("/api/media/links", params={"ids": ",".join(f"{i:020d}" for i in range(101))},
                              headers=bearer(bob.access_token))]
        assert [r.status_code for r in bad] == [400, 400, 400]
        assert ["ids:" in r.json()["message"] for r in bad] == [True] * 3
        assert (await http.get("/api/media/links", params={"ids": photo["id"]})).status_code == 401
    for client in (ac, bc):
        await client.disconnect()


def test_links_expire_and_are_stable_within_a_period() -> None:
    links = MediaLinks(b"k" * 32, lifetime=300)
    now = 1_000_000_050.0
    link = links.sign("m" * 24, 7, now)
    assert link.expires == 1_000_000_500 and links.expiry(now + 100) == link.expires  # same URL in the period
    assert links.sign("m" * 24, 7, now + 250).expires - now - 250 >= 300  # always at least one lifetime left
    assert links.check("m" * 24, "7", str(link.expires), link.sig, now) == 7
    with pytest.raises(LinkError, match="expired"):
        links.check("m" * 24, "7", str(link.expires), link.sig, link.expires)
    with pytest.raises(LinkError, match="signature"):
        MediaLinks(b"x" * 32, 300).check("m" * 24, "7", str(link.expires), link.sig, now)
