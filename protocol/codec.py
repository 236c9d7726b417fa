"""msgpack encoding of frames. ``decode`` and ``decode_bundle`` turn any bytes into frames or Refusals,
never raise. Since protocol version 2 a websocket message may carry a bundle: an array of frame maps.

A well-formed frame costs one msgspec call: the decoder over the union of frame types picks the class by `t`
and checks every bound on the way (protocol/schema.py). Only a refused frame is read a second time, to find
the request id to echo and to word the error as docs/protocol.md 3.7 has it.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, TypeVar

import msgspec

from chatd.protocol.errors import ErrorCode, Refusal
from chatd.protocol.frames import FRAME_TYPES, MAX_ID, Frame, Message, Msgs
from chatd.protocol.schema import SchemaError, problem

DEFAULT_MAX_FRAME_BYTES = 64 * 1024
MAX_BUNDLE_FRAMES = 64  # frames in one websocket message (protocol version 2, docs/protocol.md)

_encoder = msgspec.msgpack.Encoder()
_encode = _encoder.encode


def encode(frame: Frame) -> bytes:
    if type(frame) is Msgs:
        return _encode_msgs(frame)
    return _encode(frame)


_MSGS_HEAD = b"\x83" + b"".join(_encode(v) for v in ("t", "msgs", "messages"))  # t, messages and backlog, in
_BACKLOG = _encode("backlog")                                                   # the order of Msgs' fields
_PACKED: dict[int, tuple[Message, bytes]] = {}  # id(message) -> (message, its msgpack): encoded once, sent to many
_PACKED_MAX_BYTES = 8 << 20  # what the memo may hold (messages and their bytes: about twice this)
_packed_bytes = 0


def _encode_msgs(frame: Msgs) -> bytes:
    """A `msgs` frame, byte for byte what the generic path makes, with each live Message packed once per
    process: a message fanned out to a hundred members is encoded once, not a hundred times. Backlog batches
    (read from Postgres for one device) are packed as they come, and never fill the memo."""
    pack = _encode if frame.backlog else _packed
    parts = [pack(m) for m in frame.messages]
    return b"".join((_MSGS_HEAD, _array_header(len(parts)), *parts, _BACKLOG, b"\xc3" if frame.backlog else b"\xc2"))


def _packed(message: Message) -> bytes:
    global _packed_bytes
    hit = _PACKED.get(id(message))
    if hit is not None and hit[0] is message:
        return hit[1]
    data = _encode(message)
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


def decode(data: bytes | str, max_bytes: int = DEFAULT_MAX_FRAME_BYTES) -> Frame | Refusal:
    """One frame from one websocket message, for clients of version 1; a bundle is refused here. The server
    reads every client's messages with `decode_bundle` (a version 1 client never sends one)."""
    refused = _refuse_unread(data, max_bytes)
    if refused is not None or isinstance(data, str):
        return refused or _TEXT
    decoders = _decoders(None)
    try:
        return decoders.frame.decode(data)  # type: ignore[no-any-return]
    except msgspec.ValidationError as exc:
        return _refusal(data, decoders, exc, "a frame must be a msgpack map")
    except (ValueError, TypeError, RecursionError) as exc:  # msgspec.DecodeError, and nesting past its limit
        return _malformed(exc)


def decode_bundle(data: bytes | str, max_bytes: int = DEFAULT_MAX_FRAME_BYTES,
                  accept: Collection[type[Frame]] | None = None) -> list[Frame | Refusal]:
    """The frames of one websocket message, in order: one frame (a map), or a bundle (an array of up to
    MAX_BUNDLE_FRAMES maps, each decoded on its own: a bad one does not spoil the others).

    `accept`: the frame types this side may receive (the server: what clients send); any other type is
    refused unread, echoing the request id the map carries (a server frame such as `msgs` has no `id`
    field, so the id would be lost once the frame is built)."""
    refused = _refuse_unread(data, max_bytes)
    if refused is not None or isinstance(data, str):
        return [refused or _TEXT]
    decoders = _decoders(accept)
    try:
        decoded = decoders.message.decode(data)
    except msgspec.ValidationError as exc:
        return [_refusal(data, decoders, exc, "a message must be a msgpack map (a frame) or an array of maps "
                                              "(a bundle of frames)")]
    except (ValueError, TypeError, RecursionError) as exc:
        return [_malformed(exc)]
    if not isinstance(decoded, list):
        return [decoded]
    if not decoded or len(decoded) > MAX_BUNDLE_FRAMES:
        return [Refusal(ErrorCode.BAD_REQUEST, f"a bundle holds 1 to {MAX_BUNDLE_FRAMES} frames, "
                                                     f"this one {len(decoded)}")]
    return [_item(raw, i, decoders) for i, raw in enumerate(decoded)]


def _item(raw: msgspec.Raw, i: int, decoders: _Decoders) -> Frame | Refusal:
    try:
        return decoders.frame.decode(raw)  # type: ignore[no-any-return]
    except msgspec.ValidationError as exc:
        return _refusal(raw, decoders, exc, f"bundle item {i} is not a msgpack map")
    except (ValueError, TypeError, RecursionError) as exc:  # the array was read past its items' insides
        return _malformed(exc)


_TEXT = Refusal(ErrorCode.BAD_REQUEST, "text frames are not accepted: send msgpack in binary websocket frames")


def _refuse_unread(data: bytes | str, max_bytes: int) -> Refusal | None:
    if isinstance(data, str):
        return _TEXT
    if len(data) > max_bytes:
        return Refusal(ErrorCode.TOO_LARGE, f"frame is {len(data)} bytes; the limit is {max_bytes} bytes")
    return None


def _malformed(exc: BaseException) -> Refusal:
    return Refusal(ErrorCode.BAD_REQUEST, f"malformed msgpack: {str(exc)[:200] or type(exc).__name__}")


class _Decoders:
    """The decoders for one set of acceptable frame types: `frame` reads one frame map, `message` a frame or a
    bundle (an array whose items stay undecoded until each is decoded on its own)."""

    def __init__(self, accept: frozenset[type[Frame]]) -> None:
        self.accept = accept
        union: Any = _union(sorted(accept, key=lambda cls: cls.type))
        self.frame = msgspec.msgpack.Decoder(union)
        self.message = msgspec.msgpack.Decoder(union | list[msgspec.Raw])


_DECODERS: dict[frozenset[type[Frame]] | None, _Decoders] = {}


def _decoders(accept: Collection[type[Frame]] | None) -> _Decoders:
    key = frozenset(accept) if accept is not None and not isinstance(accept, frozenset) else accept
    found = _DECODERS.get(key)
    if found is None or (key is None and len(found.accept) != len(FRAME_TYPES)):  # a frame module came later
        found = _DECODERS[key] = _Decoders(frozenset(FRAME_TYPES.values()) if key is None else key)
    return found


def _union(types: list[type[Frame]]) -> Any:
    out: Any = types[0]
    for cls in types[1:]:
        out = out | cls
    return out


# --------------------------------------------------------------------------- a refused frame, read again

def _refusal(data: bytes | msgspec.Raw, decoders: _Decoders, exc: msgspec.ValidationError,
             not_a_map: str) -> Refusal:
    """Why the frame in `data` was refused, echoing the id its map holds. Cold path: `data` is read a second
    time, as plain msgpack."""
    try:
        obj = msgspec.msgpack.decode(data)
    except (ValueError, TypeError, RecursionError) as again:  # the typed pass stopped before the bytes went bad
        return _malformed(again)
    if not isinstance(obj, dict):
        return Refusal(ErrorCode.BAD_REQUEST, not_a_map)
    raw_id = obj.get("id")
    req_id = raw_id if isinstance(raw_id, int) and not isinstance(raw_id, bool) and 0 <= raw_id <= MAX_ID else None
    kind = obj.get("t")
    if not isinstance(kind, str):
        return Refusal(ErrorCode.BAD_REQUEST, "frame has no string field 't' (the frame type)", req_id)
    cls = FRAME_TYPES.get(kind)
    if cls is None:
        return Refusal(ErrorCode.BAD_REQUEST, f"unknown frame type {kind[:40]!r}", req_id)
    if cls not in decoders.accept:
        return Refusal(ErrorCode.BAD_REQUEST, f"'{kind}' is sent by the server, not a client", req_id)
    present = {k: v for k, v in obj.items() if isinstance(k, str) and v is not None}
    if len(present) < len(obj):  # nil is absent and keys that are not strings are unknown fields (protocol.md 1)
        try:
            return decoders.frame.decode(msgspec.msgpack.encode(present))  # type: ignore[no-any-return]
        except msgspec.ValidationError as second:
            exc = second
    return Refusal(ErrorCode.BAD_REQUEST, f"{kind}: {problem(cls, exc, present)}", req_id)


# --------------------------------------------------------------------------- plain values (JSON, Redis, caches)

R = TypeVar("R")


def from_builtins(cls: type[R], data: Any) -> R:
    """`data` (decoded JSON or msgpack) as a `cls`, validated like a frame; SchemaError naming the field."""
    try:
        return msgspec.convert(data, cls)
    except msgspec.ValidationError as exc:
        raise SchemaError(problem(cls, exc)) from None


def to_builtins(value: msgspec.Struct) -> dict[str, Any]:
    """A Record as the map it travels as, without a frame's `t` (None fields left out)."""
    out: dict[str, Any] = msgspec.to_builtins(value)
    out.pop("t", None)
    return out
