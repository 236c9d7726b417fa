"""QR device login from the SDK (docs/protocol.md 3.9).

The new device: `start_qr_login()` asks the server for a request (HTTP, no account needed) and returns what to
show (`link` as a QR code, `shown` as text); `wait_for_approval()` long-polls until a signed-in device of the
account approves it, and returns this device's own tokens. `Chat.start_qr_login()` / `Chat.finish_qr_login()`
wrap both and then connect. The signed-in device: `Chat.qr_login_request(code)` (who asks, from where) and
`Chat.answer_qr_login(code, approve)`.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field

import httpx
import trio

from chatd.clients.ws import ChatError
from chatd.protocol import frames as f
from chatd.protocol import qr

HTTP_TIMEOUT = 90.0  # seconds for one wait: longer than the server holds it (CHAT_QR_WAIT_SECONDS, at most 60)
GRACE = 60.0  # seconds past its expiry after which a request is given up even while the server cannot say


@dataclass(frozen=True)
class QrLogin:
    """A pending request: show `link` as a QR code (or `shown` as text); `secret` stays on this device."""

    code: str
    link: str
    expires_at: float  # wall-clock seconds
    secret: str = field(repr=False)

    @property
    def shown(self) -> str:
        return qr.shown(self.code)


def _refused(response: httpx.Response) -> ChatError:
    try:
        data = response.json()
    except ValueError:
        data = {}
    retry = response.headers.get("retry-after")
    return ChatError(f.Error(code=str(data.get("code", f"http_{response.status_code}")),
                             message=str(data.get("message", response.reason_phrase)),
                             retry_after=float(retry) if retry else None))


async def start_qr_login(http_url: str, device: str | None = None) -> QrLogin:
    """A new request (ChatError when refused, e.g. `rate_limited`)."""
    base = http_url.rstrip("/")
    async with httpx.AsyncClient(timeout=HTTP_TIMEOUT) as http:
        response = await http.post(f"{base}/api/qr/start", json={"device": device})
    if response.status_code != 200:
        raise _refused(response)
    data = response.json()
    if not isinstance(data.get("code"), str) or not re.fullmatch(qr.CODE_RE, data["code"]):
        raise ChatError(f.Error(code="internal", message="the server's QR login code is malformed"))
    return QrLogin(code=data["code"], link=qr.link(base, data["code"]), expires_at=time.time() + data["expires_in"],
                   secret=data["secret"])


async def wait_for_approval(http_url: str, request: QrLogin) -> f.AuthOk:
    """This device's tokens once the request is approved; ChatError `forbidden` (declined), `not_found` (expired
    or used), `unauthorized` (not this device's request). A `rate_limited` wait is waited out and asked again."""
    base = http_url.rstrip("/")
    body = {"code": request.code, "secret": request.secret}
    async with httpx.AsyncClient(timeout=HTTP_TIMEOUT) as http:
        while True:
            response = await http.post(f"{base}/api/qr/wait", json=body)
            if response.status_code == 202:
                continue
            if response.status_code == 200:
                return f.AuthOk(id=0, **response.json())
            refused = _refused(response)
            if refused.code not in ("rate_limited", "retry") or time.time() > request.expires_at + GRACE:
                raise refused
            await trio.sleep(refused.error.retry_after or 1.0)


__all__ = ["QrLogin", "start_qr_login", "wait_for_approval"]
