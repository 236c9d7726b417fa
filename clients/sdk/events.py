"""What ``Chat.events()`` yields: incoming messages, connection changes, and the server's other pushes
(`f.Status`, `f.ReceiptCounts`, `f.Counts`, `f.TypingChanged`, `PresenceChanged`, `f.Error`) as they are."""

from __future__ import annotations

from dataclasses import dataclass

from chatd.protocol import frames as f
from chatd.protocol.errors import CloseCode


@dataclass(frozen=True)
class NewMessage:
    message: f.Message
    backlog: bool  # True: catch-up after a (re)connect


@dataclass(frozen=True)
class ConnectionChanged:
    connected: bool
    reason: str = ""


@dataclass(frozen=True)
class SessionEnded:
    """The session ended for good; nothing reconnects. `close_code` 4003: the account was disabled by an
    administrator or deleted; 4010: this device was signed out (logout or password change elsewhere);
    None: the server refused our credentials (bad password, revoked or spent refresh token). Sign in again."""

    reason: str
    close_code: int | None = None

    @property
    def account_closed(self) -> bool:
        return self.close_code == CloseCode.DISABLED

    @property
    def device_signed_out(self) -> bool:
        return self.close_code == CloseCode.SIGNED_OUT


Event = NewMessage | ConnectionChanged | SessionEnded | f.Frame
