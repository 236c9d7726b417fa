"""Sessions: the one check every access token passes (hello, `auth`, each HTTP request), and the one way a revoked
device's connections close, on this process and every other.

An access token names its device (`dev`). The check reads the account and that device from Postgres in one
statement (the same round trip that already checked the account): a revoked device's tokens are refused from the
moment the revocation commits, on every process, with no cache to go stale. Revoking publishes `CloseDevices` with
the device ids to the user's actor here and, over the bus, on every other process (the path an admin's disconnect
takes); those close with 4010. The bus is at most once: a process that missed the news keeps that socket until its
next `auth` (at most the access-token lifetime), while its new hellos and HTTP requests are refused already.
"""

from __future__ import annotations

import logging
import re

import trio

from chatd.actors.items import CloseDevices
from chatd.auth import TokenError
from chatd.auth.tokens import AccessClaims
from chatd.gateway.keys import devices_changed
from chatd.gateway.services import Services
from chatd.persistence.records import RevokedDevices
from chatd.protocol.errors import CloseCode, ErrorCode, Refusal
from chatd.protocol.frames import UUID_RE
from chatd.supervisor import SupervisorClosed

log = logging.getLogger("chatd.gateway")

PUT_SECONDS = 2.0  # how long a revocation waits for room in this process's user actor's mailbox
SIGNED_OUT = "this device was signed out (logout, password change or from another device): log in again"
GONE = "this account is disabled or no longer exists"


def verify_token(services: Services, token: str) -> AccessClaims:
    """The claims of an access token whose signature and expiry hold; refused `unauthorized` saying why not."""
    try:
        return services.tokens.verify(token)
    except TokenError as exc:
        raise Refusal(ErrorCode.UNAUTHORIZED, str(exc)) from exc


def session_ended(message: str, close: CloseCode) -> Refusal:
    """An access token whose account or device is gone: refused as unauthorized; a connection that presents it
    in `auth` closes with `close`."""
    return Refusal(ErrorCode.UNAUTHORIZED, message, close=close)


async def session_user(services: Services, claims: AccessClaims) -> str:
    """The username behind a verified access token whose account is active and whose device is still signed in;
    a Refusal (unauthorized, with the close code for `auth`) naming which is not."""
    if not re.fullmatch(UUID_RE, claims.device_id):
        raise session_ended("invalid token: it names no device", CloseCode.SIGNED_OUT)
    row = await services.store.session(claims.user_id, claims.device_id)
    if row is None or not row.account_active:
        raise session_ended(GONE, CloseCode.DISABLED)
    if not row.device_live:
        raise session_ended(SIGNED_OUT, CloseCode.SIGNED_OUT)
    return row.username


async def close_revoked(services: Services, revoked: RevokedDevices, reason: str,
                        code: CloseCode = CloseCode.SIGNED_OUT) -> None:
    """Close every connection of the revoked devices, here and on the other processes (after what is queued).

    The revocation is committed before this is called; this only carries the news. Here the user's actor is
    given it even when it is not running (it starts, and remembers the revocation for a hello that checked
    its token just before) and, for a while, when its mailbox is full; other processes hear it over the bus,
    which is at-most-once (docs/security.md says what a missed message costs: new requests are refused at
    once, an open socket lives until its next `auth`)."""
    if not revoked.devices:
        return
    await devices_changed(services, revoked.user_id)
    item = CloseDevices(code, reason, frozenset(revoked.devices))
    services.bus.to_users((revoked.user_id,), item)
    with trio.move_on_after(PUT_SECONDS) as waited:
        try:
            await services.users.put(revoked.user_id, item)
        except (SupervisorClosed, RuntimeError):  # the node is stopping: its sockets close anyway
            return
    if waited.cancelled_caught:
        log.warning("user %s: the actor's mailbox stayed full; its devices learn of the revocation at their "
                    "next auth", revoked.user_id)
