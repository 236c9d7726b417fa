"""The admin API (issue 8, docs/admin.md): JSON under /api/admin/, for users with the server-wide admin role.

The caller sends the websocket's access token as a bearer token (httpapi/auth.py). A missing or bad token gets
401, a valid token of someone who is not an admin 403 forbidden; every refusal is logged with who and what.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route

from chatd.admin import actions, report
from chatd.admin.context import AdminContext
from chatd.admin.drain import start_drain
from chatd.gateway.services import Services
from chatd.httpapi.auth import user_of
from chatd.httpapi.client_address import request_address
from chatd.httpapi.refused import guarded
from chatd.persistence.admin import UserRow
from chatd.protocol.errors import ErrorCode, Refusal

log = logging.getLogger("chatd.admin")

Json = dict[str, Any]
Action = Callable[[Request, UserRow], Awaitable[Json]]
DEFAULT_DRAIN_TIMEOUT = 30.0


async def admin_of(request: Request, services: Services) -> UserRow:
    """The admin behind the request's bearer token; a Refusal (401 / 403), logged, for anyone else."""
    address = request_address(request, services.config)
    what = f"{request.method} {request.url.path}"
    try:
        user_id = await user_of(request, services)
    except Refusal as exc:
        log.warning("admin API refused from %s: %s (%s)", address, what, exc, extra={"address": address})
        raise
    row = await services.store.find_user(user_id)
    if row is None or row.disabled or not row.is_admin:
        log.warning("admin API refused: user %s (%s) from %s is not an admin: %s", user_id,
                    row.username if row else "?", address, what, extra={"user": user_id, "address": address})
        raise Refusal(ErrorCode.FORBIDDEN, "the admin API needs the server-wide admin role")
    return row


def int_param(request: Request, name: str, default: float, low: float, high: float) -> float:
    raw = request.query_params.get(name)
    try:
        value = float(raw) if raw is not None else default
    except ValueError:
        raise Refusal(ErrorCode.BAD_REQUEST, f"{name}: expected a number, got {raw!r}") from None
    if not (low <= value <= high) or math.isnan(value):
        raise Refusal(ErrorCode.BAD_REQUEST, f"{name}: must be {low:g}..{high:g}")
    return value


async def target_user(request: Request, services: Services) -> UserRow:
    ref = request.path_params["ref"]
    row = await services.store.find_user(int(ref) if ref.isdigit() else ref)
    if row is None:
        raise Refusal(ErrorCode.NOT_FOUND, f"no such user: {ref}")
    return row


def admin_routes(ctx: AdminContext, services: Services) -> list[BaseRoute]:
    def route(path: str, action: Action, method: str = "POST") -> Route:
        async def endpoint(request: Request) -> Response:
            return JSONResponse(await action(request, await admin_of(request, services)))
        return Route(path, guarded(endpoint), methods=[method])

    async def status(request: Request, admin: UserRow) -> Json:
        return await report.status(ctx, int(int_param(request, "limit", report.DEFAULT_LIMIT, -1, 1_000_000)),
                                   int(int_param(request, "events", 20, 0, 10_000)))

    async def events(request: Request, admin: UserRow) -> Json:
        return {"events": report.events(ctx, int(int_param(request, "limit", 100, 0, 100_000)))}

    async def restart(request: Request, admin: UserRow) -> Json:
        return actions.restart_actor(ctx, request.path_params["kind"], request.path_params["key"], admin.username)

    async def stop_room(request: Request, admin: UserRow) -> Json:
        return actions.stop_room(ctx, request.path_params["key"], admin.username)

    async def disconnect(request: Request, admin: UserRow) -> Json:
        return actions.disconnect_user(ctx, await target_user(request, services), admin.username)

    async def disable(request: Request, admin: UserRow) -> Json:
        return await actions.disable_user(ctx, await target_user(request, services), admin.username, admin.id)

    async def enable(request: Request, admin: UserRow) -> Json:
        return await actions.enable_user(ctx, await target_user(request, services), admin.username)

    async def drain(request: Request, admin: UserRow) -> Json:
        timeout = int_param(request, "timeout", DEFAULT_DRAIN_TIMEOUT, 1, 3600)
        if not start_drain(ctx, timeout, admin.username):
            raise Refusal(ErrorCode.CONFLICT, f"node is {ctx.state}, not running")
        return {"node": ctx.node_name, "state": ctx.state, "timeout": timeout}

    return [
        route("/status", status, "GET"), route("/events", events, "GET"),
        route("/actors/{kind}/{key:int}/restart", restart), route("/rooms/{key:int}/stop", stop_room),
        route("/users/{ref}/disconnect", disconnect), route("/users/{ref}/disable", disable),
        route("/users/{ref}/enable", enable), route("/drain", drain),
    ]


def mount_admin(app: Starlette, ctx: AdminContext, services: Services) -> None:
    """Put the admin API in front of the app's routes (before any catch-all)."""
    app.router.routes.insert(0, Mount("/api/admin", routes=admin_routes(ctx, services)))
