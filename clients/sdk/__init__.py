"""The chatd Python SDK (trio): ``Chat`` keeps one account connected over ``clients.ws.ChatClient``,
with a local SQLite cache of messages, cursors, rooms and profiles. See clients/sdk/client.py."""

from chatd.clients.sdk.client import Chat, invite_code
from chatd.clients.sdk.events import (
    ConnectionChanged,
    DevicesAdded,
    Event,
    MessageDecrypted,
    NewMessage,
    SessionEnded,
    UnableToDecrypt,
    VerificationChanged,
)
from chatd.clients.sdk.link import REQUEST_ERRORS
from chatd.clients.sdk.qr import QrLogin, start_qr_login, wait_for_approval
from chatd.clients.ws import ChatError

__all__ = ["REQUEST_ERRORS", "Chat", "ChatError", "ConnectionChanged", "DevicesAdded", "Event", "MessageDecrypted",
           "NewMessage", "QrLogin", "SessionEnded", "UnableToDecrypt", "VerificationChanged", "invite_code",
           "start_qr_login", "wait_for_approval"]
