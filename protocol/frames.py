"""Every frame of the protocol as a msgspec Struct: the one definition of the wire (docs/architecture.md, "One
schema source").

Wire form: a msgpack map with ``t`` = the frame type (the Struct's tag) and the fields by name; fields that are
None are left out. Requests carry a client-chosen ``id`` that the reply (or the error) echoes. The bounds live
in each field's type (protocol/schema.py) and are the contract of docs/protocol.md; protocol/codec.py decodes
and validates a frame in one pass, and the web client's TypeScript types are generated from the same classes.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal, TypeVar

from msgspec import Meta

from chatd.protocol.reactions import MAX_EMOJI_LEN, MAX_KINDS, emoji_problem
from chatd.protocol.rooms import GrantableRole, MessageKind, Role, RoomKind, StoredKind, Visibility
from chatd.protocol.schema import Record, SchemaError, always, num, size, text

PROTOCOL_VERSION = 2  # 2: a websocket message may carry a bundle of frames (docs/protocol.md)
SUPPORTED_VERSIONS = (1, 2)
MAX_ID = 2**53 - 1  # request ids stay exact in JavaScript numbers
MAX_BATCH = 100  # messages per `msgs` frame and per history page
USERNAME_RE = r"[A-Za-z0-9_.]{3,32}"
UUID_RE = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"

FRAME_TYPES: dict[str, type[Frame]] = {}

ReqId = Annotated[int, num(min=0, max=MAX_ID)]
RoomId = Annotated[int, num(min=1)]
Pos = Annotated[int, num(min=1)]  # user ids, seqs
Nat = Annotated[int, num(min=0)]  # counts, cursors, timestamps
# A user is named by id (int) or by username (str) wherever a request names one.
UserRef = Annotated[int, num(min=1)] | Annotated[str, text(min_len=1, max_len=32)]
MEDIA_ID_RE = r"[A-Za-z0-9_-]{16,64}"
MAX_DURATION_MS = 24 * 3600 * 1000
MAX_PIXELS_SIDE = 65535


class Frame(Record, frozen=True, tag_field="t"):
    """A frame: a Record whose map carries its type in `t` (msgspec's tag), so one decoder over the union of
    frame types picks the class from `t` and validates the rest in the same pass."""

    type: ClassVar[str]


F = TypeVar("F", bound=Frame)


def frame(cls: type[F]) -> type[F]:
    """Register a frame class under its tag (``class Ping(Frame, tag="ping")``): FRAME_TYPES and `.type`."""
    name = cls.__struct_config__.tag
    assert isinstance(name, str) and name not in FRAME_TYPES, name
    cls.type = name
    FRAME_TYPES[name] = cls
    return cls


MAX_DESCRIPTION = 1000
MAX_ICON = 256  # a URL or (once media exists) a media id
INVITE_CODE_RE = r"[A-Za-z0-9_-]+"
InviteCode = Annotated[str, text(min_len=16, max_len=64, pattern=INVITE_CODE_RE)]


# --------------------------------------------------------------------------- auth (before hello)

@frame
class Signup(Frame, frozen=True, tag="signup"):
    id: ReqId
    username: Annotated[str, text(pattern=USERNAME_RE)]
    email: Annotated[str, text(min_len=3, max_len=254)]
    password: Annotated[str, text(min_len=1, max_len=256)]
    device: Annotated[str, text(max_len=64)] | None = None
    invite: Annotated[str, text(min_len=1, max_len=64)] | None = None  # an invite code (CHAT_REGISTRATION=invite)


@frame
class Login(Frame, frozen=True, tag="login"):
    id: ReqId
    username: Annotated[str, text(min_len=1, max_len=254)]  # username or email
    password: Annotated[str, text(min_len=1, max_len=256)]
    device: Annotated[str, text(max_len=64)] | None = None


@frame
class Refresh(Frame, frozen=True, tag="refresh"):
    id: ReqId
    refresh_token: Annotated[str, text(min_len=1, max_len=256)]


@frame
class Logout(Frame, frozen=True, tag="logout"):
    id: ReqId
    refresh_token: Annotated[str, text(min_len=1, max_len=256)]


@frame
class AuthOk(Frame, frozen=True, tag="auth_ok"):
    id: ReqId
    user_id: Pos
    username: Annotated[str, text(max_len=32)]
    access_token: Annotated[str, text(max_len=4096)]
    refresh_token: Annotated[str, text(max_len=256)]
    expires_in: Nat


# --------------------------------------------------------------------------- session

@frame
class Hello(Frame, frozen=True, tag="hello"):
    id: ReqId
    version: Annotated[int, num(min=1, max=1000)]
    token: Annotated[str, text(min_len=1, max_len=4096)]
    # room -> last seq this client already has (from its cache); backlog starts after it
    cursors: Annotated[dict[Nat, Nat], size(max_len=10_000)] | None = None


@frame
class Welcome(Frame, frozen=True, tag="welcome"):
    id: ReqId
    version: Pos
    user_id: Pos
    username: Annotated[str, text(max_len=32)]
    max_frame_bytes: Pos
    device: Annotated[str, text(max_len=36)] | None = None  # this connection's signed-in device (its id)


@frame
class Auth(Frame, frozen=True, tag="auth"):
    """Replace the connection's access token before it expires (in-band refresh)."""

    id: ReqId
    token: Annotated[str, text(min_len=1, max_len=4096)]


@frame
class Ok(Frame, frozen=True, tag="ok"):
    id: ReqId


@frame
class Ping(Frame, frozen=True, tag="ping"):
    """Is this connection alive? Answered with `ok` at once (a client's heartbeat). Needs a hello first."""

    id: ReqId


@frame
class Error(Frame, frozen=True, tag="error"):
    code: Annotated[str, text(max_len=32)]
    message: Annotated[str, text(max_len=1000)]
    id: ReqId | None = None
    retry_after: Annotated[float, Meta(ge=0)] | None = None


# --------------------------------------------------------------------------- rooms

class Member(Record, frozen=True):
    user: Pos
    username: Annotated[str, text(max_len=32)]
    role: Role = always("member")


class MediaRef(Record, frozen=True):
    """What a `send` says of the media item it carries: the id its upload returned, and what the server
    cannot read from the bytes (a duration; a video's size). An image's size comes from the server."""

    id: Annotated[str, text(pattern=MEDIA_ID_RE)]
    duration_ms: Annotated[int, num(min=1, max=MAX_DURATION_MS)] | None = None  # audio and video
    width: Annotated[int, num(min=1, max=MAX_PIXELS_SIDE)] | None = None  # video
    height: Annotated[int, num(min=1, max=MAX_PIXELS_SIDE)] | None = None


class Media(Record, frozen=True):
    """A message's media item as everyone sees it; download it (and its thumbnail) from the HTTP side."""

    id: Annotated[str, text(pattern=MEDIA_ID_RE)]
    mime: Annotated[str, text(max_len=255)]  # sniffed from the bytes on upload, never the sender's claim
    size: Nat
    width: Annotated[int, num(min=1, max=MAX_PIXELS_SIDE)] | None = None
    height: Annotated[int, num(min=1, max=MAX_PIXELS_SIDE)] | None = None
    duration_ms: Annotated[int, num(min=1, max=MAX_DURATION_MS)] | None = None
    file_name: Annotated[str, text(max_len=255)] | None = None
    thumbnail_id: Annotated[str, text(pattern=MEDIA_ID_RE)] | None = None


class Reaction(Record, frozen=True):
    """One emoji on a message and who put it there, in the order they reacted (protocol/reactions.py)."""

    emoji: Annotated[str, text(min_len=1, max_len=MAX_EMOJI_LEN)]
    users: Annotated[list[Annotated[int, num()]], size(min_len=1, max_len=100_000)]


class Encrypted(Record, frozen=True):
    """A Megolm ciphertext and what a member's device needs to find its key (docs/e2ee.md §3)."""

    algorithm: Literal["megolm.v1"]
    ciphertext: Annotated[str, text(min_len=1, max_len=100_000, pattern=r"^[A-Za-z0-9+/]+$")]
    session_id: Annotated[str, text(min_len=1, max_len=64, pattern=r"^[A-Za-z0-9+/]+$")]
    sender_key: Annotated[str, text(pattern=r"^[A-Za-z0-9+/]{43}$")]  # the sending device's identity key
    device: Annotated[str, text(pattern=UUID_RE)]  # the sending device


class StoredEncrypted(Encrypted, frozen=True):
    """An Encrypted as the server sends it back (its own name: the schema keeps what each side sends apart)."""


class Message(Record, frozen=True):
    room: RoomId
    seq: Pos
    ts: Nat  # milliseconds since the Unix epoch, server clock
    kind: StoredKind = always("text")
    sender: Pos | None = None  # None for system messages
    client_id: Annotated[str, text(max_len=36)] | None = None
    body: Annotated[str, text(max_len=65536)] | None = None  # None once deleted
    # system messages: {"type": created|member_added|member_removed|member_left|owner_changed|..., ...}
    event: Annotated[dict[Annotated[str, text()], Any], size(max_len=16)] | None = None
    edited_ts: Nat | None = None  # set once edited (history shows the current body)
    deleted: bool = always(False)
    media: Media | None = None  # image, video, audio and file messages (None once deleted); body: the caption
    reply_to: Pos | None = None  # the seq of the message this one answers
    reactions: Annotated[list[Reaction], size(max_len=MAX_KINDS)] | None = None  # None: no reactions
    encrypted: StoredEncrypted | None = None  # kind encrypted (None once deleted)


class RoomInfo(Record, frozen=True):
    room: RoomId
    members: Annotated[list[Member], size(max_len=100_000)]
    kind: RoomKind = always("group")
    name: Annotated[str, text(max_len=100)] | None = None
    history_visibility: Visibility = always("shared")
    last_seq: Nat = always(0)
    description: Annotated[str, text(max_len=MAX_DESCRIPTION)] | None = None
    icon: Annotated[str, text(max_len=MAX_ICON)] | None = None
    encrypted: bool = always(False)
    members_seq: Nat = always(0)  # the seq of the latest membership change (encrypted sends name it)


class RoomSummary(Record, frozen=True):
    room: RoomId
    kind: RoomKind = always("group")
    name: Annotated[str, text(max_len=100)] | None = None
    last_seq: Nat = always(0)
    delivered_seq: Nat = always(0)
    read_seq: Nat = always(0)
    unread: Nat = always(0)
    mentions: Nat = always(0)  # unread messages that @mention you
    muted: bool = always(False)
    member: bool = always(True)  # False: removed or left, still listed up to the removal point
    encrypted: bool = always(False)
    peer: Pos | None = None  # direct rooms: the other person
    last_message: Message | None = None


@frame
class OpenDirect(Frame, frozen=True, tag="open_direct"):
    id: ReqId
    user: UserRef
    encrypted: bool = always(False)  # a room made now is end-to-end encrypted (an existing one: update_room)


@frame
class CreateGroup(Frame, frozen=True, tag="create_group"):
    id: ReqId
    name: Annotated[str, text(min_len=1, max_len=100)]
    members: Annotated[list[UserRef], size(max_len=1000)] | None = None
    history_visibility: Visibility = always("shared")
    encrypted: bool = always(False)


@frame
class AddMembers(Frame, frozen=True, tag="add_members"):
    id: ReqId
    room: RoomId
    users: Annotated[list[UserRef], size(min_len=1, max_len=100)]


@frame
class RemoveMember(Frame, frozen=True, tag="remove_member"):
    """Kick: remove a member. A kicked user may rejoin through any live invite link of the room (a ban
    stops that); `revoke_invites` revokes all of them in the same transaction as the removal."""

    id: ReqId
    room: RoomId
    user: UserRef
    revoke_invites: bool = always(False)


@frame
class Leave(Frame, frozen=True, tag="leave"):
    id: ReqId
    room: RoomId


@frame
class Ban(Frame, frozen=True, tag="ban"):
    """Remove `user` (if a member) and keep them out: no add or invite lets them back until `unban`."""

    id: ReqId
    room: RoomId
    user: UserRef


@frame
class Unban(Frame, frozen=True, tag="unban"):
    id: ReqId
    room: RoomId
    user: UserRef


@frame
class SetRole(Frame, frozen=True, tag="set_role"):
    """Promote a member to admin or demote an admin to member (the owner only)."""

    id: ReqId
    room: RoomId
    user: UserRef
    role: GrantableRole = always("member")


@frame
class TransferOwnership(Frame, frozen=True, tag="transfer_ownership"):
    """The owner makes another current member the owner and becomes an admin."""

    id: ReqId
    room: RoomId
    user: UserRef


@frame
class UpdateRoom(Frame, frozen=True, tag="update_room"):
    """Change a group's settings (owner and admins). Fields left out stay; "" clears description/icon."""

    id: ReqId
    room: RoomId
    name: Annotated[str, text(min_len=1, max_len=100)] | None = None
    description: Annotated[str, text(max_len=MAX_DESCRIPTION)] | None = None
    icon: Annotated[str, text(max_len=MAX_ICON)] | None = None
    history_visibility: Visibility | None = None
    encrypted: bool | None = None  # True turns end-to-end encryption on (for good); direct rooms too


@frame
class GetRoom(Frame, frozen=True, tag="get_room"):
    """The room's settings and current members with their roles (members and past members only)."""

    id: ReqId
    room: RoomId


# --------------------------------------------------------------------------- invite links

class InviteInfo(Record, frozen=True):
    code: Annotated[str, text(max_len=64)]
    room: RoomId
    created_by: Pos
    created_ts: Nat
    use_count: Nat
    expires_ts: Nat | None = None
    max_uses: Pos | None = None
    revoked: bool = always(False)


class InviteJoinRecord(Record, frozen=True):
    code: Annotated[str, text(max_len=64)]
    user: Pos
    username: Annotated[str, text(max_len=32)]
    seq: Pos  # the member_joined message
    ts: Nat


@frame
class CreateInvite(Frame, frozen=True, tag="create_invite"):
    """An invite link to a group (owner and admins). Reply `invite`."""

    id: ReqId
    room: RoomId
    expires_in: Annotated[int, num(min=60, max=365 * 24 * 3600)] | None = None  # seconds; none: never
    max_uses: Annotated[int, num(min=1, max=1_000_000)] | None = None  # none: unlimited


@frame
class Invite(Frame, frozen=True, tag="invite"):
    id: ReqId
    invite: InviteInfo


@frame
class ListInvites(Frame, frozen=True, tag="list_invites"):
    id: ReqId
    room: RoomId


@frame
class Invites(Frame, frozen=True, tag="invites"):
    id: ReqId
    invites: Annotated[list[InviteInfo], size(max_len=1000)]


@frame
class RevokeInvite(Frame, frozen=True, tag="revoke_invite"):
    """Revoke a link; with `remove_joined`, also remove everyone still in the room who joined through it."""

    id: ReqId
    room: RoomId
    code: InviteCode
    remove_joined: bool = always(False)


@frame
class ListInviteJoins(Frame, frozen=True, tag="list_invite_joins"):
    id: ReqId
    room: RoomId


@frame
class InviteJoins(Frame, frozen=True, tag="invite_joins"):
    id: ReqId
    joins: Annotated[list[InviteJoinRecord], size(max_len=1000)]


@frame
class PreviewInvite(Frame, frozen=True, tag="preview_invite"):
    """What an invite link leads to, before joining. Reply `invite_preview`, or the error a join would get
    (not_found, invite_expired, invite_revoked, invite_used_up). Counts against the join rate limit."""

    id: ReqId
    code: InviteCode


@frame
class InvitePreview(Frame, frozen=True, tag="invite_preview"):
    id: ReqId
    room: RoomId
    members: Nat = always(0)  # current members
    member: bool = always(False)  # you are one of them already
    name: Annotated[str, text(max_len=100)] | None = None
    description: Annotated[str, text(max_len=MAX_DESCRIPTION)] | None = None
    icon: Annotated[str, text(max_len=MAX_ICON)] | None = None


@frame
class Join(Frame, frozen=True, tag="join"):
    """Join a group through an invite link's code. Reply `ok` after commit (then `get_room`)."""

    id: ReqId
    code: InviteCode


@frame
class Room(Frame, frozen=True, tag="room"):
    id: ReqId
    room: RoomInfo


@frame
class ListRooms(Frame, frozen=True, tag="list_rooms"):
    id: ReqId


@frame
class Rooms(Frame, frozen=True, tag="rooms"):
    id: ReqId
    rooms: Annotated[list[RoomSummary], size(max_len=100_000)]


# --------------------------------------------------------------------------- messages

@frame
class Send(Frame, frozen=True, tag="send"):
    id: ReqId
    room: RoomId
    client_id: Annotated[str, text(pattern=UUID_RE)]  # idempotency key: a retry reuses it
    body: Annotated[str, text(max_len=16_000)] = always("")  # the text; for media kinds the caption (may be empty)
    kind: MessageKind = always("text")
    media: MediaRef | None = None  # required for image, video, audio and file; none for text
    reply_to: Pos | None = None  # answer message `reply_to` of this room
    encrypted: Encrypted | None = None  # kind encrypted: the Megolm ciphertext (body empty)
    # kind encrypted: RoomInfo.members_seq of the member list the key went to; a later change is refused
    members_seq: Nat | None = None

    def __post_init__(self) -> None:
        if (self.kind == "encrypted") != (self.encrypted is not None):
            raise SchemaError("field 'encrypted' is needed for kind encrypted, and only for it")
        if self.kind == "encrypted":
            if self.body:
                raise SchemaError("field 'body' must be empty in an encrypted message (the text is in the ciphertext)")
        elif self.kind == "text":
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


@frame
class Edit(Frame, frozen=True, tag="edit"):
    """Replace the body of your own message `seq`. Reply `ok`; everyone gets a `message_edited` event."""

    id: ReqId
    room: RoomId
    seq: Pos
    body: Annotated[str, text(min_len=1, max_len=16_000)]


@frame
class Delete(Frame, frozen=True, tag="delete"):
    """Delete message `seq` for everyone (yours; in groups admins and the owner may delete any)."""

    id: ReqId
    room: RoomId
    seq: Pos


class Reacting(Frame, frozen=True):
    id: ReqId
    room: RoomId
    target: Pos  # the seq of the message
    emoji: Annotated[str, text(min_len=1, max_len=MAX_EMOJI_LEN)]

    def __post_init__(self) -> None:
        problem = emoji_problem(self.emoji)
        if problem is not None:
            raise SchemaError(f"field 'emoji' {problem}")


@frame
class React(Reacting, frozen=True, tag="react"):
    """Put `emoji` on message `target`. Reply `ok` (also when you had already); everyone gets a
    `reaction_added` event."""


@frame
class Unreact(Reacting, frozen=True, tag="unreact"):
    """Take your `emoji` off message `target`. Reply `ok` (also when you had none); everyone gets a
    `reaction_removed` event."""


@frame
class Sent(Frame, frozen=True, tag="sent"):
    id: ReqId
    room: RoomId
    seq: Pos
    ts: Nat
    client_id: Annotated[str, text(max_len=36)]
    duplicate: bool = always(False)  # True when this client_id was already stored (a retry)


@frame
class Msgs(Frame, frozen=True, tag="msgs"):
    """Server push: one or more messages, in seq order per room. Ack each room's highest seq."""

    messages: Annotated[list[Message], size(min_len=1, max_len=MAX_BATCH)]
    backlog: bool = always(False)  # True: a catch-up batch; the next one comes after this one is acked


@frame
class Ack(Frame, frozen=True, tag="ack"):
    """Cumulative: I have every message of `room` up to `seq`. No reply."""

    room: RoomId
    seq: Nat


@frame
class Read(Frame, frozen=True, tag="read"):
    """Cumulative read marker (never moves backwards). No reply."""

    room: RoomId
    seq: Nat


@frame
class Status(Frame, frozen=True, tag="status"):
    """Server push: `user` has every message of `room` up to `delivered_seq` (and has read up to `read_seq`)."""

    room: RoomId
    user: Pos
    delivered_seq: Nat
    read_seq: Nat | None = None  # left out when `user` or you turned receipts off


class Count(Record, frozen=True):
    seq: Pos
    delivered: Nat
    read: Nat | None = None


@frame
class ReceiptCounts(Frame, frozen=True, tag="receipt_counts"):
    """Server push in big rooms: of the `others` current members, how many have / have read your messages."""

    room: RoomId
    others: Nat
    counts: Annotated[list[Count], size(max_len=MAX_BATCH)]


class MemberReceipt(Record, frozen=True):
    user: Pos
    delivered_seq: Nat
    read_seq: Nat | None = None  # left out as in `status`


@frame
class GetReceipts(Frame, frozen=True, tag="get_receipts"):
    """Where the room's receipts stand now, for a device that was not there when they were pushed."""

    id: ReqId
    room: RoomId


@frame
class RoomReceipts(Frame, frozen=True, tag="receipts"):
    """Reply to `get_receipts`: what `status` (rooms of up to 100 members: `members`, everyone but you) or
    `receipt_counts` (bigger rooms: `counts` for your latest messages) would say now."""

    id: ReqId
    room: RoomId
    others: Nat
    members: Annotated[list[MemberReceipt], size(max_len=MAX_BATCH)]
    counts: Annotated[list[Count], size(max_len=MAX_BATCH)]


@frame
class Counts(Frame, frozen=True, tag="counts"):
    """Server push to every device of a user when a room's unread or mention count changes."""

    room: RoomId
    unread: Nat = always(0)
    mentions: Nat = always(0)
    muted: bool = always(False)


@frame
class Mute(Frame, frozen=True, tag="mute"):
    """Mute a room (no push notifications; counts still kept) or unmute it. Reply `ok`."""

    id: ReqId
    room: RoomId
    muted: bool = always(True)


@frame
class Settings(Frame, frozen=True, tag="settings"):
    """Your account settings; fields left out stay. Reply `ok`."""

    id: ReqId
    read_receipts: bool | None = None


@frame
class Typing(Frame, frozen=True, tag="typing"):
    """I am typing in `room` (send again every few seconds while it lasts) or I stopped. No reply."""

    room: RoomId
    active: bool = always(True)


@frame
class TypingChanged(Frame, frozen=True, tag="typing_changed"):
    """Server push to the online members: `user` started or stopped typing in `room`."""

    room: RoomId
    user: Pos
    active: bool = always(True)


@frame
class History(Frame, frozen=True, tag="history"):
    """Request a page of the `limit` messages just before `before_seq` (latest if omitted)."""

    id: ReqId
    room: RoomId
    before_seq: Pos | None = None
    limit: Annotated[int, num(min=1, max=MAX_BATCH)] = always(50)


@frame
class HistoryPage(Frame, frozen=True, tag="history_page"):
    """Reply to `history`: messages in ascending seq order; `has_more` if older ones are visible."""

    id: ReqId
    room: RoomId
    messages: Annotated[list[Message], size(max_len=MAX_BATCH)]
    has_more: bool = always(False)


__all__ = [name for name, cls in list(globals().items())
           if isinstance(cls, type) and issubclass(cls, Frame) and cls is not Frame]
__all__ += ["MAX_BATCH", "USERNAME_RE", "UUID_RE", "Count", "InviteInfo", "InviteJoinRecord", "Member", "Message",
            "RoomInfo", "RoomSummary"]
