"""Media routes: upload (POST /api/media) and download (GET /api/media/{id}), docs/protocol.md section 8.

- Both need the access token as `Authorization: Bearer <token>`. A download may instead carry it as
  `?token=<access token>`, because a browser's <img>/<video>/<audio> cannot send headers; the token is
  short-lived (CHAT_ACCESS_TTL), and the response is `Cache-Control: private`.
- A download of an item the requester may not read is 404, exactly as for an id that does not exist.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import asdict

import trio
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from auth import TokenError
from gateway.errors import RequestError
from gateway.services import Services
from httpapi.auth import user_of
from httpapi.media_download import serve
from httpapi.media_upload import Received, body_read, receive
from httpapi.refused import Refused, ThenDrain
from httpapi.upload_limits import UploadAllowance
from media.storage import DiskStorage
from persistence.errors import BlobDoomed, StoreUnavailable
from persistence.media import StoredMedia

MEDIA_ID = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
IMAGE_WORKERS = 2  # images decoded at once (CPU and memory bound)

Endpoint = Callable[[Request], Awaitable[Response]]


def guarded(endpoint: Endpoint) -> Endpoint:
    """Turn refusals into `{"code", "message"}` answers; an upload refused before its end is then drained."""
    async def run(request: Request) -> Response:
        try:
            return await endpoint(request)
        except Refused as exc:
            answer: Response = exc.response()
        except RequestError as exc:  # from user_of: the only code it raises is unauthorized
            answer = JSONResponse({"code": exc.code.value, "message": str(exc)}, status_code=401)
        except StoreUnavailable:
            answer = JSONResponse({"code": "retry", "message": "the database is unavailable, try again shortly"},
                                  status_code=503, headers={"Retry-After": "1"})
        return ThenDrain(answer) if request.method == "POST" and not body_read(request) else answer
    return run


async def requester(request: Request, services: Services, *, token_in_query: bool = False) -> int:
    """The user behind the bearer token, or (downloads) the `token` query parameter when no header is sent."""
    token = request.query_params.get("token")
    if not token_in_query or token is None or "authorization" in request.headers:
        return await user_of(request, services)
    try:
        user_id = services.tokens.verify(token.strip()).user_id
    except TokenError as exc:
        raise Refused(401, "unauthorized", str(exc)) from exc
    if await services.store.active_username(user_id) is None:
        raise Refused(401, "unauthorized", "this account is disabled or no longer exists")
    return user_id


def media_routes(services: Services) -> list[Route]:
    config = services.config
    storage = DiskStorage(config.media_root)
    images = trio.CapacityLimiter(IMAGE_WORKERS)

    async def upload(request: Request) -> Response:
        user = await requester(request, services)
        async with UploadAllowance(services, user) as allowance:
            got = await receive(request, storage, config.max_upload_bytes, images, allowance, storage.temp_dir)
            stored = await record(user, got)
            allowance.keep(got.received)
        return JSONResponse({**asdict(stored.info), "sha256": stored.sha256}, status_code=201,
                            headers={"Location": f"/api/media/{stored.info.id}"})

    async def record(user: int, got: Received) -> StoredMedia:
        """The rows of an upload whose blobs are stored; refused (retry) if the media collector was deleting
        the same bytes meanwhile (persistence/media_gc.py)."""
        again = Refused(503, "retry", "the upload collided with a cleanup of the same bytes: send it again",
                        {"Retry-After": "1"})
        try:
            stored = await services.store.create_media(user, got.item, got.thumbnail)
        except BlobDoomed:
            raise again from None
        rows = [row for row in (got.item, got.thumbnail) if row is not None]
        if not all([await storage.exists(row.sha256) for row in rows]):
            await services.store.drop_media([row.id for row in rows])
            raise again
        return stored

    async def download(request: Request) -> Response:
        user = await requester(request, services, token_in_query=True)
        media_id = request.path_params["media_id"]
        stored = await services.store.readable_media(media_id, user) if MEDIA_ID.match(media_id) else None
        if stored is None:
            raise Refused(404, "not_found", "no such media")
        return await serve(request, stored, storage)

    return [Route("/api/media", guarded(upload), methods=["POST"]),
            Route("/api/media/{media_id}", guarded(download), methods=["GET"])]
