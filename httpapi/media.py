"""Media routes: upload (POST /api/media), signed links (GET /api/media/links) and download
(GET /api/media/{id}), docs/protocol.md section 8.

- Upload and links need the access token as `Authorization: Bearer <token>`. A download takes the header
  or a signed link (`?u=&exp=&sig=`, auth/media_links.py), which is what a browser's <img>/<video>/<audio>
  use since they cannot send headers. An access token in a URL (`?token=`, `?access_token=`) is refused:
  URLs end up in proxy logs, browser history and pasted text.
- A download of an item the requester may not read is 404, exactly as for an id that does not exist;
  a signed link is checked against the reader's access at download time, not only when it was signed.
"""

from __future__ import annotations

import re
import time
from dataclasses import asdict

import trio
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from chatd.auth.media_links import LinkError, MediaLinks
from chatd.gateway.services import Services
from chatd.httpapi.auth import user_of
from chatd.httpapi.media_download import serve
from chatd.httpapi.media_upload import Received, body_read, receive
from chatd.httpapi.refused import draining, guarded
from chatd.httpapi.upload_limits import UploadAllowance
from chatd.media.storage import DiskStorage
from chatd.persistence.errors import BlobDoomed
from chatd.persistence.media import StoredMedia
from chatd.protocol.errors import ErrorCode, Refusal

MEDIA_ID = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
IMAGE_WORKERS = 2  # images decoded at once (CPU and memory bound)
MAX_LINKS = 100  # ids signed by one GET /api/media/links
TOKEN_PARAMS = ("token", "access_token")
LINK_PARAMS = ("u", "exp", "sig")

async def requester(request: Request, services: Services, links: MediaLinks | None = None) -> int:
    """The user a media request is for: a signed link's (downloads, when `links` is given) or the bearer's."""
    query = request.query_params
    if any(name in query for name in TOKEN_PARAMS):
        raise Refusal(ErrorCode.BAD_REQUEST, "an access token in a URL is refused (URLs end up in logs and caches): "
                      "send it as 'Authorization: Bearer <token>', or use a signed link from GET /api/media/links")
    if links is None or not any(name in query for name in LINK_PARAMS):
        return await user_of(request, services)
    try:
        user_id = links.check(request.path_params["media_id"], query.get("u"), query.get("exp"), query.get("sig"))
    except LinkError as exc:
        raise Refusal(ErrorCode.UNAUTHORIZED, str(exc)) from exc
    if await services.store.active_username(user_id) is None:
        raise Refusal(ErrorCode.UNAUTHORIZED, "this account is disabled or no longer exists")
    return user_id


def media_ids(raw: str) -> list[str]:
    """The ids of `?ids=a,b,c`: 1..MAX_LINKS well-formed ids, duplicates dropped."""
    ids = list(dict.fromkeys(part for part in raw.split(",") if part))
    if not ids:
        raise Refusal(ErrorCode.BAD_REQUEST, "ids: name the media ids to sign, comma-separated (?ids=a,b)")
    if len(ids) > MAX_LINKS:
        raise Refusal(ErrorCode.BAD_REQUEST, f"ids: at most {MAX_LINKS} per request, got {len(ids)}")
    bad = next((i for i in ids if not MEDIA_ID.match(i)), None)
    if bad is not None:
        raise Refusal(ErrorCode.BAD_REQUEST, f"ids: {bad[:70]!r} is not a media id")
    return ids


def media_routes(services: Services) -> list[Route]:
    config = services.config
    storage = DiskStorage(config.media_root)
    images = trio.CapacityLimiter(IMAGE_WORKERS)
    links = MediaLinks(services.tokens.derived_key("media-links"), config.media_link_ttl)

    async def upload(request: Request) -> Response:
        user = await requester(request, services)
        async with UploadAllowance(services, user) as allowance:
            got = await receive(request, storage, config.max_upload_bytes, images, allowance, storage.temp_dir)
            stored = await record(user, got)
            allowance.keep(got.received)
        return JSONResponse({**asdict(stored.info), "sha256": stored.sha256}, status_code=201,
                            headers={"Location": f"/api/media/{stored.info.id}"})

    async def sign(request: Request) -> Response:
        """Signed links for up to MAX_LINKS ids at once (a screen of history is one round trip). Whether the
        user may read each item is checked when a link is used; signing tells nothing about the ids."""
        user = await requester(request, services)
        now = time.time()
        expires = links.expiry(now)
        signed = {i: links.sign(i, user, now).path for i in media_ids(request.query_params.get("ids", ""))}
        # expires_in: a client whose clock is off still knows how long the links live
        return JSONResponse({"expires": expires, "expires_in": int(expires - now), "links": signed},
                            headers={"Cache-Control": "no-store"})

    async def record(user: int, got: Received) -> StoredMedia:
        """The rows of an upload whose blobs are stored; refused (retry) if the media collector was deleting
        the same bytes meanwhile (persistence/media_gc.py)."""
        again = Refusal(ErrorCode.RETRY, "the upload collided with a cleanup of the same bytes: send it again",
                        retry_after=1)
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
        user = await requester(request, services, links)
        media_id = request.path_params["media_id"]
        stored = await services.store.readable_media(media_id, user) if MEDIA_ID.match(media_id) else None
        if stored is None:
            raise Refusal(ErrorCode.NOT_FOUND, "no such media")
        signed = any(name in request.query_params for name in LINK_PARAMS)
        return await serve(request, stored, storage,  # a signed link's bytes are not cached past its life
                           int(request.query_params["exp"]) - int(time.time()) if signed else None)

    return [Route("/api/media", draining(guarded(upload), body_read), methods=["POST"]),
            Route("/api/media/links", guarded(sign), methods=["GET"]),
            Route("/api/media/{media_id}", guarded(download), methods=["GET"])]
