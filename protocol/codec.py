"""msgpack encoding of frames. ``decode`` and ``decode_bundle`` turn any bytes into frames or ProtocolErrors,
never raise. Since protocol version 2 a websocket message may carry a bundle: an array of frame maps."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import msgpack

from chatd.protocol.errors import ErrorCode, ProtocolError
from chatd.protocol.frames import FRAME_TYPES, MAX_ID, Frame, Message, Msgs
from chatd.protocol.schema import SchemaError, build, unbuild

DEFAULT_MAX_FRAME_BYTES = 64 * 1024
MAX_BUNDLE_FRAMES = 64  # frames in one websocket message (protocol version 2, docs/protocol.md)


def encode(frame: Frame) -> bytes:
    if type(frame) is Msgs:
        return _encode_msgs(frame)
    return msgpack.packb(_body(frame), use_bin_type=True)


_MSGS_HEAD = b"\x83" + b"".join(msgpack.packb(v) for v in ("t", "msgs", "messages"))  # a map of 3: t, messages,
_BACKLOG = msgpack.packb("backlog")                                                  # backlog (as unbuild has it)
_PACKED: dict[int, tuple[Message, bytes]] = {}  # id(message) -> (message, its msgpack): encoded once, sent to many
_PACKED_MAX_BYTES = 8 << 20  # what the memo may hold (messages and their bytes: about twice this)
_packed_bytes = 0


def _encode_msgs(frame: Msgs) -> bytes:
    """A `msgs` frame, byte for byte what the generic path makes, with each live Message packed once per
    process: a message fanned out to a hundred members is encoded once, not a hundred times. Backlog batches
    (read from Postgres for one device) are packed as they come, and never fill the memo."""
    pack = _pack if frame.backlog else _packed
    parts = [pack(m) for m in frame.messages]
    return b"".join((_MSGS_HEAD, _array_header(len(parts)), *parts, _BACKLOG, b"\xc3" if frame.backlog else b"\xc2"))


def _pack(message: Message) -> bytes:
    return msgpack.packb(unbuild(message), use_bin_type=True)  # type: ignore[no-any-return]


def _packed(message: Message) -> bytes:
    global _packed_bytes
    hit = _PACKED.get(id(message))
    if hit is not None and hit[0] is message:
        return hit[1]
    data = _pack(message)
    while _PACKED and _packed_bytes + len(data) > _PACKED_MAX_BYTES:
        _packed_bytes -= len(_PACKED.pop(next(iter(_PACKED)))[1])  # the oldest (dicts keep insertion order)
    _PACKED[id(message)] = (message, data)  # holding the message keeps its id from being reused
    _packed_bytes += len(data)
    return data


def _array_header(n: int) -> bytes:
    return bytes([0x90 | n]) if n < 16 else b"\xdc" + n.to_bytes(2, "big")


def bundle(encoded: list[bytes]) -> bytes:
    """Several encoded frames as one websocket message: a msgpack array of frame maps (version 2)."""
    return _array_header(len(encoded)) + b"".join(encoded)


def _body(frame: Frame) -> dict[str, Any]:
    body: dict[str, Any] = {"t": frame.type}
    body.update(unbuild(frame))
    return body


def decode(data: bytes | str, max_bytes: int = DEFAULT_MAX_FRAME_BYTES) -> Frame | ProtocolError:
    """One frame from one websocket message, for clients of version 1; a bundle is refused here. The server
    reads every client's messages with `decode_bundle` (a version 1 client never sends one)."""
    obj = _unpack(data, max_bytes)
    if isinstance(obj, ProtocolError):
        return obj
    if not isinstance(obj, dict):
        return ProtocolError(ErrorCode.BAD_REQUEST, "a frame must be a msgpack map")
    return _frame(obj)


def decode_bundle(data: bytes | str, max_bytes: int = DEFAULT_MAX_FRAME_BYTES,
                  accept: Collection[type[Frame]] | None = None) -> list[Frame | ProtocolError]:
    """The frames of one websocket message, in order: one frame (a map), or a bundle (an array of up to
    MAX_BUNDLE_FRAMES maps, each decoded on its own: a bad one does not spoil the others).

    `accept`: the frame types this side may receive (the server: what clients send); any other type is
    refused unread, echoing the request id the map carries (a server frame such as `msgs` has no `id`
    field, so the id would be lost once the frame is built)."""
    obj = _unpack(data, max_bytes)
    if isinstance(obj, ProtocolError):
        return [obj]
    if isinstance(obj, dict):
        return [_frame(obj, accept)]
    if not isinstance(obj, list):
        return [ProtocolError(ErrorCode.BAD_REQUEST, "a message must be a msgpack map (a frame) or an array of "
                                                     "maps (a bundle of frames)")]
    if not obj or len(obj) > MAX_BUNDLE_FRAMES:
        return [ProtocolError(ErrorCode.BAD_REQUEST, f"a bundle holds 1 to {MAX_BUNDLE_FRAMES} frames, "
                                                     f"this one {len(obj)}")]
    return [_frame(item, accept) if isinstance(item, dict) else
            ProtocolError(ErrorCode.BAD_REQUEST, f"bundle item {i} is not a msgpack map") for i, item in enumerate(obj)]


def _unpack(data: bytes | str, max_bytes: int) -> Any:
    if isinstance(data, str):
        return ProtocolError(ErrorCode.BAD_REQUEST,
                             "text frames are not accepted: send msgpack in binary websocket frames")
    if len(data) > max_bytes:
        return ProtocolError(ErrorCode.TOO_LARGE,
                             f"frame is {len(data)} bytes; the limit is {max_bytes} bytes")
    try:
        return msgpack.unpackb(data, raw=False, strict_map_key=False, use_list=True)
    except Exception as exc:  # the C unpacker raises several types for broken input
        return ProtocolError(ErrorCode.BAD_REQUEST, f"malformed msgpack: {type(exc).__name__}")


def _frame(obj: dict[Any, Any], accept: Collection[type[Frame]] | None = None) -> Frame | ProtocolError:
    raw_id = obj.get("id")
    req_id = raw_id if isinstance(raw_id, int) and not isinstance(raw_id, bool) and \
        0 <= raw_id <= MAX_ID else None
    kind = obj.get("t")
    if not isinstance(kind, str):
        return ProtocolError(ErrorCode.BAD_REQUEST, "frame has no string field 't' (the frame type)", req_id)
    cls = FRAME_TYPES.get(kind)
    if cls is None:
        return ProtocolError(ErrorCode.BAD_REQUEST, f"unknown frame type {kind[:40]!r}", req_id)
    if accept is not None and cls not in accept:
        return ProtocolError(ErrorCode.BAD_REQUEST, f"'{kind}' is sent by the server, not a client", req_id)
    try:
        return build(cls, {k: v for k, v in obj.items() if k != "t"})  # type: ignore[no-any-return]
    except SchemaError as exc:
        return ProtocolError(ErrorCode.BAD_REQUEST, f"{kind}: {exc}", req_id)
