"""What ``Chat.events()`` yields: incoming messages, connection changes, and the server's other pushes
(`f.Status`, `f.ReceiptCounts`, `f.Counts`, `f.TypingChanged`, `PresenceChanged`, `f.Error`) as they are."""

from __future__ import annotations

from dataclasses import dataclass

from protocol import frames as f


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
    """The server refused our credentials (bad password, revoked or spent refresh token): sign in again."""

    reason: str


Event = NewMessage | ConnectionChanged | SessionEnded | f.Frame
