"""Accounts: signup, login, refresh and logout, one implementation for the websocket and the HTTP side."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from chatd.actors.reply import Reply
from chatd.auth import hash_refresh_token, new_refresh_token
from chatd.auth.passwords import check_email, check_password_rules
from chatd.gateway.context import Context, Handler
from chatd.gateway.password_checks import check_password, hash_password, unavailable_means_retry
from chatd.gateway.services import Services
from chatd.gateway.sessions import close_revoked
from chatd.persistence import Conflict
from chatd.persistence.records import DeviceGrant, RevokedDevices
from chatd.protocol import frames as f
from chatd.protocol.errors import ErrorCode, Refusal


async def rate_limit(services: Services, key: str, limit: int, window: int, cost: int = 1,
                     fail_open: bool = True) -> None:
    """Count a hit on a Redis fixed-window limit; refuse with rate_limited when it is used up. When Redis is
    down the hit is allowed (fail_open), else refused with `retry`."""
    with unavailable_means_retry():
        wait = await services.cache.hit(key, limit, window, cost, fail_open)
    if wait is not None:
        raise Refusal(ErrorCode.RATE_LIMITED, "too many attempts, wait and try again", retry_after=wait)


class Accounts:
    def __init__(self, services: Services, address: str) -> None:
        self.s = services
        self.address = address  # the client's IP: signup and login limits count per address

    async def grant(self, req_id: int, user_id: int, username: str, device_name: str | None) -> f.AuthOk:
        """Sign a new device in (signup, login, an approved QR login): its tokens, stored like any login's."""
        device_id = str(uuid.uuid4())
        refresh = new_refresh_token()
        # a device per signup or login, at most CHAT_MAX_DEVICES_PER_USER live: logins in a loop sign out the
        # least recently seen ones rather than grow the devices table without bound
        revoked = await self.s.store.add_refresh_token(user_id, device_id, device_name, hash_refresh_token(refresh),
                                                       self.s.config.refresh_ttl, self.s.config.max_devices_per_user)
        await close_revoked(self.s, revoked, "signed out: this account signed in on too many devices")
        return f.AuthOk(id=req_id, user_id=user_id, username=username,
                        access_token=self.s.tokens.issue(user_id, device_id), refresh_token=refresh,
                        expires_in=self.s.tokens.access_ttl)

    async def signup(self, req: f.Signup) -> f.Frame:
        problem = check_email(req.email) or check_password_rules(req.username, req.password)
        if problem:
            raise Refusal(ErrorCode.BAD_REQUEST, problem)
        await self._may_register(req.invite)
        await rate_limit(self.s, f"signup:{self.address}", self.s.config.signups_per_hour, 3600, fail_open=False)
        password_hash = await hash_password(self.s, self.address, req.password)
        try:
            user_id = await self.s.store.create_user(req.username, req.email.lower(), password_hash)
        except Conflict as exc:
            raise Refusal(ErrorCode.CONFLICT, f"that {exc.field} is already taken") from exc
        return await self.grant(req.id, user_id, req.username, req.device)

    async def _may_register(self, invite: str | None) -> None:
        """CHAT_REGISTRATION: open, invite (a code of a live invite link; signing up does not use it up) or
        closed (accounts come from `chatctl create-user` only)."""
        mode = self.s.config.registration
        if mode == "closed":
            raise Refusal(ErrorCode.FORBIDDEN, "registration is closed on this server: an administrator "
                                               "creates accounts")
        if mode == "invite":
            if invite is None:
                raise Refusal(ErrorCode.FORBIDDEN, "registration needs an invite: sign up with the code of "
                                                   "an invite link (field 'invite')")
            await rate_limit(self.s, f"join:addr:{self.address}", 100, 60,  # codes are not guessable by trying
                             fail_open=False)
            refusal = await self.s.store.signup_invite(invite)
            if refusal is not None:
                raise Refusal(ErrorCode.FORBIDDEN, f"invite: {refusal.message}")

    async def login(self, req: f.Login) -> f.Frame:
        account = await self.s.store.account_by_login(req.username)
        # throttled by the name as typed (not the account it finds): a username and its email count apart, so
        # that the refusals cannot tell which email belongs to which username, or that either exists
        await check_password(self.s, req.username, self.address, account.password_hash if account else None,
                             req.password, "wrong username or password")
        assert account is not None
        if account.disabled:
            raise Refusal(ErrorCode.FORBIDDEN, "this account is disabled")
        return await self.grant(req.id, account.id, account.username, req.device)

    async def refresh(self, req: f.Refresh) -> f.Frame:
        new = self.s.tokens.refresh_successor(req.refresh_token)  # a retry gets the same one
        grant = await self.s.store.rotate_refresh_token(hash_refresh_token(req.refresh_token),
                                                        hash_refresh_token(new), self.s.config.refresh_ttl,
                                                        self.s.config.refresh_retry_seconds)
        if isinstance(grant, RevokedDevices):  # a spent token used again: stolen; its device is signed out
            await close_revoked(self.s, grant, "signed out: a spent refresh token was used again")
        if not isinstance(grant, DeviceGrant):
            raise Refusal(ErrorCode.UNAUTHORIZED, "refresh token is invalid, expired or revoked")
        return f.AuthOk(id=req.id, user_id=grant.user_id, username=grant.username,
                        access_token=self.s.tokens.issue(grant.user_id, grant.device_id), refresh_token=new,
                        expires_in=self.s.tokens.access_ttl)

    async def logout(self, req: f.Logout) -> f.Frame:
        revoked = await self.s.store.revoke_device(hash_refresh_token(req.refresh_token))
        if revoked is None:
            raise Refusal(ErrorCode.NOT_FOUND, "unknown or already revoked refresh token")
        await close_revoked(self.s, revoked, "logged out")
        return f.Ok(id=req.id)


def account_request(action: Callable[[Accounts, Any], Awaitable[f.Frame]]) -> Handler:
    """The websocket handler of an account action (`Accounts.signup`...): it answers with the action's frame."""
    async def handler(cx: Context, req: Any, reply: Reply) -> None:
        reply.send(await action(Accounts(cx.services, cx.address), req))
    return handler
