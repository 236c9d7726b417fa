"""Every frame of the protocol as a typed, validated dataclass.

Wire form: a msgpack map with ``t`` = the frame type and the dataclass fields by name; fields that are
None are omitted. Requests carry a client-chosen ``id`` that the reply (or the error) echoes.
Bounds live next to each field (see protocol/schema.py) and are the contract of docs/protocol.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from chatd.protocol.reactions import MAX_EMOJI_LEN, MAX_KINDS, emoji_problem
from chatd.protocol.rooms import GrantableRole, MessageKind, Role, RoomKind, StoredKind, Visibility
from chatd.protocol.schema import SchemaError, bounded

PROTOCOL_VERSION = 2  # 2: a websocket message may carry a bundle of frames (docs/protocol.md)
SUPPORTED_VERSIONS = (1, 2)
MAX_ID = 2**53 - 1  # request ids stay exact in JavaScript numbers
MAX_BATCH = 100  # messages per `msgs` frame and per history page
USERNAME_RE = r"[A-Za-z0-9_.]{3,32}"
UUID_RE = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"

FRAME_TYPES: dict[str, type[Frame]] = {}

RoomId = int
Seq = int
# A user is named by id (int) or by username (str) wherever a request names one.
UserRef = int | str
MEDIA_ID_RE = r"[A-Za-z0-9_-]{16,64}"
MAX_DURATION_MS = 24 * 3600 * 1000
MAX_PIXELS_SIDE = 65535


class Frame:
    type: ClassVar[str]


def frame(name: str) -> Any:
    def register(cls: type[Frame]) -> type[Frame]:
        cls.type = name
        FRAME_TYPES[name] = cls
        return cls
    return register


def req_id() -> Any:
    return bounded(min=0, max=MAX_ID)


def room_id() -> Any:
    return bounded(min=1)


def seq(default: Any = ...) -> Any:
    return bounded(min=0) if default is ... else bounded(min=0, default=default)


MAX_DESCRIPTION = 1000
MAX_ICON = 256  # a URL or (once media exists) a media id
USER_REF_BOUNDS: dict[str, Any] = {"min": 1, "min_len": 1, "max_len": 32}


def user_ref() -> Any:
    return bounded(**USER_REF_BOUNDS)


# --------------------------------------------------------------------------- auth (before hello)

@frame("signup")
@dataclass(frozen=True, slots=True)
class Signup(Frame):
    id: int = req_id()
    username: str = bounded(pattern=USERNAME_RE)
    email: str = bounded(min_len=3, max_len=254)
    password: str = bounded(min_len=1, max_len=256)
    device: str | None = bounded(max_len=64, default=None)
    invite: str | None = bounded(min_len=1, max_len=64, default=None)  # an invite code (CHAT_REGISTRATION=invite)


@frame("login")
@dataclass(frozen=True, slots=True)
class Login(Frame):
    id: int = req_id()
    username: str = bounded(min_len=1, max_len=254)  # username or email
    password: str = bounded(min_len=1, max_len=256)
    device: str | None = bounded(max_len=64, default=None)


@frame("refresh")
@dataclass(frozen=True, slots=True)
class Refresh(Frame):
    id: int = req_id()
    refresh_token: str = bounded(min_len=1, max_len=256)


@frame("logout")
@dataclass(frozen=True, slots=True)
class Logout(Frame):
    id: int = req_id()
    refresh_token: str = bounded(min_len=1, max_len=256)


@frame("auth_ok")
@dataclass(frozen=True, slots=True)
class AuthOk(Frame):
    id: int = req_id()
    user_id: int = bounded(min=1)
    username: str = bounded(max_len=32)
    access_token: str = bounded(max_len=4096)
    refresh_token: str = bounded(max_len=256)
    expires_in: int = bounded(min=0)


# --------------------------------------------------------------------------- session

@frame("hello")
@dataclass(frozen=True, slots=True)
class Hello(Frame):
    id: int = req_id()
    version: int = bounded(min=1, max=1000)
    token: str = bounded(min_len=1, max_len=4096)
    # room -> last seq this client already has (from its cache); backlog starts after it
    cursors: dict[int, int] | None = bounded(max_len=10_000, default=None)


@frame("welcome")
@dataclass(frozen=True, slots=True)
class Welcome(Frame):
    id: int = req_id()
    version: int = bounded(min=1)
    user_id: int = bounded(min=1)
    username: str = bounded(max_len=32)
    max_frame_bytes: int = bounded(min=1)


@frame("auth")
@dataclass(frozen=True, slots=True)
class Auth(Frame):
    """Replace the connection's access token before it expires (in-band refresh)."""

    id: int = req_id()
    token: str = bounded(min_len=1, max_len=4096)


@frame("ok")
@dataclass(frozen=True, slots=True)
class Ok(Frame):
    id: int = req_id()


@frame("ping")
@dataclass(frozen=True, slots=True)
class Ping(Frame):
    """Is this connection alive? Answered with `ok` at once (a client's heartbeat). Needs a hello first."""

    id: int = req_id()


@frame("error")
@dataclass(frozen=True, slots=True)
class Error(Frame):
    code: str = bounded(max_len=32)
    message: str = bounded(max_len=1000)
    id: int | None = bounded(min=0, max=MAX_ID, default=None)
    retry_after: float | None = bounded(min=0, default=None)


# --------------------------------------------------------------------------- rooms

@dataclass(frozen=True, slots=True)
class Member:
    user: int = bounded(min=1)
    username: str = bounded(max_len=32)
    role: Role = "member"


@dataclass(frozen=True, slots=True)
class MediaRef:
    """What a `send` says of the media item it carries: the id its upload returned, and what the server
    cannot read from the bytes (a duration; a video's size). An image's size comes from the server."""

    id: str = bounded(pattern=MEDIA_ID_RE)
    duration_ms: int | None = bounded(min=1, max=MAX_DURATION_MS, default=None)  # audio and video
    width: int | None = bounded(min=1, max=MAX_PIXELS_SIDE, default=None)  # video
    height: int | None = bounded(min=1, max=MAX_PIXELS_SIDE, default=None)


@dataclass(frozen=True, slots=True)
class Media:
    """A message's media item as everyone sees it; download it (and its thumbnail) from the HTTP side."""

    id: str = bounded(pattern=MEDIA_ID_RE)
    mime: str = bounded(max_len=255)  # sniffed from the bytes on upload, never the sender's claim
    size: int = bounded(min=0)
    width: int | None = bounded(min=1, max=MAX_PIXELS_SIDE, default=None)
    height: int | None = bounded(min=1, max=MAX_PIXELS_SIDE, default=None)
    duration_ms: int | None = bounded(min=1, max=MAX_DURATION_MS, default=None)
    file_name: str | None = bounded(max_len=255, default=None)
    thumbnail_id: str | None = bounded(pattern=MEDIA_ID_RE, default=None)


@dataclass(frozen=True, slots=True)
class Reaction:
    """One emoji on a message and who put it there, in the order they reacted (protocol/reactions.py)."""

    emoji: str = bounded(min_len=1, max_len=MAX_EMOJI_LEN)
    users: list[int] = bounded(min_len=1, max_len=100_000)


@dataclass(frozen=True, slots=True)
class Message:
    room: int = room_id()
    seq: int = bounded(min=1)
    ts: int = bounded(min=0)  # milliseconds since the Unix epoch, server clock
    kind: StoredKind = "text"
    sender: int | None = bounded(min=1, default=None)  # None for system messages
    client_id: str | None = bounded(max_len=36, default=None)
    body: str | None = bounded(max_len=65536, default=None)  # None once deleted
    # system messages: {"type": created|member_added|member_removed|member_left|owner_changed|..., ...}
    event: dict[str, Any] | None = bounded(max_len=16, default=None)
    edited_ts: int | None = bounded(min=0, default=None)  # set once edited (history shows the current body)
    deleted: bool = False
    media: Media | None = None  # image, video, audio and file messages (None once deleted); body: the caption
    reply_to: int | None = bounded(min=1, default=None)  # the seq of the message this one answers
    reactions: list[Reaction] | None = bounded(max_len=MAX_KINDS, default=None)  # None: no reactions


@dataclass(frozen=True, slots=True)
class RoomInfo:
    room: int = room_id()
    members: list[Member] = bounded(max_len=100_000)
    kind: RoomKind = "group"
    name: str | None = bounded(max_len=100, default=None)
    history_visibility: Visibility = "shared"
    last_seq: int = seq(0)
    description: str | None = bounded(max_len=MAX_DESCRIPTION, default=None)
    icon: str | None = bounded(max_len=MAX_ICON, default=None)


@dataclass(frozen=True, slots=True)
class RoomSummary:
    room: int = room_id()
    kind: RoomKind = "group"
    name: str | None = bounded(max_len=100, default=None)
    last_seq: int = seq(0)
    delivered_seq: int = seq(0)
    read_seq: int = seq(0)
    unread: int = seq(0)
    mentions: int = seq(0)  # unread messages that @mention you
    muted: bool = False
    member: bool = True  # False: removed or left, still listed up to the removal point
    peer: int | None = bounded(min=1, default=None)  # direct rooms: the other person
    last_message: Message | None = None


@frame("open_direct")
@dataclass(frozen=True, slots=True)
class OpenDirect(Frame):
    id: int = req_id()
    user: UserRef = user_ref()


@frame("create_group")
@dataclass(frozen=True, slots=True)
class CreateGroup(Frame):
    id: int = req_id()
    name: str = bounded(min_len=1, max_len=100)
    members: list[UserRef] | None = bounded(max_len=1000, items=USER_REF_BOUNDS, default=None)
    history_visibility: Visibility = "shared"


@frame("add_members")
@dataclass(frozen=True, slots=True)
class AddMembers(Frame):
    id: int = req_id()
    room: int = room_id()
    users: list[UserRef] = bounded(min_len=1, max_len=100, items=USER_REF_BOUNDS)


@frame("remove_member")
@dataclass(frozen=True, slots=True)
class RemoveMember(Frame):
    """Kick: remove a member. A kicked user may rejoin through any live invite link of the room (a ban
    stops that); `revoke_invites` revokes all of them in the same transaction as the removal."""

    id: int = req_id()
    room: int = room_id()
    user: UserRef = user_ref()
    revoke_invites: bool = False


@frame("leave")
@dataclass(frozen=True, slots=True)
class Leave(Frame):
    id: int = req_id()
    room: int = room_id()


@frame("ban")
@dataclass(frozen=True, slots=True)
class Ban(Frame):
    """Remove `user` (if a member) and keep them out: no add or invite lets them back until `unban`."""

    id: int = req_id()
    room: int = room_id()
    user: UserRef = user_ref()


@frame("unban")
@dataclass(frozen=True, slots=True)
class Unban(Frame):
    id: int = req_id()
    room: int = room_id()
    user: UserRef = user_ref()


@frame("set_role")
@dataclass(frozen=True, slots=True)
class SetRole(Frame):
    """Promote a member to admin or demote an admin to member (the owner only)."""

    id: int = req_id()
    room: int = room_id()
    user: UserRef = user_ref()
    role: GrantableRole = "member"


@frame("transfer_ownership")
@dataclass(frozen=True, slots=True)
class TransferOwnership(Frame):
    """The owner makes another current member the owner and becomes an admin."""

    id: int = req_id()
    room: int = room_id()
    user: UserRef = user_ref()


@frame("update_room")
@dataclass(frozen=True, slots=True)
class UpdateRoom(Frame):
    """Change a group's settings (owner and admins). Fields left out stay; "" clears description/icon."""

    id: int = req_id()
    room: int = room_id()
    name: str | None = bounded(min_len=1, max_len=100, default=None)
    description: str | None = bounded(max_len=MAX_DESCRIPTION, default=None)
    icon: str | None = bounded(max_len=MAX_ICON, default=None)
    history_visibility: Visibility | None = None


@frame("get_room")
@dataclass(frozen=True, slots=True)
class GetRoom(Frame):
    """The room's settings and current members with their roles (members and past members only)."""

    id: int = req_id()
    room: int = room_id()


# --------------------------------------------------------------------------- invite links

INVITE_CODE_BOUNDS: dict[str, Any] = {"min_len": 16, "max_len": 64, "pattern": r"[A-Za-z0-9_-]+"}


@dataclass(frozen=True, slots=True)
class InviteInfo:
    code: str = bounded(max_len=64)
    room: int = room_id()
    created_by: int = bounded(min=1)
    created_ts: int = bounded(min=0)
    use_count: int = bounded(min=0)
    expires_ts: int | None = bounded(min=0, default=None)
    max_uses: int | None = bounded(min=1, default=None)
    revoked: bool = False


@dataclass(frozen=True, slots=True)
class InviteJoinRecord:
    code: str = bounded(max_len=64)
    user: int = bounded(min=1)
    username: str = bounded(max_len=32)
    seq: int = bounded(min=1)  # the member_joined message
    ts: int = bounded(min=0)


@frame("create_invite")
@dataclass(frozen=True, slots=True)
class CreateInvite(Frame):
    """An invite link to a group (owner and admins). Reply `invite`."""

    id: int = req_id()
    room: int = room_id()
    expires_in: int | None = bounded(min=60, max=365 * 24 * 3600, default=None)  # seconds; none: never
    max_uses: int | None = bounded(min=1, max=1_000_000, default=None)  # none: unlimited


@frame("invite")
@dataclass(frozen=True, slots=True)
class Invite(Frame):
    id: int = req_id()
    invite: InviteInfo = bounded()


@frame("list_invites")
@dataclass(frozen=True, slots=True)
class ListInvites(Frame):
    id: int = req_id()
    room: int = room_id()


@frame("invites")
@dataclass(frozen=True, slots=True)
class Invites(Frame):
    id: int = req_id()
    invites: list[InviteInfo] = bounded(max_len=1000)


@frame("revoke_invite")
@dataclass(frozen=True, slots=True)
class RevokeInvite(Frame):
    """Revoke a link; with `remove_joined`, also remove everyone still in the room who joined through it."""

    id: int = req_id()
    room: int = room_id()
    code: str = bounded(**INVITE_CODE_BOUNDS)
    remove_joined: bool = False


@frame("list_invite_joins")
@dataclass(frozen=True, slots=True)
class ListInviteJoins(Frame):
    id: int = req_id()
    room: int = room_id()


@frame("invite_joins")
@dataclass(frozen=True, slots=True)
class InviteJoins(Frame):
    id: int = req_id()
    joins: list[InviteJoinRecord] = bounded(max_len=1000)


@frame("preview_invite")
@dataclass(frozen=True, slots=True)
class PreviewInvite(Frame):
    """What an invite link leads to, before joining. Reply `invite_preview`, or the error a join would get
    (not_found, invite_expired, invite_revoked, invite_used_up). Counts against the join rate limit."""

    id: int = req_id()
    code: str = bounded(**INVITE_CODE_BOUNDS)


@frame("invite_preview")
@dataclass(frozen=True, slots=True)
class InvitePreview(Frame):
    id: int = req_id()
    room: int = room_id()
    members: int = seq(0)  # current members
    member: bool = False  # you are one of them already
    name: str | None = bounded(max_len=100, default=None)
    description: str | None = bounded(max_len=MAX_DESCRIPTION, default=None)
    icon: str | None = bounded(max_len=MAX_ICON, default=None)


@frame("join")
@dataclass(frozen=True, slots=True)
class Join(Frame):
    """Join a group through an invite link's code. Reply `ok` after commit (then `get_room`)."""

    id: int = req_id()
    code: str = bounded(**INVITE_CODE_BOUNDS)


@frame("room")
@dataclass(frozen=True, slots=True)
class Room(Frame):
    id: int = req_id()
    room: RoomInfo = bounded()


@frame("list_rooms")
@dataclass(frozen=True, slots=True)
class ListRooms(Frame):
    id: int = req_id()


@frame("rooms")
@dataclass(frozen=True, slots=True)
class Rooms(Frame):
    id: int = req_id()
    rooms: list[RoomSummary] = bounded(max_len=100_000)


# --------------------------------------------------------------------------- messages

@frame("send")
@dataclass(frozen=True, slots=True)
class Send(Frame):
    id: int = req_id()
    room: int = room_id()
    client_id: str = bounded(pattern=UUID_RE)  # idempotency key: a retry reuses it
    body: str = bounded(max_len=16_000, default="")  # the text; for media kinds the caption (may be empty)
    kind: MessageKind = "text"
    media: MediaRef | None = None  # required for image, video, audio and file; none for text
    reply_to: int | None = bounded(min=1, default=None)  # answer message `reply_to` of this room

    def __post_init__(self) -> None:
        if self.kind == "text":
            if not self.body:
                raise SchemaError("field 'body' must not be empty in a text message")
            if self.media is not None:
                raise SchemaError("field 'media' is not for a text message (send kind image, video, audio or file)")
        elif self.media is None:
            raise SchemaError(f"field 'media' is needed for kind {self.kind}: {{id: <the id its upload returned>}}")
        elif self.media.duration_ms is not None and self.kind not in ("audio", "video"):
            raise SchemaError(f"field 'media.duration_ms' is for audio and video, not {self.kind}")
        elif (self.media.width, self.media.height) != (None, None) and self.kind != "video":
            raise SchemaError("field 'media.width' and 'media.height' are for video only (images are measured)")


@frame("edit")
@dataclass(frozen=True, slots=True)
class Edit(Frame):
    """Replace the body of your own message `seq`. Reply `ok`; everyone gets a `message_edited` event."""

    id: int = req_id()
    room: int = room_id()
    seq: int = bounded(min=1)
    body: str = bounded(min_len=1, max_len=16_000)


@frame("delete")
@dataclass(frozen=True, slots=True)
class Delete(Frame):
    """Delete message `seq` for everyone (yours; in groups admins and the owner may delete any)."""

    id: int = req_id()
    room: int = room_id()
    seq: int = bounded(min=1)


@dataclass(frozen=True, slots=True)
class Reacting(Frame):
    id: int = req_id()
    room: int = room_id()
    target: int = bounded(min=1)  # the seq of the message
    emoji: str = bounded(min_len=1, max_len=MAX_EMOJI_LEN)

    def __post_init__(self) -> None:
        problem = emoji_problem(self.emoji)
        if problem is not None:
            raise SchemaError(f"field 'emoji' {problem}")


@frame("react")
@dataclass(frozen=True, slots=True)
class React(Reacting):
    """Put `emoji` on message `target`. Reply `ok` (also when you had already); everyone gets a
    `reaction_added` event."""


@frame("unreact")
@dataclass(frozen=True, slots=True)
class Unreact(Reacting):
    """Take your `emoji` off message `target`. Reply `ok` (also when you had none); everyone gets a
    `reaction_removed` event."""


@frame("sent")
@dataclass(frozen=True, slots=True)
class Sent(Frame):
    id: int = req_id()
    room: int = room_id()
    seq: int = bounded(min=1)
    ts: int = bounded(min=0)
    client_id: str = bounded(max_len=36)
    duplicate: bool = False  # True when this client_id was already stored (a retry)


@frame("msgs")
@dataclass(frozen=True, slots=True)
class Msgs(Frame):
    """Server push: one or more messages, in seq order per room. Ack each room's highest seq."""

    messages: list[Message] = bounded(min_len=1, max_len=MAX_BATCH)
    backlog: bool = False  # True: a catch-up batch; the next one comes after this one is acked


@frame("ack")
@dataclass(frozen=True, slots=True)
class Ack(Frame):
    """Cumulative: I have every message of `room` up to `seq`. No reply."""

    room: int = room_id()
    seq: int = seq()


@frame("read")
@dataclass(frozen=True, slots=True)
class Read(Frame):
    """Cumulative read marker (never moves backwards). No reply."""

    room: int = room_id()
    seq: int = seq()


@frame("status")
@dataclass(frozen=True, slots=True)
class Status(Frame):
    """Server push: `user` has every message of `room` up to `delivered_seq` (and has read up to `read_seq`)."""

    room: int = room_id()
    user: int = bounded(min=1)
    delivered_seq: int = seq()
    read_seq: int | None = bounded(min=0, default=None)  # left out when `user` or you turned receipts off


@dataclass(frozen=True, slots=True)
class Count:
    seq: int = bounded(min=1)
    delivered: int = bounded(min=0)
    read: int | None = bounded(min=0, default=None)


@frame("receipt_counts")
@dataclass(frozen=True, slots=True)
class ReceiptCounts(Frame):
    """Server push in big rooms: of the `others` current members, how many have / have read your messages."""

    room: int = room_id()
    others: int = seq()
    counts: list[Count] = bounded(max_len=MAX_BATCH)


@dataclass(frozen=True, slots=True)
class MemberReceipt:
    user: int = bounded(min=1)
    delivered_seq: int = seq()
    read_seq: int | None = bounded(min=0, default=None)  # left out as in `status`


@frame("get_receipts")
@dataclass(frozen=True, slots=True)
class GetReceipts(Frame):
    """Where the room's receipts stand now, for a device that was not there when they were pushed."""

    id: int = req_id()
    room: int = room_id()


@frame("receipts")
@dataclass(frozen=True, slots=True)
class RoomReceipts(Frame):
    """Reply to `get_receipts`: what `status` (rooms of up to 100 members: `members`, everyone but you) or
    `receipt_counts` (bigger rooms: `counts` for your latest messages) would say now."""

    id: int = req_id()
    room: int = room_id()
    others: int = seq()
    members: list[MemberReceipt] = bounded(max_len=MAX_BATCH)
    counts: list[Count] = bounded(max_len=MAX_BATCH)


@frame("counts")
@dataclass(frozen=True, slots=True)
class Counts(Frame):
    """Server push to every device of a user when a room's unread or mention count changes."""

    room: int = room_id()
    unread: int = seq(0)
    mentions: int = seq(0)
    muted: bool = False


@frame("mute")
@dataclass(frozen=True, slots=True)
class Mute(Frame):
    """Mute a room (no push notifications; counts still kept) or unmute it. Reply `ok`."""

    id: int = req_id()
    room: int = room_id()
    muted: bool = True


@frame("settings")
@dataclass(frozen=True, slots=True)
class Settings(Frame):
    """Your account settings; fields left out stay. Reply `ok`."""

    id: int = req_id()
    read_receipts: bool | None = None


@frame("typing")
@dataclass(frozen=True, slots=True)
class Typing(Frame):
    """I am typing in `room` (send again every few seconds while it lasts) or I stopped. No reply."""

    room: int = room_id()
    active: bool = True


@frame("typing_changed")
@dataclass(frozen=True, slots=True)
class TypingChanged(Frame):
    """Server push to the online members: `user` started or stopped typing in `room`."""

    room: int = room_id()
    user: int = bounded(min=1)
    active: bool = True


@frame("history")
@dataclass(frozen=True, slots=True)
class History(Frame):
    """Request a page of the `limit` messages just before `before_seq` (latest if omitted)."""

    id: int = req_id()
    room: int = room_id()
    before_seq: int | None = bounded(min=1, default=None)
    limit: int = bounded(min=1, max=MAX_BATCH, default=50)


@frame("history_page")
@dataclass(frozen=True, slots=True)
class HistoryPage(Frame):
    """Reply to `history`: messages in ascending seq order; `has_more` if older ones are visible."""

    id: int = req_id()
    room: int = room_id()
    messages: list[Message] = bounded(max_len=MAX_BATCH)
    has_more: bool = False


__all__ = [name for name, cls in list(globals().items())
           if isinstance(cls, type) and issubclass(cls, Frame) and cls is not Frame]
__all__ += ["MAX_BATCH", "USERNAME_RE", "UUID_RE", "Count", "InviteInfo", "InviteJoinRecord", "Member", "Message",
            "RoomInfo", "RoomSummary"]
