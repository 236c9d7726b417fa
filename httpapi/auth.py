"""Who is asking: HTTP requests carry the websocket's access token as `Authorization: Bearer <token>`."""

from __future__ import annotations

from starlette.requests import Request

from chatd.auth.tokens import AccessClaims
from chatd.gateway.services import Services
from chatd.gateway.sessions import session_user, verify_token
from chatd.protocol.errors import ErrorCode, Refusal


async def session_of(request: Request, services: Services) -> AccessClaims:
    """The claims of the request's bearer token, whose account is active and whose device is still signed in;
    Refusal(unauthorized) if there is none or it is bad."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Refusal(ErrorCode.UNAUTHORIZED, "send the access token as 'Authorization: Bearer <token>'")
    claims = verify_token(services, token.strip())
    await session_user(services, claims)
    return claims


async def user_of(request: Request, services: Services) -> int:
    """The user id behind the request's bearer token (see session_of)."""
    return (await session_of(request, services)).user_id
