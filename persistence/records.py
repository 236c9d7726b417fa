"""Plain records the store returns (no asyncpg types leak out)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from chatd.protocol.errors import Refusal
from chatd.protocol.frames import Encrypted, Media, MediaRef, Message, Reaction, StoredEncrypted
from chatd.protocol.rooms import MessageKind, Role, RoomChanges, RoomKind, Visibility


@dataclass(slots=True)
class MemberState:
    role: Role
    joined_seq: int
    left_seq: int | None = None

    @property
    def current(self) -> bool:
        return self.left_seq is None


@dataclass(slots=True)
class RoomState:
    """What a room actor keeps in memory; reloaded from Postgres when the actor starts."""

    id: int
    kind: RoomKind
    name: str | None
    history_visibility: Visibility
    last_seq: int
    encrypted: bool = False  # end-to-end encrypted: only kind `encrypted` may be sent (never turned off)
    members: dict[int, MemberState] = field(default_factory=dict)
    recent_senders: dict[int, int] = field(default_factory=dict)  # seq -> sender of the latest text messages
    banned: set[int] = field(default_factory=set)
    cursors: dict[int, tuple[int, int | None]] = field(default_factory=dict)  # delivered, read (None: private)
    visibility: list[tuple[int, Visibility]] = field(default_factory=list)  # by seq (protocol/history.py)

    def members_seq(self) -> int:
        """The seq of the room's latest membership change (a join, a removal, a departure)."""
        return max((max(m.joined_seq, m.left_seq or 0) for m in self.members.values()), default=0)

    def current_members(self) -> list[int]:
        return [uid for uid, m in self.members.items() if m.current]

    def current_joins(self) -> dict[int, int]:
        """Current member -> the seq they joined at."""
        return {uid: m.joined_seq for uid, m in self.members.items() if m.current}


@dataclass(frozen=True, slots=True)
class Membership:
    """One room as seen by a user actor."""

    room_id: int
    joined_seq: int
    left_seq: int | None
    delivered_seq: int
    last_seq: int
    read_seq: int = 0
    unread: int = 0  # text and media messages from others after read_seq (capped, see UNREAD_CAP)
    mentions: int = 0  # of those, the ones that @mention this user
    muted: bool = False

    @property
    def upto(self) -> int:
        """Highest seq this user is owed in the room."""
        return self.left_seq if self.left_seq is not None else self.last_seq


@dataclass(frozen=True, slots=True)
class Account:
    id: int
    username: str
    password_hash: str
    disabled: bool


@dataclass(frozen=True, slots=True)
class DeviceGrant:
    user_id: int
    username: str
    device_id: str


@dataclass(frozen=True, slots=True)
class RevokedDevices:
    """Devices (sessions) just revoked: their access tokens are refused and their sockets must close."""

    user_id: int
    devices: tuple[str, ...]


# ----------------------------------------------------------------- items a room appends in one commit

@dataclass(frozen=True, slots=True)
class NewText:
    """A message from a person: text, or a media kind whose `media` must be an upload of the sender's."""

    sender: int
    client_id: str
    body: str
    kind: MessageKind = "text"
    media: MediaRef | None = None
    reply_to: int | None = None  # checked in the commit: a message of the room, not deleted, not a system one
    encrypted: Encrypted | None = None  # kind encrypted: what the sender's device sent (docs/e2ee.md §3)


# What a stored membership change did (each has its system message event type, persistence/messages.py).
MemberEvent = Literal["added", "removed", "left", "banned", "unbanned", "role_changed", "owner_changed"]


@dataclass(frozen=True, slots=True)
class MemberChange:
    """A membership change, stored as a system message; its seq becomes joined_seq / left_seq."""

    action: MemberEvent
    user: int
    by: int
    role: Role = "member"
    ends_membership: bool = False  # removed, left, or banned while a member: its seq is the left_seq
    revoke_invites: bool = False  # removed: every live invite link of the room is revoked with it


@dataclass(frozen=True, slots=True)
class RoomUpdate:
    """New values of some of: name, description, icon, history_visibility ("" clears a text field)."""

    by: int
    changes: RoomChanges


@dataclass(frozen=True, slots=True)
class MessageChange:
    """An edit (body) or a delete (body None) of message `target`; checked against it in the commit."""

    by: int
    target: int
    body: str | None
    any_sender: bool = False  # a delete by a group admin or owner: the message need not be theirs


@dataclass(frozen=True, slots=True)
class ReactionChange:
    """`by` puts `emoji` on message `target` (add) or takes it off; checked against it in the commit."""

    by: int
    target: int
    emoji: str
    add: bool


@dataclass(frozen=True, slots=True)
class InviteJoin:
    """`user` joins through invite `code`; the link is checked and its use counted in the commit."""

    user: int
    code: str


AppendItem = NewText | MemberChange | RoomUpdate | MessageChange | ReactionChange | InviteJoin


@dataclass(frozen=True, slots=True)
class InvitePreviewRow:
    room: int
    name: str | None
    description: str | None
    icon: str | None
    members: int
    member: bool  # the asker is a member already


@dataclass(frozen=True, slots=True)
class Appended:
    message: Message | None  # None when refused, or when the request asks for what already holds
    duplicate: bool = False
    refusal: Refusal | None = None  # why the planner refused it (a value, answered by the room actor)


def _present(event: dict[str, Any] | None) -> dict[str, Any] | None:
    """A system event without its nil fields: absent means nil on the wire (docs/protocol.md 1), and rows
    written before that rule still hold some (`name: null` in a direct room's `created`)."""
    return None if event is None else {k: v for k, v in event.items() if v is not None}


def to_message(row: Any) -> Message:
    created: datetime = row["created_at"]
    client_id = row["client_id"]
    return Message(
        room=row["room_id"], seq=row["seq"], ts=int(created.timestamp() * 1000), kind=row["kind"],
        sender=row["sender_id"], client_id=str(client_id) if client_id is not None else None,
        body=row["body"], event=_present(row["event"]),
        edited_ts=int(row["edited_at"].timestamp() * 1000) if row["edited_at"] is not None else None,
        deleted=row["deleted"],
        media=Media(**row["media"]) if row["media"] is not None and not row["deleted"] else None,
        reply_to=row["reply_to"],
        reactions=[Reaction(**r) for r in row["reactions"]] if row["reactions"] and not row["deleted"] else None,
        encrypted=StoredEncrypted(**row["encrypted"]) if row["encrypted"] is not None and not row["deleted"] else None,
    )
