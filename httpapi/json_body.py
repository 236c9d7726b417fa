"""JSON request bodies for the HTTP side's JSON endpoints (accounts, QR login, push); refused as a Refusal."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request

from chatd.protocol.errors import ErrorCode, Refusal

MAX_BODY = 64 * 1024


async def read_json(request: Request, max_body: int = MAX_BODY) -> dict[str, Any]:
    """The request's body, a JSON object of at most `max_body` bytes sent as application/json."""
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != "application/json":
        raise Refusal(ErrorCode.BAD_REQUEST, "send a JSON body with Content-Type: application/json")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > max_body:
            raise Refusal(ErrorCode.TOO_LARGE, f"the body is over {max_body} bytes")
    try:
        data = json.loads(body)
    except ValueError:
        raise Refusal(ErrorCode.BAD_REQUEST, "the body is not valid JSON") from None
    if not isinstance(data, dict):
        raise Refusal(ErrorCode.BAD_REQUEST, "the body must be a JSON object")
    return data
