"""What actors send each other (mailbox items). Replies go straight to the requesting Device."""

from __future__ import annotations

from dataclasses import dataclass

from actors.device import Device
from protocol.frames import Frame, Message


@dataclass(frozen=True, slots=True)
class Crash:
    """Fault injection (tests, admin): the actor raises when it handles this."""

    reason: str = "injected crash"


# ------------------------------------------------------------------ to a RoomActor

@dataclass(frozen=True, slots=True)
class SendText:
    device: Device
    req_id: int
    client_id: str
    body: str


@dataclass(frozen=True, slots=True)
class ChangeMembers:
    """add (users, by an owner/admin), remove (one user, by a higher role) or leave (the requester)."""

    device: Device
    req_id: int
    action: str  # add | remove | leave
    users: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class CursorMoved:
    user: int
    delivered_seq: int


RoomItem = SendText | ChangeMembers | CursorMoved | Crash


# ------------------------------------------------------------------ to a UserActor

@dataclass(frozen=True, slots=True)
class Committed:
    message: Message
    origin: int | None = None  # id of the device that sent it (gets `sent`, not the message)


@dataclass(frozen=True, slots=True)
class Deliver:
    room: int
    messages: tuple[Committed, ...]


@dataclass(frozen=True, slots=True)
class MembershipChanged:
    room: int


@dataclass(frozen=True, slots=True)
class Attach:
    device: Device
    cursors: dict[int, int]


@dataclass(frozen=True, slots=True)
class Detach:
    device: Device


@dataclass(frozen=True, slots=True)
class AckFrom:
    device: Device
    room: int
    seq: int
    read: bool = False  # True: a `read` marker rather than a delivery ack


@dataclass(frozen=True, slots=True)
class Push:
    """A frame for every device of the user (status updates)."""

    frame: Frame


UserItem = Deliver | MembershipChanged | Attach | Detach | AckFrom | Push | Crash


# ------------------------------------------------------------------ to the CursorWriter

@dataclass(frozen=True, slots=True)
class SaveCursors:
    """A user's coalesced cursor moves for one column (delivered_seq or read_seq): room -> seq."""

    user: int
    column: str
    cursors: dict[int, int]
