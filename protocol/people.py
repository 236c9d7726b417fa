"""Frames about people: profiles with per-field visibility, user search, presence (docs/protocol.md section 7).

Registered in FRAME_TYPES like every frame of protocol/frames.py. Every request here needs a session
(after hello); `REQUESTS` is what protocol/session.py adds to its session frames.
"""

from __future__ import annotations

from typing import Annotated, Literal

from chatd.protocol.frames import Frame, Nat, Pos, ReqId, UserRef, frame
from chatd.protocol.schema import Record, always, num, size, text

# Who may see a profile field: anybody, the people who currently share a room with its owner, or no one
# (the owner always sees everything).
Level = Literal["everyone", "contacts", "nobody"]
ProfileField = Literal["display_name", "about", "avatar", "last_seen"]
PROFILE_FIELDS: tuple[ProfileField, ...] = ("display_name", "about", "avatar", "last_seen")
DEFAULT_VISIBILITY: dict[ProfileField, Level] = {
    "display_name": "everyone", "about": "everyone", "avatar": "everyone", "last_seen": "contacts"}

MAX_DISPLAY_NAME = 64
MAX_ABOUT = 500
MAX_AVATAR = 256  # a URL for now; a media id once media exists
MAX_SEARCH_RESULTS = 20
MAX_PRESENCE_USERS = 100


class ProfileInfo(Record, frozen=True):
    """What the asker may see of a user. Hidden or unset fields are left out."""

    user: Pos
    username: Annotated[str, text(max_len=32)]  # always visible
    display_name: Annotated[str, text(max_len=MAX_DISPLAY_NAME)] | None = None
    about: Annotated[str, text(max_len=MAX_ABOUT)] | None = None
    avatar: Annotated[str, text(max_len=MAX_AVATAR)] | None = None
    online: bool | None = None  # follows last_seen's visibility; left out when presence is unknown
    last_seen: Nat | None = None  # ms since the epoch; only while offline
    # your own profile only: every field's level
    visibility: Annotated[dict[ProfileField, Level], size(max_len=len(PROFILE_FIELDS))] | None = None


class PresenceInfo(Record, frozen=True):
    user: Pos
    online: bool | None = None  # left out (with last_seen) when the user's last_seen is hidden from you
    last_seen: Nat | None = None  # ms since the epoch; offline users seen before


@frame
class UpdateProfile(Frame, frozen=True, tag="update_profile"):
    """Change your profile; fields left out stay, "" clears a text field. Reply `profile` (your own)."""

    id: ReqId
    display_name: Annotated[str, text(max_len=MAX_DISPLAY_NAME)] | None = None
    about: Annotated[str, text(max_len=MAX_ABOUT)] | None = None
    avatar: Annotated[str, text(max_len=MAX_AVATAR)] | None = None
    visibility: Annotated[dict[ProfileField, Level], size(min_len=1, max_len=len(PROFILE_FIELDS))] | None = None


@frame
class GetProfile(Frame, frozen=True, tag="get_profile"):
    """A user's profile as you may see it (your own when `user` is left out). Reply `profile`."""

    id: ReqId
    user: UserRef | None = None


@frame
class Profile(Frame, frozen=True, tag="profile"):
    id: ReqId
    profile: ProfileInfo


@frame
class SearchUsers(Frame, frozen=True, tag="search_users"):
    """Users whose username starts with `query` (ignoring case), in username order. Reply `users`."""

    id: ReqId
    query: Annotated[str, text(min_len=1, max_len=32)]
    limit: Annotated[int, num(min=1, max=MAX_SEARCH_RESULTS)] = always(MAX_SEARCH_RESULTS)


@frame
class Users(Frame, frozen=True, tag="users"):
    id: ReqId
    users: Annotated[list[ProfileInfo], size(max_len=MAX_SEARCH_RESULTS)]


@frame
class GetPresence(Frame, frozen=True, tag="get_presence"):
    """Whether these users are online, or when they were last seen. Reply `presence`."""

    id: ReqId
    users: Annotated[list[Pos], size(min_len=1, max_len=MAX_PRESENCE_USERS)]


@frame
class Presence(Frame, frozen=True, tag="presence"):
    id: ReqId
    users: Annotated[list[PresenceInfo], size(max_len=MAX_PRESENCE_USERS)]


@frame
class PresenceChanged(Frame, frozen=True, tag="presence_changed"):
    """Server push to the online contacts allowed to see it: `user`'s first device came or last one went."""

    user: Pos
    online: bool = always(False)
    last_seen: Nat | None = None  # when going offline: ms since the epoch


REQUESTS: frozenset[type[Frame]] = frozenset({UpdateProfile, GetProfile, SearchUsers, GetPresence})

__all__ = [
    "DEFAULT_VISIBILITY", "MAX_ABOUT", "MAX_AVATAR", "MAX_DISPLAY_NAME", "MAX_PRESENCE_USERS", "MAX_SEARCH_RESULTS",
    "PROFILE_FIELDS", "REQUESTS", "GetPresence", "GetProfile", "Level", "Presence", "PresenceChanged", "PresenceInfo",
    "Profile", "ProfileField", "ProfileInfo", "SearchUsers", "UpdateProfile", "Users",
]
