"""Connection state machine (sans-IO): which frames a client may send in which state.

CONNECTED --hello ok--> AUTHED --close--> CLOSING. Auth requests (signup/login/refresh/logout) are
allowed before and after hello; everything else needs an authenticated session.
"""

from __future__ import annotations

from enum import Enum

from chatd.protocol import devices, people, qr
from chatd.protocol import frames as f
from chatd.protocol.errors import ErrorCode, ProtocolError

ACCOUNT_FRAMES: frozenset[type[f.Frame]] = frozenset({f.Signup, f.Login, f.Refresh, f.Logout})
SESSION_FRAMES: frozenset[type[f.Frame]] = frozenset({
    f.Auth, f.OpenDirect, f.CreateGroup, f.AddMembers, f.RemoveMember, f.Leave, f.ListRooms,
    f.Send, f.Ack, f.Read, f.History, f.Ping,
    f.Ban, f.Unban, f.SetRole, f.TransferOwnership, f.UpdateRoom, f.GetRoom, f.Edit, f.Delete, f.Settings,
    f.Typing, f.Mute, f.CreateInvite, f.ListInvites, f.RevokeInvite, f.ListInviteJoins, f.Join, f.PreviewInvite,
    f.React, f.Unreact, f.GetReceipts})
SESSION_FRAMES |= people.REQUESTS  # profiles, search, presence (protocol/people.py)
SESSION_FRAMES |= devices.REQUESTS  # devices, password, account deletion (protocol/devices.py)
SESSION_FRAMES |= qr.REQUESTS  # approving a QR login (protocol/qr.py)
CLIENT_FRAMES = ACCOUNT_FRAMES | SESSION_FRAMES | {f.Hello}


class SessionState(Enum):
    CONNECTED = "connected"
    AUTHED = "authed"
    CLOSING = "closing"


class IllegalTransition(RuntimeError):
    pass


class Session:
    def __init__(self) -> None:
        self.state = SessionState.CONNECTED
        self.user_id: int | None = None
        self.version = 1  # the protocol version the client said hello with; 2+: the server may send bundles

    def check(self, frame: f.Frame) -> ProtocolError | None:
        """None if `frame` may be handled now, else the error to send back. `frame` is one of CLIENT_FRAMES:
        the decoder refuses the others (`decode_bundle(..., accept=CLIENT_FRAMES)`), echoing their id."""
        req_id = getattr(frame, "id", None)
        kind = type(frame)
        if self.state is SessionState.CLOSING:
            return ProtocolError(ErrorCode.BAD_REQUEST, "connection is closing", req_id)
        if kind is f.Hello and self.state is SessionState.AUTHED:
            return ProtocolError(ErrorCode.CONFLICT, "already said hello on this connection", req_id)
        if kind in SESSION_FRAMES and self.state is not SessionState.AUTHED:
            return ProtocolError(ErrorCode.UNAUTHORIZED, f"'{frame.type}' needs a hello with a valid token first",
                                 req_id)
        return None

    def authenticated(self, user_id: int, version: int) -> None:
        if self.state is not SessionState.CONNECTED:
            raise IllegalTransition(f"authenticated in state {self.state.value}")
        self.state = SessionState.AUTHED
        self.user_id = user_id
        self.version = version

    @property
    def bundles(self) -> bool:
        """Whether frames to this client may travel several to a websocket message."""
        return self.version >= 2

    def closing(self) -> None:
        self.state = SessionState.CLOSING
