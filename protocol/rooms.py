"""The closed vocabularies of rooms and messages, defined once for every layer.

Each is a Literal type, not an Enum: the values are what the wire, the database and the bus carry (plain
strings), so a value read from any of them needs no conversion, and mypy checks every comparison and
every assignment against the set. A new value is added here and nowhere else; mypy then points at each
place that must handle it. (Profile field visibility, `Level`, lives in protocol/people.py.)
"""

from __future__ import annotations

from typing import Final, Literal, TypedDict, get_args

from chatd.protocol.errors import ErrorCode, Refusal

# A member's role in a room: owner > admin > member (actors/rules.py ranks them). Direct rooms have two
# members and no other roles.
Role = Literal["owner", "admin", "member"]
# What `set_role` may make someone: ownership moves only by `transfer_ownership`.
GrantableRole = Literal["admin", "member"]

RoomKind = Literal["direct", "group"]

# A group's history_visibility: "shared" lets a new member read what was sent before they joined,
# "joined" only what was sent from their join on (protocol/history.py applies it).
Visibility = Literal["shared", "joined"]

MediaKind = Literal["image", "video", "audio", "file"]
# What a person sends: text or one media item (with a caption).
MessageKind = Literal["text", MediaKind, "encrypted"]  # encrypted: a Megolm ciphertext (docs/e2ee.md)
# What a stored message is: one a person sent, or a system message (membership, settings, edits...).
StoredKind = Literal[MessageKind, "system"]

# A member's two cursors in a room: the highest seq acknowledged by one of their devices, and the highest
# seq they read (receipts, docs/protocol.md). Stored as delivered_seq / read_seq (persistence/rooms.py
# maps each to its fixed SQL; no other text reaches a statement).
Cursor = Literal["delivered", "read"]
CURSORS: Final[tuple[Cursor, ...]] = get_args(Cursor)


class RoomChanges(TypedDict, total=False):
    """New values for some of a group's settings (`update_room`); "" clears the description or the icon."""

    name: str
    description: str
    icon: str
    history_visibility: Visibility
    encrypted: bool  # only ever True: end-to-end encryption cannot be turned off


def room_changes(name: str | None, description: str | None, icon: str | None,
                 history_visibility: Visibility | None, encrypted: bool | None = None) -> RoomChanges:
    """The settings an `update_room` names; a field left out (None) stays as it is."""
    changes = RoomChanges()
    if name is not None:
        changes["name"] = name
    if description is not None:
        changes["description"] = description
    if icon is not None:
        changes["icon"] = icon
    if history_visibility is not None:
        changes["history_visibility"] = history_visibility
    if encrypted is not None:
        if not encrypted:
            raise Refusal(ErrorCode.BAD_REQUEST, "encryption cannot be turned off")
        changes["encrypted"] = True
    return changes
