"""What actors send each other (mailbox items). A client's request carries its reply handle (actors/reply.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from chatd.actors.device import Device
from chatd.actors.reply import Reply
from chatd.protocol.errors import CloseCode
from chatd.protocol.frames import Encrypted, Frame, MediaRef, Message
from chatd.protocol.rooms import Cursor, GrantableRole, MessageKind, RoomChanges


@dataclass(frozen=True, slots=True)
class Crash:
    """Fault injection (tests, admin): the actor raises when it handles this."""

    reason: str = "injected crash"


# ------------------------------------------------------------------ to a RoomActor

@dataclass(frozen=True, slots=True)
class Request:
    """A client's request: whoever takes it answers `reply`, exactly once."""

    reply: Reply

    @property
    def device(self) -> Device:
        """The requesting device (who asks, and where the reply goes)."""
        return self.reply.device

    @property
    def req_id(self) -> int:
        """The request's id: whatever reaches an actor has one."""
        assert self.reply.req_id is not None
        return self.reply.req_id


@dataclass(frozen=True, slots=True)
class SendText(Request):
    """A message from a person: text, or a media kind with its media reference (checked in the commit)."""

    client_id: str
    body: str
    kind: MessageKind = "text"
    media: MediaRef | None = None
    reply_to: int | None = None
    encrypted: Encrypted | None = None  # kind encrypted: the Megolm header and ciphertext
    members_seq: int | None = None  # kind encrypted: the membership its key was shared for


# What a ChangeMembers asks for (actors/rules.py decides who may do which).
MemberAction = Literal["add", "remove", "remove_invited", "leave", "ban", "unban", "set_role", "transfer"]


@dataclass(frozen=True, slots=True)
class ChangeMembers(Request):
    """A membership or role change; the room actor decides who may do it (docs/protocol.md 3.3)."""

    action: MemberAction
    users: tuple[int, ...] = ()
    role: GrantableRole | None = None  # set_role
    revoke_invites: bool = False  # remove: also revoke the room's invite links, in the same commit


@dataclass(frozen=True, slots=True)
class UpdateRoom(Request):
    changes: RoomChanges


@dataclass(frozen=True, slots=True)
class ChangeMessage(Request):
    """Edit (body) or delete (body None) message `seq`."""

    seq: int
    body: str | None


@dataclass(frozen=True, slots=True)
class ChangeReaction(Request):
    """Put `emoji` on message `target` (add) or take it off."""

    target: int
    emoji: str
    add: bool


@dataclass(frozen=True, slots=True)
class LookUpReceipts(Request):
    """Where the room's receipts stand, for the requesting device (`get_receipts`)."""

    private: bool  # the asker turned read receipts off: they see no one's reads


@dataclass(frozen=True, slots=True)
class CursorMoved:
    """A member's stored cursors moved (None: that one did not, or reads are not reported)."""

    user: int
    delivered_seq: int | None = None
    read_seq: int | None = None
    quiet: bool = False  # the user turned read receipts off: forget the read cursor the room holds


@dataclass(frozen=True, slots=True)
class JoinByInvite(Request):
    code: str


@dataclass(frozen=True, slots=True)
class TypingNow:
    device: Device
    active: bool


@dataclass(frozen=True, slots=True)
class RemoteCommitted:
    """Messages another chatd process stored in this room (actors/bus.py): fan them out to members here."""

    messages: tuple[Message, ...]


@dataclass(frozen=True, slots=True)
class RemoteTyping:
    """A `typing` frame a member sent to another process."""

    user: int
    active: bool


RoomRequest = SendText | ChangeMembers | UpdateRoom | ChangeMessage | ChangeReaction | JoinByInvite  # committed
RoomItem = RoomRequest | LookUpReceipts | CursorMoved | TypingNow | RemoteCommitted | RemoteTyping | Crash


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
    handed_over: bool = False  # already moved once from a stopping actor to a fresh one (UserActor._shutdown)


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
class SettingsChanged:
    read_receipts: bool


@dataclass(frozen=True, slots=True)
class MuteChanged:
    room: int
    muted: bool


@dataclass(frozen=True, slots=True)
class ToDevices:
    """A frame for every device of the user (status updates)."""

    frame: Frame


@dataclass(frozen=True, slots=True)
class ReadMoved:
    """The user's read marker moved on another process (their counts follow it here too)."""

    room: int
    seq: int


@dataclass(frozen=True, slots=True)
class RoomHead:
    """Postgres says `room` reached `last_seq` (actors/gaps.py): a device behind it syncs the rest."""

    room: int
    last_seq: int


@dataclass(frozen=True, slots=True)
class CloseDevices:
    """Close the user's devices here: every one (an admin's disconnect or disable), or those signed in as one of
    `sessions` (device ids that were just revoked: logout, refresh-token reuse, password change...)."""

    code: CloseCode
    reason: str
    sessions: frozenset[str] | None = None


@dataclass(frozen=True, slots=True)
class InboxArrived:
    """To-device messages were stored for these devices of the user (device ids; None: look at every device):
    the user actor reads them from Postgres (docs/protocol.md §12.3). `head`: the highest id waiting, when known
    (the gap watch's look): a device that has been sent that far already has nothing to read."""

    sessions: frozenset[str] | None = None
    head: int = 0


@dataclass(frozen=True, slots=True)
class InboxAcked:
    """A device acked (and deleted) its to-device messages up to `upto`: the next frame may go."""

    device: Device
    upto: int


UserItem = (Deliver | MembershipChanged | Attach | Detach | AckFrom | ToDevices | SettingsChanged | MuteChanged
            | ReadMoved | CloseDevices | RoomHead | InboxArrived | InboxAcked | Crash)


# ------------------------------------------------------------------ to the CursorWriter

@dataclass(frozen=True, slots=True)
class SaveCursors:
    """A user's coalesced moves of one of their cursors (delivered or read): room -> seq."""

    user: int
    cursor: Cursor
    cursors: dict[int, int]
    receipts: bool = True  # False: the user turned read receipts off; their reads are not reported
