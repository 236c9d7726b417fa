"""The web client's refresh token, kept out of script reach in an HttpOnly cookie.

POST /api/auth/signup, /api/auth/login, /api/auth/refresh and /api/auth/logout take and answer what
/api/signup ... /api/logout do (docs/protocol.md 3.1), except that the refresh token travels only in the
`chatd_refresh` cookie: `HttpOnly` (no script reads it, so an XSS cannot carry it off), `SameSite=Strict`
(no other site's page sends it), `Path=/api/auth/` (no other request carries it), `Secure` when the request
came over https (directly or per X-Forwarded-Proto; a plain-http dev server cannot set Secure cookies).
Refresh and logout read it from the cookie (a body `refresh_token` is still taken, to move a client that
kept its token elsewhere into the cookie). Every /api/auth/ request must carry `X-Chatd: 1`: a form on
another site cannot send a custom header, and a script there could only with a CORS preflight this server
never grants; with SameSite=Strict that is the CSRF defence (also against logging a victim in as someone
else). Logout and a refused refresh clear the cookie; logout also asks the browser to drop its HTTP cache
of this site (`Clear-Site-Data: "cache"`: downloaded pictures).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from chatd.protocol.errors import ErrorCode, Refusal

COOKIE = "chatd_refresh"
PATH = "/api/auth/"
HEADER = "X-Chatd"


def from_app(request: Request) -> bool:
    """Whether the request carries the header only the app's own scripts send."""
    return request.headers.get(HEADER) == "1"


def require_app(request: Request) -> None:
    """Refuse an /api/auth/ request without the header only the app's own scripts send (the CSRF defence)."""
    if not from_app(request):
        raise Refusal(ErrorCode.FORBIDDEN, f"send the header '{HEADER}: 1' with /api/auth/ requests (they are for "
                                           "the web client's own pages)")


def token(request: Request) -> str | None:
    return request.cookies.get(COOKIE) or None


def secure(request: Request) -> bool:
    return request.url.scheme == "https" or request.headers.get("x-forwarded-proto", "").lower() == "https"


def keep(request: Request, response: Response, refresh_token: str, max_age: int) -> Response:
    response.set_cookie(COOKIE, refresh_token, max_age=max_age, path=PATH, secure=secure(request),
                        httponly=True, samesite="strict")
    return response


def forget(request: Request, response: Response) -> Response:
    response.delete_cookie(COOKIE, path=PATH, secure=secure(request), httponly=True, samesite="strict")
    return response
