"""Frames about one's own sessions (devices) and account: list devices, log some out, change the password, delete
the account (docs/protocol.md 3.8).

Registered in FRAME_TYPES like every frame of protocol/frames.py. Every request here needs a session (after
hello); `REQUESTS` is what protocol/session.py adds to its session frames.
"""

from __future__ import annotations

from typing import Annotated

from chatd.protocol.frames import UUID_RE, Frame, Nat, ReqId, frame
from chatd.protocol.schema import Record, always, size, text

MAX_PASSWORD = 256


class DeviceInfo(Record, frozen=True):
    """One signed-in device: what signup or login called it (`device`), when, and when it was last seen."""

    device: Annotated[str, text(pattern=UUID_RE)]
    created_ts: Nat  # milliseconds since the Unix epoch
    last_seen_ts: Nat  # hello, auth, refresh or an HTTP request (at most once a minute)
    current: bool = always(False)  # the device of the connection asking
    name: Annotated[str, text(max_len=64)] | None = None


@frame
class ListDevices(Frame, frozen=True, tag="list_devices"):
    id: ReqId


@frame
class Devices(Frame, frozen=True, tag="devices"):
    id: ReqId
    devices: Annotated[list[DeviceInfo], size(max_len=1000)]


@frame
class LogoutDevices(Frame, frozen=True, tag="logout_devices"):
    """Sign devices out: `device` (one, possibly this one) or `others: true` (every device but this one)."""

    id: ReqId
    device: Annotated[str, text(pattern=UUID_RE)] | None = None
    others: bool | None = None


@frame
class LoggedOut(Frame, frozen=True, tag="logged_out"):
    id: ReqId
    devices: Annotated[list[Annotated[str, text()]], size(max_len=1000)]  # the device ids signed out now


@frame
class ChangePassword(Frame, frozen=True, tag="change_password"):
    """Every other device is signed out; this one stays."""

    id: ReqId
    old_password: Annotated[str, text(min_len=1, max_len=MAX_PASSWORD)]
    new_password: Annotated[str, text(min_len=1, max_len=MAX_PASSWORD)]


@frame
class DeleteAccount(Frame, frozen=True, tag="delete_account"):
    id: ReqId
    password: Annotated[str, text(min_len=1, max_len=MAX_PASSWORD)]


REQUESTS: frozenset[type[Frame]] = frozenset({ListDevices, LogoutDevices, ChangePassword, DeleteAccount})

__all__ = ["REQUESTS", "ChangePassword", "DeleteAccount", "DeviceInfo", "Devices", "ListDevices", "LoggedOut",
           "LogoutDevices"]
