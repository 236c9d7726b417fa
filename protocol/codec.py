"""msgpack encoding of frames. ``decode`` turns any bytes into a frame or a ProtocolError, never raises."""

from __future__ import annotations

from typing import Any

import msgpack

from protocol.errors import ErrorCode, ProtocolError
from protocol.frames import FRAME_TYPES, MAX_ID, Frame
from protocol.schema import SchemaError, build, unbuild

DEFAULT_MAX_FRAME_BYTES = 64 * 1024


def encode(frame: Frame) -> bytes:
    body: dict[str, Any] = {"t": frame.type}
    body.update(unbuild(frame))
    return msgpack.packb(body, use_bin_type=True)


def decode(data: bytes | str, max_bytes: int = DEFAULT_MAX_FRAME_BYTES) -> Frame | ProtocolError:
    if isinstance(data, str):
        return ProtocolError(ErrorCode.BAD_REQUEST,
                             "text frames are not accepted: send msgpack in binary websocket frames")
    if len(data) > max_bytes:
        return ProtocolError(ErrorCode.TOO_LARGE,
                             f"frame is {len(data)} bytes; the limit is {max_bytes} bytes")
    try:
        obj = msgpack.unpackb(data, raw=False, strict_map_key=False, use_list=True)
    except Exception as exc:  # the C unpacker raises several types for broken input
        return ProtocolError(ErrorCode.BAD_REQUEST, f"malformed msgpack: {type(exc).__name__}")
    if not isinstance(obj, dict):
        return ProtocolError(ErrorCode.BAD_REQUEST, "a frame must be a msgpack map")
    raw_id = obj.get("id")
    req_id = raw_id if isinstance(raw_id, int) and not isinstance(raw_id, bool) and \
        0 <= raw_id <= MAX_ID else None
    kind = obj.get("t")
    if not isinstance(kind, str):
        return ProtocolError(ErrorCode.BAD_REQUEST, "frame has no string field 't' (the frame type)", req_id)
    cls = FRAME_TYPES.get(kind)
    if cls is None:
        return ProtocolError(ErrorCode.BAD_REQUEST, f"unknown frame type {kind[:40]!r}", req_id)
    try:
        return build(cls, {k: v for k, v in obj.items() if k != "t"})  # type: ignore[no-any-return]
    except SchemaError as exc:
        return ProtocolError(ErrorCode.BAD_REQUEST, f"{kind}: {exc}", req_id)
