"""What ``Chat.events()`` yields: incoming messages, connection changes, and the server's other pushes
(`f.Status`, `f.ReceiptCounts`, `f.Counts`, `f.TypingChanged`, `PresenceChanged`, `f.Error`) as they are."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeAlias

from chatd.protocol import frames as f
from chatd.protocol.errors import CloseCode

if TYPE_CHECKING:  # the crypto engine needs the e2ee extra; these events only come when it is enabled
    from chatd.clients.sdk.crypto import Decrypted, IdentityChanged, Verification


@dataclass(frozen=True)
class NewMessage:
    message: f.Message
    backlog: bool  # True: catch-up after a (re)connect
    decrypted: Decrypted | None = None  # kind encrypted, when its key was here (else a MessageDecrypted follows)


@dataclass(frozen=True)
class MessageDecrypted:
    """An encrypted message that arrived before its key can be read now (docs/e2ee.md §3)."""

    message: f.Message
    decrypted: Decrypted


@dataclass(frozen=True)
class UnableToDecrypt:
    """An encrypted message whose key none of the to-device stream, the key backup and my other devices had
    after a while (it still becomes a MessageDecrypted if the key comes later)."""

    message: f.Message


@dataclass(frozen=True)
class DevicesAdded:
    """A user this device already knew signed in a new device (or the server claims so: device keys are
    self-signed). Show it; verify it (SAS) before trusting it (docs/security.md)."""

    user: int
    devices: list[str]


@dataclass(frozen=True)
class VerificationChanged:
    """A SAS verification moved on (`flow.state`; `flow.emoji` to compare once it is "showing")."""

    flow: Verification


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


Event: TypeAlias = ("NewMessage | MessageDecrypted | UnableToDecrypt | VerificationChanged | IdentityChanged"
                    " | DevicesAdded | ConnectionChanged | SessionEnded | f.Frame")
