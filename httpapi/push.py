"""Web Push routes (docs/protocol.md section 9).

- GET /api/push/vapid-public-key: the server's VAPID public key (no auth), the `applicationServerKey` a
  browser subscribes with.
- POST /api/push/subscriptions (bearer): store the browser's PushSubscription JSON; 201 when new, 200
  when it was already this user's (idempotent per endpoint).
- DELETE /api/push/subscriptions (bearer) with {"endpoint"}: 204, or 404 if the user has no such one.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from chatd.gateway.errors import RequestError
from chatd.gateway.services import Services
from chatd.gateway.sessions import SIGNED_OUT
from chatd.httpapi.auth import session_of, user_of
from chatd.persistence.errors import DeviceSignedOut, StoreUnavailable
from chatd.push.subscription import InvalidSubscription, parse_subscription
from chatd.push.vapid import VapidKey

log = logging.getLogger("chatd.http.push")

MAX_BODY = 16 * 1024  # a PushSubscription is well under 1 KiB

Endpoint = Callable[[Request], Awaitable[Response]]


class Refusal(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


def refused(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"code": code, "message": message}, status_code=status, headers=headers)


def guarded(endpoint: Endpoint) -> Endpoint:
    async def run(request: Request) -> Response:
        try:
            return await endpoint(request)
        except Refusal as exc:
            return refused(exc.status, exc.code, str(exc))
        except InvalidSubscription as exc:
            return refused(400, "bad_request", str(exc))
        except RequestError as exc:  # from user_of: unauthorized
            return refused(401, exc.code.value, str(exc))
        except StoreUnavailable:
            return refused(503, "retry", "the database is unavailable, try again shortly", {"Retry-After": "1"})
        except DeviceSignedOut:
            return refused(401, "unauthorized", SIGNED_OUT)
        except Exception:
            log.exception("%s %s failed", request.method, request.url.path)
            return refused(500, "internal", "the server failed to handle this request")
    return run


async def json_object(request: Request) -> dict[str, object]:
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != "application/json":
        raise Refusal(400, "bad_request", "send a JSON body with Content-Type: application/json")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            raise Refusal(413, "too_large", f"the body is over {MAX_BODY} bytes")
    try:
        data = json.loads(body)
    except ValueError:
        raise Refusal(400, "bad_request", "the body is not valid JSON") from None
    if not isinstance(data, dict):
        raise Refusal(400, "bad_request", "the body must be a JSON object")
    return data


def push_routes(services: Services) -> list[Route]:
    config = services.config
    assert config.push_vapid_key, "Config.with_secret() fills in the VAPID key"
    public_key = VapidKey(config.push_vapid_key).public_key

    async def vapid_public_key(request: Request) -> Response:
        return JSONResponse({"public_key": public_key}, headers={"Cache-Control": "public, max-age=3600"})

    async def subscribe(request: Request) -> Response:
        session = await session_of(request, services)
        new = parse_subscription(await json_object(request), allow_insecure=config.push_allow_insecure,
                                 hosts=config.push_endpoint_hosts)
        created = await services.store.add_push_subscription(session.user_id, session.device_id, new.endpoint,
                                                             new.p256dh, new.auth, config.push_max_subscriptions)
        return JSONResponse({"endpoint": new.endpoint, "created": created}, status_code=201 if created else 200)

    async def unsubscribe(request: Request) -> Response:
        user = await user_of(request, services)
        data = await json_object(request)
        endpoint = data.get("endpoint")
        if not isinstance(endpoint, str) or not endpoint:
            raise InvalidSubscription("endpoint must be a URL string")
        if not await services.store.remove_push_subscription(user, endpoint):
            raise Refusal(404, "not_found", "you have no push subscription with this endpoint")
        return Response(status_code=204)

    async def subscriptions(request: Request) -> Response:
        return await (subscribe if request.method == "POST" else unsubscribe)(request)

    # one route for both methods: a 405 there lists both in its Allow header (two routes would name one)
    return [Route("/api/push/vapid-public-key", guarded(vapid_public_key), methods=["GET"]),
            Route("/api/push/subscriptions", guarded(subscriptions), methods=["POST", "DELETE"])]

