"""Web Push routes (docs/protocol.md section 9).

- GET /api/push/vapid-public-key: the server's VAPID public key (no auth), the `applicationServerKey` a
  browser subscribes with.
- POST /api/push/subscriptions (bearer): store the browser's PushSubscription JSON; 201 when new, 200
  when it was already this user's (idempotent per endpoint).
- DELETE /api/push/subscriptions (bearer) with {"endpoint"}: 204, or 404 if the user has no such one.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from chatd.gateway.services import Services
from chatd.httpapi.auth import session_of, user_of
from chatd.httpapi.json_body import read_json
from chatd.httpapi.refused import guarded
from chatd.protocol.errors import ErrorCode, Refusal
from chatd.push.subscription import InvalidSubscription, NewSubscription, parse_subscription
from chatd.push.vapid import VapidKey

MAX_BODY = 16 * 1024  # a PushSubscription is well under 1 KiB


def subscription(data: dict[str, object], allow_insecure: bool, hosts: tuple[str, ...]) -> NewSubscription:
    """The browser's PushSubscription JSON, checked; refused `bad_request` saying what is wrong with it."""
    try:
        return parse_subscription(data, allow_insecure=allow_insecure, hosts=hosts)
    except InvalidSubscription as exc:
        raise Refusal(ErrorCode.BAD_REQUEST, str(exc)) from exc


def push_routes(services: Services) -> list[Route]:
    config = services.config
    assert config.push_vapid_key, "Config.with_secret() fills in the VAPID key"
    public_key = VapidKey(config.push_vapid_key).public_key

    async def vapid_public_key(request: Request) -> Response:
        return JSONResponse({"public_key": public_key}, headers={"Cache-Control": "public, max-age=3600"})

    async def subscribe(request: Request) -> Response:
        session = await session_of(request, services)
        new = subscription(await read_json(request, MAX_BODY), config.push_allow_insecure, config.push_endpoint_hosts)
        created = await services.store.add_push_subscription(session.user_id, session.device_id, new.endpoint,
                                                             new.p256dh, new.auth, config.push_max_subscriptions)
        return JSONResponse({"endpoint": new.endpoint, "created": created}, status_code=201 if created else 200)

    async def unsubscribe(request: Request) -> Response:
        user = await user_of(request, services)
        data = await read_json(request, MAX_BODY)
        endpoint = data.get("endpoint")
        if not isinstance(endpoint, str) or not endpoint:
            raise Refusal(ErrorCode.BAD_REQUEST, "endpoint must be a URL string")
        if not await services.store.remove_push_subscription(user, endpoint):
            raise Refusal(ErrorCode.NOT_FOUND, "you have no push subscription with this endpoint")
        return Response(status_code=204)

    async def subscriptions(request: Request) -> Response:
        return await (subscribe if request.method == "POST" else unsubscribe)(request)

    # one route for both methods: a 405 there lists both in its Allow header (two routes would name one)
    return [Route("/api/push/vapid-public-key", guarded(vapid_public_key), methods=["GET"]),
            Route("/api/push/subscriptions", guarded(subscriptions), methods=["POST", "DELETE"])]

