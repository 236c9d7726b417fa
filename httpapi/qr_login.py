"""QR device login over HTTP, for the device that is not signed in yet (docs/protocol.md 3.9).

- POST /api/qr/start `{device?}` -> `{code, secret, expires_in}`: show `code` (in a QR, as `<origin>/qr/<code>`,
  and as text), keep `secret` to yourself.
- POST /api/qr/wait `{code, secret}` -> long-polls up to CHAT_QR_WAIT_SECONDS: 200 with the `auth_ok` fields
  once approved (a new device of the approving user), 202 `{"status": "pending", "expires_in"}` when nothing
  happened yet (ask again), or a refusal: 403 declined, 404 gone (expired or used), 401 wrong secret, 429, 503.
- POST /api/auth/qr/wait: the same for the web client: the refresh token goes into the HttpOnly cookie
  (httpapi/session_cookie.py; `X-Chatd: 1` required), never into the JSON.

The waiting device is the only one that can get tokens: the approver only answers (websocket, gateway/qr_login.py).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import trio
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from chatd.gateway.qr_login import QrLogins, StillPending
from chatd.gateway.services import Services
from chatd.httpapi import session_cookie
from chatd.httpapi.blob_response import until_disconnect
from chatd.httpapi.client_address import request_address
from chatd.httpapi.json_body import read_json
from chatd.httpapi.refused import guarded
from chatd.protocol import qr
from chatd.protocol.codec import from_builtins, to_builtins
from chatd.protocol.errors import ErrorCode, Refusal
from chatd.protocol.schema import SchemaError
from chatd.runtime.client_address import limit_key

Endpoint = Callable[[Request], Awaitable[Response]]


class Departure:
    """Whether the client of a long poll went away (a task waits for its `http.disconnect`)."""

    def __init__(self) -> None:
        self.gone = False

    async def watch(self, request: Request) -> None:
        await until_disconnect(request.receive)
        self.gone = True

    async def went_away(self) -> bool:
        return self.gone


def qr_routes(services: Services) -> list[Route]:
    def logins(request: Request) -> QrLogins:
        address = request_address(request, services.config)
        return QrLogins(services, limit_key(address), address)

    async def body_of(request: Request, kind: type) -> object:
        data = await read_json(request)
        try:
            return from_builtins(kind, data)
        except SchemaError as exc:
            raise Refusal(ErrorCode.BAD_REQUEST, f"qr: {exc}") from exc

    async def start(request: Request) -> Response:
        req = await body_of(request, qr.QrStart)
        assert isinstance(req, qr.QrStart)
        started = await logins(request).start(req, request.headers.get("user-agent"))
        return JSONResponse(to_builtins(started), headers={"Cache-Control": "no-store"})

    def wait(cookie: bool) -> Endpoint:
        async def endpoint(request: Request) -> Response:
            if cookie:
                session_cookie.require_app(request)
            req = await body_of(request, qr.QrWait)
            assert isinstance(req, qr.QrWait)
            departure = Departure()
            failed: Exception | None = None
            async with trio.open_nursery() as nursery:
                nursery.start_soon(departure.watch, request)
                try:  # the database failing after the approval was collected (`retry`): the device starts again
                    answer = await logins(request).wait(req, departure.went_away)
                except Exception as exc:  # raised below, for `guarded`: not inside the nursery's exception group
                    failed = exc
                finally:
                    nursery.cancel_scope.cancel()
            if failed is not None:
                raise failed
            if isinstance(answer, StillPending):
                return JSONResponse({"status": "pending", "expires_in": answer.expires_in}, status_code=202,
                                    headers={"Cache-Control": "no-store"})
            body = {k: v for k, v in to_builtins(answer).items() if k != "id"}
            if not cookie:
                return JSONResponse(body, headers={"Cache-Control": "no-store"})
            refresh_token = body.pop("refresh_token")
            return session_cookie.keep(request, JSONResponse(body, headers={"Cache-Control": "no-store"}),
                                       refresh_token, services.config.refresh_ttl)
        return endpoint

    return [Route("/api/qr/start", guarded(start), methods=["POST"]),
            Route("/api/qr/wait", guarded(wait(cookie=False)), methods=["POST"]),
            Route("/api/auth/qr/wait", guarded(wait(cookie=True)), methods=["POST"])]
