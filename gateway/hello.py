"""The connection's session: `hello` (who this connection is), `auth` (a fresh token for it), `ping`."""

from __future__ import annotations

from chatd.actors.reply import Reply
from chatd.auth.tokens import AccessClaims
from chatd.gateway.context import Context
from chatd.gateway.sessions import session_user, verify_token
from chatd.protocol import frames as f
from chatd.protocol.errors import CloseCode, ErrorCode, Refusal


def _verify(cx: Context, token: str) -> AccessClaims:
    claims = verify_token(cx.services, token)
    if cx.session.user_id is not None and claims.user_id != cx.session.user_id:
        raise Refusal(ErrorCode.FORBIDDEN, "token belongs to another user")
    return claims


async def hello(cx: Context, req: f.Hello, reply: Reply) -> None:
    """Authenticate the connection; the `welcome` goes out before the device attaches to its user actor."""
    if req.version not in f.SUPPORTED_VERSIONS:
        raise Refusal(ErrorCode.BAD_REQUEST, f"unsupported protocol version {req.version}; this server "
                                             f"speaks versions {', '.join(map(str, f.SUPPORTED_VERSIONS))}")
    claims = _verify(cx, req.token)
    user_id = claims.user_id
    username = await session_user(cx.services, claims)
    cx.session.authenticated(user_id, req.version)
    cx.device.user_id = user_id
    cx.device.session = claims.device_id
    reply.send(f.Welcome(id=req.id, version=req.version, user_id=user_id, username=username,
                         max_frame_bytes=cx.services.config.max_frame_bytes, device=claims.device_id or None))
    cx.on_authenticated(claims.expires_at)
    try:
        await cx.services.users.attach(cx.device, req.cursors or {})
    except BaseException:
        cx.device.kill(CloseCode.TRY_AGAIN, "could not start your session, reconnect")
        raise


async def auth(cx: Context, req: f.Auth, reply: Reply) -> None:
    """A fresh access token for this connection; refused (and the connection closed) once the account is
    disabled or the token's device signed out, so a connection the bus's close missed cannot outlive its token."""
    claims = _verify(cx, req.token)
    if cx.device.session and claims.device_id != cx.device.session:  # else revoking it would miss us
        raise Refusal(ErrorCode.FORBIDDEN, "token belongs to another device of yours: a connection keeps "
                                           "the device it said hello with")
    try:
        await session_user(cx.services, claims)
    except Refusal as exc:
        if exc.close is None:
            raise
        reply.refuse(exc)
        cx.device.kill(exc.close, str(exc))  # after the error frame
        return
    cx.device.session = claims.device_id
    cx.on_authenticated(claims.expires_at)
    reply.send(f.Ok(id=req.id))


async def ping(cx: Context, req: f.Ping, reply: Reply) -> None:
    """The client's heartbeat: an answer proves the whole path (socket, reader, writer) still works."""
    reply.send(f.Ok(id=req.id))
