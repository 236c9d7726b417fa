"""JSON bodies in and refusals out, for the HTTP side's JSON endpoints (accounts, QR login, admin).

A refusal is `{"code", "message"}` with the HTTP status of its code (and `Retry-After` when it has a wait).
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from chatd.protocol.errors import ErrorCode

MAX_BODY = 64 * 1024
STATUS = {ErrorCode.BAD_REQUEST: 400, ErrorCode.UNAUTHORIZED: 401, ErrorCode.FORBIDDEN: 403,
          ErrorCode.NOT_FOUND: 404, ErrorCode.CONFLICT: 409, ErrorCode.TOO_LARGE: 413,
          ErrorCode.RATE_LIMITED: 429, ErrorCode.RETRY: 503, ErrorCode.INTERNAL: 500}


def refusal(code: ErrorCode, message: str, retry_after: float | None = None) -> JSONResponse:
    headers = {"Retry-After": str(max(1, round(retry_after)))} if retry_after else None
    return JSONResponse({"code": code.value, "message": message}, status_code=STATUS.get(code, 400), headers=headers)


async def read_json(request: Request) -> dict[str, Any] | JSONResponse:
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
        return refusal(ErrorCode.BAD_REQUEST, "send a JSON body with Content-Type: application/json")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            return refusal(ErrorCode.TOO_LARGE, f"the body is over {MAX_BODY} bytes")
    try:
        data = json.loads(body)
    except ValueError:
        return refusal(ErrorCode.BAD_REQUEST, "the body is not valid JSON")
    if not isinstance(data, dict):
        return refusal(ErrorCode.BAD_REQUEST, "the body must be a JSON object")
    return data
