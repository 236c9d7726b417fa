"""The web client (web/dist, built by `npm run build` in web/) served by the HTTP side.

- GET /api/config: where the browser finds the websocket: `{"ws_url": "ws://<host it used>:<ws port>/"}`.
- index.html for the single-page app's routes: /, /r/{room}[/settings], /settings, the invite landing
  /i/{code} and a QR login's /qr/{code} (docs/protocol.md 3.9); the files of web/dist as they are
  (/assets/* are content-hashed: cached for a year, immutable; /emojibase/{locale}/*.json is the emoji
  picker's data, revalidated by ETag).
  Anything else is still 404 (and /api/... keeps its 405s).
- The installable app's files: manifest.webmanifest as application/manifest+json (whatever the system's
  mime.types says), and the service worker /sw.js under the page's CSP (it governs what the worker may
  fetch); both, like every file outside /assets/, revalidated at each use, so a deploy is seen at once.
- Without a build, / says how to make one instead of failing.

CHAT_WEB_DIR names another directory of built files.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from chatd.httpapi.refused import refusal_response
from chatd.protocol.errors import ErrorCode, Refusal

DEFAULT_DIST = Path(__file__).resolve().parent.parent / "web" / "dist"
# The page talks to its own origin (HTTP) and to the websocket on another port of the same host. Scripts only
# from the origin; 'wasm-unsafe-eval' lets it compile our own libolm wasm (end-to-end encryption), no eval.
CSP = ("default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; connect-src 'self' ws: wss:; "
       "img-src 'self' blob: data:; media-src 'self' blob:; "
       "style-src 'self' 'unsafe-inline'; worker-src 'self'; object-src 'none'; base-uri 'none'; "
       "frame-ancestors 'none'")
# Pinned: the system's mime.types files, which Python reads, may name another type or none.
MEDIA_TYPES = {".webmanifest": "application/manifest+json"}
SERVICE_WORKER = "sw.js"
NOT_BUILT = """<!doctype html><meta charset="utf-8"><title>chatd</title>
<p>The web client is not built. Run <code>cd web && npm ci && npm run build</code> (or start the server with
<code>scripts/serve.sh</code>, which builds it when npm is available), then reload.</p>"""


def web_dist() -> Path:
    return Path(os.environ.get("CHAT_WEB_DIR") or DEFAULT_DIST)


def web_routes(ws_port: Callable[[], int | None], dist: Path | None = None, public_ws_url: str = "") -> list[Route]:
    """`public_ws_url` (CHAT_PUBLIC_WS_URL): where browsers reach the websocket when a proxy sits in front;
    without it, the websocket's own port on the host the page was loaded from."""
    root = (dist or web_dist()).resolve()

    async def config(request: Request) -> Response:
        if public_ws_url:
            return JSONResponse({"ws_url": public_ws_url}, headers={"Cache-Control": "no-store"})
        port = ws_port()
        if port is None:
            return refusal_response(Refusal(ErrorCode.RETRY, "the websocket is not listening yet"))
        scheme = "wss" if request.url.scheme == "https" else "ws"
        host = request.url.hostname or "127.0.0.1"
        host = f"[{host}]" if ":" in host else host
        return JSONResponse({"ws_url": f"{scheme}://{host}:{port}/"}, headers={"Cache-Control": "no-store"})

    def file(path: Path) -> Response:
        immutable = path.parent == root / "assets"
        headers = {"Cache-Control": "public, max-age=31536000, immutable" if immutable else "no-cache",
                   "X-Content-Type-Options": "nosniff"}
        if path == root / SERVICE_WORKER:
            headers["Content-Security-Policy"] = CSP
        return FileResponse(path, media_type=MEDIA_TYPES.get(path.suffix), headers=headers)

    async def app_page(request: Request) -> Response:
        index = root / "index.html"
        if not index.is_file():
            return HTMLResponse(NOT_BUILT, status_code=503)
        return FileResponse(index, media_type="text/html", headers={
            "Cache-Control": "no-cache", "Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer"})

    async def static(request: Request) -> Response:
        candidate = (root / request.url.path.lstrip("/")).resolve()
        if candidate.is_relative_to(root) and candidate.is_file() and candidate.name != "index.html":
            return file(candidate)
        return refusal_response(Refusal(ErrorCode.NOT_FOUND, "no such page"))

    get = ["GET", "HEAD"]
    return [Route("/api/config", config, methods=["GET"]),
            *(Route(path, app_page, methods=get) for path in
              ("/", "/settings", "/r/{room:int}", "/r/{room:int}/settings", "/i/{code}", "/qr/{code}")),
            Route("/assets/{name}", static, methods=get),
            Route("/emojibase/{locale}/{name}", static, methods=get),
            Route("/{name}", static, methods=get)]
