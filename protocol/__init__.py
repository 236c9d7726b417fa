"""Wire protocol: typed frames, msgpack codec and the connection state machine.

Pure: no I/O, no trio, no database. ``decode`` never raises on client input; it returns a
``ProtocolError`` that the gateway turns into an ``error`` frame. See docs/protocol.md.
"""

from protocol import devices as devices  # registers the frames of protocol/devices.py
from protocol import people as people  # registers the frames of protocol/people.py
from protocol import qr as qr  # registers the frames of protocol/qr.py
from protocol.codec import bundle, decode, decode_bundle, encode
from protocol.errors import ErrorCode, ProtocolError
from protocol.frames import *  # noqa: F403
from protocol.frames import FRAME_TYPES, PROTOCOL_VERSION, SUPPORTED_VERSIONS, Frame
from protocol.session import Session, SessionState

__all__ = [  # noqa: RUF022
    "bundle", "decode", "decode_bundle", "encode", "ErrorCode", "ProtocolError", "FRAME_TYPES", "PROTOCOL_VERSION",
    "SUPPORTED_VERSIONS", "Frame", "Session", "SessionState",
]
