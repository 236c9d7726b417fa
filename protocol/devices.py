"""Frames about one's own sessions (devices) and account: list devices, log some out, change the password, delete
the account (docs/protocol.md 3.8).

Registered in FRAME_TYPES like every frame of protocol/frames.py. Every request here needs a session (after
hello); `REQUESTS` is what protocol/session.py adds to its session frames.
"""

from __future__ import annotations

from dataclasses import dataclass

from chatd.protocol.frames import UUID_RE, Frame, frame, req_id
from chatd.protocol.schema import bounded

MAX_PASSWORD = 256


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    """One signed-in device: what signup or login called it (`device`), when, and when it was last seen."""

    device: str = bounded(pattern=UUID_RE)
    created_ts: int = bounded(min=0)  # milliseconds since the Unix epoch
    last_seen_ts: int = bounded(min=0)  # hello, auth, refresh or an HTTP request (at most once a minute)
    current: bool = False  # the device of the connection asking
    name: str | None = bounded(max_len=64, default=None)


@frame("list_devices")
@dataclass(frozen=True, slots=True)
class ListDevices(Frame):
    id: int = req_id()


@frame("devices")
@dataclass(frozen=True, slots=True)
class Devices(Frame):
    id: int = req_id()
    devices: list[DeviceInfo] = bounded(max_len=1000)


@frame("logout_devices")
@dataclass(frozen=True, slots=True)
class LogoutDevices(Frame):
    """Sign devices out: `device` (one, possibly this one) or `others: true` (every device but this one)."""

    id: int = req_id()
    device: str | None = bounded(pattern=UUID_RE, default=None)
    others: bool | None = None


@frame("logged_out")
@dataclass(frozen=True, slots=True)
class LoggedOut(Frame):
    id: int = req_id()
    devices: list[str] = bounded(max_len=1000)  # the device ids signed out now


@frame("change_password")
@dataclass(frozen=True, slots=True)
class ChangePassword(Frame):
    """Every other device is signed out; this one stays."""

    id: int = req_id()
    old_password: str = bounded(min_len=1, max_len=MAX_PASSWORD)
    new_password: str = bounded(min_len=1, max_len=MAX_PASSWORD)


@frame("delete_account")
@dataclass(frozen=True, slots=True)
class DeleteAccount(Frame):
    id: int = req_id()
    password: str = bounded(min_len=1, max_len=MAX_PASSWORD)


REQUESTS: frozenset[type[Frame]] = frozenset({ListDevices, LogoutDevices, ChangePassword, DeleteAccount})

__all__ = ["REQUESTS", "ChangePassword", "DeleteAccount", "DeviceInfo", "Devices", "ListDevices", "LoggedOut",
           "LogoutDevices"]
