"""The HTTP side's routes (Starlette, on trio through anyio).

- POST /api/signup, /api/login, /api/refresh, /api/logout: JSON bodies with the fields of the websocket
  frames of the same name (docs/protocol.md 3.1), validated by the same schema, answered by the same code
  (gateway/accounts.py). A refusal is `{"code", "message"}` with an HTTP status for its code.
- POST /api/auth/{signup,login,refresh,logout}: the same for the web client, with the refresh token in an
  HttpOnly cookie instead of the JSON (httpapi/session_cookie.py).
- POST /api/qr/start, /api/qr/wait, /api/auth/qr/wait: QR device login (httpapi/qr_login.py).
- GET /healthz: 200 when Postgres and Redis answer, else 503; the body says which.
- GET /metrics: Prometheus text format.
- GET /api/openapi.json: the OpenAPI document of all of these and the other /api routes (httpapi/openapi.py).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from chatd.gateway.accounts import Accounts
from chatd.gateway.services import Services
from chatd.httpapi import openapi, session_cookie
from chatd.httpapi.client_address import request_address
from chatd.httpapi.json_body import read_json
from chatd.httpapi.media import media_routes
from chatd.httpapi.push import push_routes
from chatd.httpapi.qr_login import qr_routes
from chatd.httpapi.refused import guarded, refusal_response
from chatd.httpapi.webapp import web_routes
from chatd.protocol import frames as f
from chatd.protocol.codec import from_builtins, to_builtins
from chatd.protocol.errors import ErrorCode, Refusal
from chatd.protocol.schema import SchemaError
from chatd.runtime.client_address import limit_key
from chatd.runtime.metrics import Metrics


def account_route(services: Services, kind: type[f.Frame], action: str,
                  cookie: bool = False) -> Callable[[Request], Awaitable[Response]]:
    """The endpoint for one account action; `cookie`: the refresh token lives in session_cookie's cookie."""
    spends_token = kind in (f.Refresh, f.Logout)

    async def endpoint(request: Request) -> Response:
        if cookie:
            session_cookie.require_app(request)
        data = await read_json(request)
        if cookie and spends_token and "refresh_token" not in data:
            held = session_cookie.token(request)
            if held is None:
                raise Refusal(ErrorCode.UNAUTHORIZED, f"no {session_cookie.COOKIE} cookie: log in again")
            data = {**data, "refresh_token": held}
        try:
            frame = from_builtins(kind, {**{k: v for k, v in data.items() if k != "id"}, "id": 0})
        except SchemaError as exc:
            raise Refusal(ErrorCode.BAD_REQUEST, f"{kind.type}: {exc}") from exc
        key = limit_key(request_address(request, services.config))  # signup/login limits count this
        try:
            reply = await getattr(Accounts(services, key), action)(frame)
        except Refusal as exc:
            dead = exc.code in (ErrorCode.UNAUTHORIZED, ErrorCode.NOT_FOUND)  # not a 429 or 503: try again
            if cookie and spends_token and dead:
                return session_cookie.forget(request, refusal_response(exc))
            raise
        body = {k: v for k, v in to_builtins(reply).items() if k != "id"}
        if not cookie:
            return JSONResponse(body)
        refresh_token = body.pop("refresh_token", None)
        if refresh_token is not None:
            return session_cookie.keep(request, JSONResponse(body), refresh_token, services.config.refresh_ttl)
        return session_cookie.forget(request, JSONResponse(body, headers={"Clear-Site-Data": '"cache"'}))
    return guarded(endpoint)


async def no_route(request: Request, exc: Exception) -> Response:
    """Starlette's own refusals (no route: 404, a method the route does not take: 405) in the API's JSON
    `{"code", "message"}` rather than plain text, so that a client parses every refusal the same way."""
    assert isinstance(exc, HTTPException)
    code = ErrorCode.NOT_FOUND if exc.status_code == 404 else ErrorCode.BAD_REQUEST
    return refusal_response(Refusal(code, exc.detail, status=exc.status_code, headers=dict(exc.headers or {})))


def make_app(services: Services, metrics: Metrics, ws_port: Callable[[], int | None] = lambda: None) -> Starlette:
    async def healthz(request: Request) -> Response:
        postgres, redis = await services.store.ping_ok(), await services.cache.ping()
        ok = postgres and redis
        return JSONResponse({"status": "ok" if ok else "degraded", "postgres": "ok" if postgres else "down",
                             "redis": "ok" if redis else "down"}, status_code=200 if ok else 503)

    async def prometheus(request: Request) -> Response:
        return Response(metrics.render(), media_type=metrics.content_type)

    routes = [Route(f"/api{'/auth' if cookie else ''}/{action}", account_route(services, kind, action, cookie),
                    methods=["POST"])
              for kind, action in ((f.Signup, "signup"), (f.Login, "login"), (f.Refresh, "refresh"),
                                   (f.Logout, "logout")) for cookie in (False, True)]
    described = openapi.rendered().encode()  # built once: it does not change while the server runs

    async def openapi_document(request: Request) -> Response:
        return Response(described, media_type="application/json")

    routes += [Route("/healthz", healthz), Route("/metrics", prometheus),
               Route(openapi.PATH, openapi_document, methods=["GET"])]
    routes += qr_routes(services)
    routes += media_routes(services)
    routes += push_routes(services)
    # last: the web client's files and its routes (index.html)
    routes += web_routes(ws_port, public_ws_url=services.config.public_ws_url)
    return Starlette(routes=routes, exception_handlers={404: no_route, 405: no_route})
