"""The HTTP side serving the web client: app routes get index.html, built files are served as they are,
/api/config says where the websocket is, and the websocket accepts the HTTP side's own pages."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
import trio
from starlette.applications import Starlette
from trio_websocket import ConnectionRejected, open_websocket_url

from chatd.httpapi.webapp import web_routes
from chatd.node import Node
from chatd.runtime.config import Config


def client(dist: Path) -> httpx.AsyncClient:
    app = Starlette(routes=web_routes(lambda: 4321, dist))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://chat.example:8766")


async def test_app_routes_files_and_config(tmp_path: Path) -> None:
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_text("<!doctype html><title>chatd</title>")
    (tmp_path / "assets" / "index-abc.js").write_text("console.log(1)")
    (tmp_path / "sw.js").write_text("self.addEventListener('push', () => {})")
    (tmp_path / "emojibase" / "en").mkdir(parents=True)
    (tmp_path / "emojibase" / "en" / "data.json").write_text("[]")
    async with client(tmp_path) as http:
        for path in ("/", "/r/42", "/r/42/settings", "/settings", "/i/AgD4RlHbQxDMTcU4pB4QuZ7D"):
            page = await http.get(path)
            assert page.status_code == 200 and "<title>chatd</title>" in page.text, path
            assert "default-src 'self'" in page.headers["content-security-policy"]
        asset = await http.get("/assets/index-abc.js")
        assert asset.status_code == 200 and "immutable" in asset.headers["cache-control"]
        emoji = await http.get("/emojibase/en/data.json")  # the emoji picker's data: ours, not a CDN's
        assert emoji.status_code == 200 and emoji.json() == [] and emoji.headers["cache-control"] == "no-cache"
        assert (await http.head("/emojibase/en/data.json")).headers["etag"] == emoji.headers["etag"]
        worker = await http.get("/sw.js")
        assert worker.status_code == 200 and worker.headers["cache-control"] == "no-cache"
        for missing in ("/nope", "/assets/nope.js", "/r/x", "/index.html", "/%2e%2e/etc/passwd",
                        "/emojibase/en/nope.json", "/emojibase/%2e%2e/%2e%2e/etc/passwd"):
            assert (await http.get(missing)).status_code == 404, missing
        config = await http.get("/api/config")
        assert config.json() == {"ws_url": "ws://chat.example:4321/"}


async def test_without_a_build_the_page_says_how_to_make_one(tmp_path: Path) -> None:
    async with client(tmp_path / "nothing") as http:
        page = await http.get("/")
        assert page.status_code == 503 and "npm run build" in page.text


async def test_websocket_accepts_the_http_sides_own_origin(node: Node) -> None:
    http = urlsplit(node.http_url)
    async with httpx.AsyncClient(base_url=node.http_url) as web:
        assert (await web.get("/api/config")).json() == {"ws_url": node.url}
    own = f"http://{http.hostname}:{http.port}"
    async with open_websocket_url(node.url, extra_headers=[(b"Origin", own.encode())]) as ws:
        assert not ws.closed
    for other in (f"http://evil.example:{http.port}", f"http://{http.hostname}:1", "null"):
        with pytest.raises(ConnectionRejected) as refused:
            async with open_websocket_url(node.url, extra_headers=[(b"Origin", other.encode())]):
                pass
        assert refused.value.status_code == 403, other


async def test_behind_a_proxy_the_page_is_told_the_public_websocket(nursery: trio.Nursery, config: Config) -> None:
    """Behind a TLS proxy the page is https and the websocket is wherever the proxy puts it: the server cannot
    guess that from the request, so CHAT_PUBLIC_WS_URL says it (README, Behind a reverse proxy)."""
    node = await nursery.start(Node(replace(config, public_ws_url="wss://ws.chat.example/",
                                            allowed_origins=("https://chat.example",))).run)
    async with httpx.AsyncClient(base_url=node.http_url) as web:
        assert (await web.get("/api/config")).json() == {"ws_url": "wss://ws.chat.example/"}
    async with open_websocket_url(node.url, extra_headers=[(b"Origin", b"https://chat.example")]) as ws:
        assert not ws.closed


async def test_the_installable_apps_files_through_the_real_server(nursery: trio.Nursery, config: Config,
                                                                  tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """A browser installs the app only from a manifest it can read as one, and a service worker must come as
    JavaScript; the worker's CSP is what limits its own fetches; neither may be cached past a deploy."""
    dist = tmp_path / "dist"
    (dist / "assets").mkdir(parents=True)
    (dist / "index.html").write_text("<!doctype html><title>chatd</title>")
    (dist / "manifest.webmanifest").write_text('{"name": "chatd", "start_url": "/"}')
    (dist / "sw.js").write_text("self.addEventListener('push', () => {})")
    (dist / "pwa-192x192.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    monkeypatch.setenv("CHAT_WEB_DIR", str(dist))
    node = await nursery.start(Node(config).run)
    async with httpx.AsyncClient(base_url=node.http_url) as web:
        manifest = await web.get("/manifest.webmanifest")
        assert manifest.status_code == 200 and manifest.json()["name"] == "chatd"
        assert manifest.headers["content-type"] == "application/manifest+json"
        assert manifest.headers["cache-control"] == "no-cache"
        worker = await web.get("/sw.js")
        assert worker.status_code == 200
        assert worker.headers["content-type"].startswith("text/javascript")
        assert worker.headers["cache-control"] == "no-cache"
        assert worker.headers["content-security-policy"] == (await web.get("/")).headers["content-security-policy"]
        icon = await web.get("/pwa-192x192.png")
        assert icon.status_code == 200 and icon.headers["content-type"] == "image/png"
        assert "content-security-policy" not in icon.headers  # only the page and the worker run code
        # the worker's precache asks for the shell as /?__WB_REVISION__=...: it gets the page, with its CSP
        shell = await web.get("/", params={"__WB_REVISION__": "abc"})
        assert shell.status_code == 200 and "<title>chatd</title>" in shell.text
        assert "default-src 'self'" in shell.headers["content-security-policy"]
