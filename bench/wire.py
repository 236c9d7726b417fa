"""The msgpack side of the load client: packing frames and the bench message body (kind|t_send|n).

The body carries the time the message was due to be sent (time.monotonic(), which is one clock for
every process on the machine), so a receiver in any worker process can compute the end-to-end latency.
"""

from __future__ import annotations

from typing import Any

import msgpack

# body kinds: what the message is for, so a receiver knows whether it counts towards a latency figure
FANOUT = "f"
PING = "p"
PONG = "r"
FILL = "b"  # backlog / history fill
KINDS = frozenset({FANOUT, PING, PONG, FILL})


def pack(frame: dict[str, Any]) -> bytes:
    return msgpack.packb(frame, use_bin_type=True)


def pack_bundle(frames: list[dict[str, Any]]) -> bytes:
    """Several frames in one websocket message (protocol version 2): a msgpack array of frame maps."""
    return msgpack.packb(frames, use_bin_type=True)


def unpack(data: bytes | str) -> list[dict[str, Any]]:
    """The frames of one websocket message: one map, or a bundle (an array of maps, protocol version 2)."""
    if isinstance(data, str):
        raise ValueError("text frame from the server")
    obj = msgpack.unpackb(data, raw=False, strict_map_key=False)
    frames = obj if isinstance(obj, list) else [obj]
    if not all(isinstance(fr, dict) for fr in frames):
        raise ValueError("frame is not a map")
    return frames


def body(kind: str, due: float, n: int) -> str:
    return f"{kind}|{due:.6f}|{n}"


def parse_body(text: object) -> tuple[str, float] | None:
    """(kind, due time) of a bench body; None for anything else."""
    if not isinstance(text, str) or len(text) < 3 or text[1] != "|" or text[0] not in KINDS:
        return None
    try:
        return text[0], float(text[2:text.index("|", 2)])
    except ValueError:
        return None
