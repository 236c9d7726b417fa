"""Wire protocol: typed frames, msgpack codec and the connection state machine.

Pure: no I/O, no trio, no database. ``decode`` never raises on client input; it returns a
``Refusal`` that the gateway turns into an ``error`` frame. See docs/protocol.md.
"""

from chatd.protocol import devices as devices  # registers the frames of protocol/devices.py
from chatd.protocol import people as people  # registers the frames of protocol/people.py
from chatd.protocol import qr as qr  # registers the frames of protocol/qr.py
from chatd.protocol.codec import bundle, decode, decode_bundle, encode
from chatd.protocol.errors import CloseCode, ErrorCode, Refusal
from chatd.protocol.frames import *  # noqa: F403
from chatd.protocol.frames import FRAME_TYPES, PROTOCOL_VERSION, SUPPORTED_VERSIONS, Frame
from chatd.protocol.session import Session, SessionState

__all__ = [  # noqa: RUF022
    "bundle", "decode", "decode_bundle", "encode", "CloseCode", "ErrorCode", "Refusal", "FRAME_TYPES",
    "PROTOCOL_VERSION", "SUPPORTED_VERSIONS", "Frame", "Session", "SessionState",
]
