"""Connection state machine (sans-IO): which frames a client may send in which state.

CONNECTED --hello ok--> AUTHED --close--> CLOSING. `CLIENT_FRAMES` are the frames a client may send at all
(the decoder refuses the others); which of them need a successful hello first is the gateway's registry's
to say (gateway/registry.py: account requests and hello itself do not), and `check` is told.
"""

from __future__ import annotations

from enum import Enum

from chatd.protocol import devices, e2ee, people, qr
from chatd.protocol import frames as f
from chatd.protocol.errors import ErrorCode, Refusal

CLIENT_FRAMES: frozenset[type[f.Frame]] = frozenset[type[f.Frame]]({
    f.Signup, f.Login, f.Refresh, f.Logout, f.Hello, f.Auth, f.Ping,
    f.OpenDirect, f.CreateGroup, f.GetRoom, f.ListRooms, f.AddMembers, f.RemoveMember, f.Leave, f.Ban, f.Unban,
    f.SetRole, f.TransferOwnership, f.UpdateRoom, f.Mute, f.Settings,
    f.Send, f.Edit, f.Delete, f.React, f.Unreact, f.GetReceipts, f.Ack, f.Read, f.Typing, f.History,
    f.CreateInvite, f.ListInvites, f.RevokeInvite, f.ListInviteJoins, f.PreviewInvite, f.Join,
}) | people.REQUESTS | devices.REQUESTS | qr.REQUESTS | e2ee.REQUESTS  # (their modules)


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

    def check(self, frame: f.Frame, needs_hello: bool) -> Refusal | None:
        """None if `frame` may be handled now, else the refusal to answer it with. `frame` is one of
        CLIENT_FRAMES: the decoder refuses the others (`decode_bundle(..., accept=CLIENT_FRAMES)`), echoing
        their id."""
        req_id = getattr(frame, "id", None)
        kind = type(frame)
        if self.state is SessionState.CLOSING:
            return Refusal(ErrorCode.BAD_REQUEST, "connection is closing", req_id)
        if kind is f.Hello and self.state is SessionState.AUTHED:
            return Refusal(ErrorCode.CONFLICT, "already said hello on this connection", req_id)
        if needs_hello and self.state is not SessionState.AUTHED:
            return Refusal(ErrorCode.UNAUTHORIZED, f"'{frame.type}' needs a hello with a valid token first",
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
