"""Frames about people: profiles with per-field visibility, user search, presence (docs/protocol.md section 7).

Registered in FRAME_TYPES like every frame of protocol/frames.py. Every request here needs a session
(after hello); `REQUESTS` is what protocol/session.py adds to its session frames.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from chatd.protocol.frames import USER_REF_BOUNDS, Frame, UserRef, frame, req_id
from chatd.protocol.schema import bounded

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


def _visibility(min_len: int = 0) -> Any:
    return bounded(min_len=min_len, max_len=len(PROFILE_FIELDS), default=None)


@dataclass(frozen=True, slots=True)
class ProfileInfo:
    """What the asker may see of a user. Hidden or unset fields are left out."""

    user: int = bounded(min=1)
    username: str = bounded(max_len=32)  # always visible
    display_name: str | None = bounded(max_len=MAX_DISPLAY_NAME, default=None)
    about: str | None = bounded(max_len=MAX_ABOUT, default=None)
    avatar: str | None = bounded(max_len=MAX_AVATAR, default=None)
    online: bool | None = None  # follows last_seen's visibility; left out when presence is unknown
    last_seen: int | None = bounded(min=0, default=None)  # ms since the epoch; only while offline
    visibility: dict[ProfileField, Level] | None = _visibility()  # your own profile only: every field's level


@dataclass(frozen=True, slots=True)
class PresenceInfo:
    user: int = bounded(min=1)
    online: bool | None = None  # left out (with last_seen) when the user's last_seen is hidden from you
    last_seen: int | None = bounded(min=0, default=None)  # ms since the epoch; offline users seen before


@frame("update_profile")
@dataclass(frozen=True, slots=True)
class UpdateProfile(Frame):
    """Change your profile; fields left out stay, "" clears a text field. Reply `profile` (your own)."""

    id: int = req_id()
    display_name: str | None = bounded(max_len=MAX_DISPLAY_NAME, default=None)
    about: str | None = bounded(max_len=MAX_ABOUT, default=None)
    avatar: str | None = bounded(max_len=MAX_AVATAR, default=None)
    visibility: dict[ProfileField, Level] | None = _visibility(min_len=1)


@frame("get_profile")
@dataclass(frozen=True, slots=True)
class GetProfile(Frame):
    """A user's profile as you may see it (your own when `user` is left out). Reply `profile`."""

    id: int = req_id()
    user: UserRef | None = bounded(**USER_REF_BOUNDS, default=None)


@frame("profile")
@dataclass(frozen=True, slots=True)
class Profile(Frame):
    id: int = req_id()
    profile: ProfileInfo = bounded()


@frame("search_users")
@dataclass(frozen=True, slots=True)
class SearchUsers(Frame):
    """Users whose username starts with `query` (ignoring case), in username order. Reply `users`."""

    id: int = req_id()
    query: str = bounded(min_len=1, max_len=32)
    limit: int = bounded(min=1, max=MAX_SEARCH_RESULTS, default=MAX_SEARCH_RESULTS)


@frame("users")
@dataclass(frozen=True, slots=True)
class Users(Frame):
    id: int = req_id()
    users: list[ProfileInfo] = bounded(max_len=MAX_SEARCH_RESULTS)


@frame("get_presence")
@dataclass(frozen=True, slots=True)
class GetPresence(Frame):
    """Whether these users are online, or when they were last seen. Reply `presence`."""

    id: int = req_id()
    users: list[int] = bounded(min_len=1, max_len=MAX_PRESENCE_USERS, items={"min": 1})


@frame("presence")
@dataclass(frozen=True, slots=True)
class Presence(Frame):
    id: int = req_id()
    users: list[PresenceInfo] = bounded(max_len=MAX_PRESENCE_USERS)


@frame("presence_changed")
@dataclass(frozen=True, slots=True)
class PresenceChanged(Frame):
    """Server push to the online contacts allowed to see it: `user`'s first device came or last one went."""

    user: int = bounded(min=1)
    online: bool = False
    last_seen: int | None = bounded(min=0, default=None)  # when going offline: ms since the epoch


REQUESTS: frozenset[type[Frame]] = frozenset({UpdateProfile, GetProfile, SearchUsers, GetPresence})

__all__ = [
    "DEFAULT_VISIBILITY", "MAX_ABOUT", "MAX_AVATAR", "MAX_DISPLAY_NAME", "MAX_PRESENCE_USERS", "MAX_SEARCH_RESULTS",
    "PROFILE_FIELDS", "REQUESTS", "GetPresence", "GetProfile", "Level", "Presence", "PresenceChanged", "PresenceInfo",
    "Profile", "ProfileField", "ProfileInfo", "SearchUsers", "UpdateProfile", "Users",
]
