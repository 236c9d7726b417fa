"""Protocol fuzzing: the decoder never raises, and a live server shrugs off a storm of bad frames.

Part 1 runs hypothesis against the pure codec (``protocol.decode`` / ``protocol.encode``). The strategies
are built from the frame Structs themselves (their annotations and the msgspec ``Meta`` bounds in them, read
here independently of how protocol/codec.py uses them), so every frame type in ``FRAME_TYPES`` is covered,
including ones added later:

- arbitrary bytes, mutated and truncated encodings, and text never raise;
- arbitrary msgpack maps (recursive values, valid or unknown ``t``, extra, missing and wrong-typed fields,
  good and bad ids) give a Frame or an error whose message names what was wrong and echoes a readable id;
- every valid frame of every type survives ``decode(encode(frame)) == frame``;
- every declared bound is enforced: one out-of-bounds field gives ``bad_request`` naming that field;
- oversized input is ``too_large`` and text is ``bad_request``.

``CHAT_FUZZ_EXAMPLES`` (default 200) scales the number of examples for a longer session.

Part 2 sends a few hundred random and malformed frames (seeded ``random.Random``: reproducible with
``CHAT_FUZZ_SEED``) from an authenticated and from an unauthenticated connection to a real node, and checks
what a client sees: each frame with a readable id gets exactly one reply (the very error the decoder and
the session state machine predict for bad ones), the connection stays usable, the other member of the room
gets every message once and in order, and no actor crashed or restarted.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import logging
import math
import os
import random
import re
import types
import typing
import uuid
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import msgpack
import msgspec
import pytest
import trio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chatd.clients.ws import ChatClient
from chatd.gateway.registry import ROUTES
from chatd.node import Node
from chatd.protocol import FRAME_TYPES, ErrorCode, Refusal, Session, bundle, decode, decode_bundle, encode
from chatd.protocol import frames as f
from chatd.protocol.frames import MAX_ID
from chatd.protocol.schema import INT64_MAX, SchemaError, unanchored
from chatd.protocol.session import CLIENT_FRAMES
from tests.conftest import Backing, People, Person, make_config, start_node

HUGE = 1 << 26  # a max_bytes no generated frame reaches, where the size limit is not under test
EXAMPLES = int(os.environ.get("CHAT_FUZZ_EXAMPLES", "200"))  # raise it for a long fuzzing session
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
PER_TYPE = settings(max_examples=max(15, EXAMPLES // 13), deadline=None, suppress_health_check=[HealthCheck.too_slow])
KINDS = sorted(FRAME_TYPES)
CLIENT_KINDS = sorted(cls.type for cls in CLIENT_FRAMES)
SERVER_KINDS = sorted(set(KINDS) - set(CLIENT_KINDS))
ERROR_CODES = {c.value for c in ErrorCode}


# ============================================================================ the schema, read from the frames


@dataclasses.dataclass(frozen=True)
class Field:
    name: str
    tp: Any
    meta: Mapping[str, Any]
    needs_value: bool  # the dataclass has no default for it
    required: bool  # leaving it out of a frame (or sending nil) is an error


def is_union(tp: Any) -> bool:
    return get_origin(tp) in (typing.Union, types.UnionType)


def options(tp: Any) -> list[Any]:
    return [a for a in get_args(tp) if a is not type(None)]


def is_optional(tp: Any) -> bool:
    return is_union(tp) and type(None) in get_args(tp)


def is_struct(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, msgspec.Struct)


_FIELDS: dict[Any, tuple[Field, ...]] = {}


def fields_of(cls: Any) -> tuple[Field, ...]:
    if cls in _FIELDS:
        return _FIELDS[cls]
    out = []
    for fd in msgspec.structs.fields(cls):
        tp, meta = split(fd.type)
        out.append(Field(fd.name, tp, meta, fd.required, fd.required and not is_optional(tp)))
    _FIELDS[cls] = tuple(out)
    return _FIELDS[cls]


def split(tp: Any) -> tuple[Any, dict[str, Any]]:
    """A field's type without its msgspec bounds, and the bounds: `min`/`max` (numbers), `min_len`/`max_len`,
    `pattern` (strings; compiled, for a whole match; none for the NUL check every string has), and those of a
    list's `items` and a map's `keys` and `values`."""
    meta: dict[str, Any] = {}
    if get_origin(tp) is Annotated:
        tp, *extras = get_args(tp)
        for m in extras:
            if isinstance(m, msgspec.Meta):
                meta.update({k: v for k, v in (("min", m.ge), ("max", m.le), ("min_len", m.min_length),
                                               ("max_len", m.max_length)) if v is not None})
                pattern = unanchored(m.pattern) if m.pattern is not None else None
                if pattern is not None:
                    meta["pattern"] = re.compile(pattern)
    if is_union(tp):
        parts = [split(o) for o in get_args(tp)]
        for _, m in parts:
            meta.update(m)  # the int and str bounds of a UserRef do not collide
        return Union[tuple(o for o, _ in parts)], meta  # noqa: UP007 (built from a tuple)
    if get_origin(tp) is list:
        item, meta["items"] = split(get_args(tp)[0])
        return list[item], meta  # type: ignore[valid-type]
    if get_origin(tp) is dict:
        (key, meta["keys"]), (value, meta["values"]) = map(split, get_args(tp))
        return dict[key, value], meta  # type: ignore[valid-type]
    return tp, meta


def int_bounds(meta: Mapping[str, Any]) -> tuple[int, int]:
    return meta.get("min", -INT64_MAX), meta.get("max", INT64_MAX)


def wire(frame: f.Frame) -> dict[Any, Any]:
    """The msgpack map a frame travels as."""
    body = msgpack.unpackb(encode(frame), raw=False, strict_map_key=False)
    assert isinstance(body, dict)
    return body


def plain(value: Any) -> Any:
    """Nested Structs as the maps they travel as (None fields left out)."""
    if isinstance(value, msgspec.Struct):
        return {name: plain(v) for name in value.__struct_fields__ if (v := getattr(value, name)) is not None}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    return value


def pack(value: Any) -> bytes:
    return msgpack.packb(value, use_bin_type=True)  # type: ignore[no-any-return]


def kind_of(value: Any) -> str:
    """The msgpack type of a decoded value."""
    for t, name in ((bool, "bool"), (int, "int"), (float, "float"), (str, "str"), (bytes, "bin"),
                    (list, "array"), (dict, "map")):
        if isinstance(value, t):
            return name
    return "nil" if value is None else "other"


ALL_KINDS = frozenset({"nil", "bool", "int", "float", "str", "bin", "array", "map", "other"})


def accepted_kinds(tp: Any) -> frozenset[str]:
    """The msgpack types a field of type `tp` can take (bounds aside)."""
    if is_union(tp):
        return frozenset().union(*(accepted_kinds(o) for o in options(tp)))
    origin = get_origin(tp)
    if origin is Literal:
        return frozenset(kind_of(a) for a in get_args(tp))
    if is_struct(tp) or origin is dict:
        return frozenset({"map"})
    if origin is list:
        return frozenset({"array"})
    simple = {bool: {"bool"}, int: {"int"}, float: {"int", "float"}, str: {"str"}}
    return ALL_KINDS if tp is Any else frozenset(simple[tp])


WRONG_TYPES: list[Any] = [True, 7, 2.5, "text", b"bytes", [1], {"k": 1}]


def bad_values(tp: Any, meta: Mapping[str, Any]) -> list[Any]:
    """Values a field of type `tp` with bounds `meta` must refuse: each bound broken, and each wrong type."""
    out: list[Any] = []
    for option in options(tp) if is_union(tp) else [tp]:
        out += _broken_bounds(option, meta)
    ok = accepted_kinds(tp)
    return out + [v for v in WRONG_TYPES if kind_of(v) not in ok]


def _broken_bounds(tp: Any, meta: Mapping[str, Any]) -> list[Any]:
    origin = get_origin(tp)
    lo: int
    hi: int | None
    if origin is Literal:
        return ["not-one-of-the-choices"]
    if tp is int:
        least, most = int_bounds(meta)
        return [least - 1, most + 1]  # at most -2**63 and 2**63: still msgpack integers
    if tp is float:
        out = [meta["min"] - 1.0] if "min" in meta else []
        out += [meta["max"] + 1.0] if "max" in meta else []
        return [*out, math.nan] if out else []
    if tp is str:
        lo, hi, pattern = meta.get("min_len", 0), meta.get("max_len"), meta.get("pattern")
        out = ["a" * (lo - 1)] if lo > 0 else []
        out += ["a" * (hi + 1)] if hi is not None else []
        out += ["\x00" * max(lo, 1)] if hi is None or hi >= max(lo, 1) else []  # U+0000: never a valid string
        if pattern is not None:
            misfit = "?" * max(lo, min(3, hi if hi is not None else 3))
            if not pattern.fullmatch(misfit):
                out.append(misfit)
        return out
    if origin is list:
        lo, hi = meta.get("min_len", 0), meta.get("max_len")
        out = [[]] if lo > 0 else []
        out += [[None] * (hi + 1)] if hi is not None and hi <= 20_000 else []
        (item_tp,) = get_args(tp)
        if hi is None or hi >= 1:
            filler = [minimal(item_tp, meta.get("items", {}))] * max(lo - 1, 0)
            out += [[*filler, bad] for bad in bad_values(item_tp, meta.get("items", {}))[:4]]
        return out
    if origin is dict:
        key_tp, val_tp = get_args(tp)
        key_meta, val_meta = meta.get("keys", {}), meta.get("values", {})
        lo, hi = meta.get("min_len", 0), meta.get("max_len")
        out = [{}] if lo > 0 else []
        key, value = minimal(key_tp, key_meta), minimal(val_tp, val_meta)
        out += [{bad: value} for bad in bad_values(key_tp, key_meta)[:4] if _hashable(bad)]
        out += [{key: bad} for bad in bad_values(val_tp, val_meta)[:4]]
        if hi is not None and hi <= 20_000 and kind_of(key) == "int":
            out.append({key + i: value for i in range(hi + 1)})
        elif hi is not None and hi <= 20_000 and kind_of(key) == "str" and get_origin(key_tp) is not Literal:
            out.append({f"{key}{i}": value for i in range(hi + 1)})
        return out
    if is_struct(tp):
        return [{}] if any(fd.required for fd in fields_of(tp)) else []  # type: ignore[arg-type]
    return []


def _hashable(value: Any) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True


def minimal(tp: Any, meta: Mapping[str, Any]) -> Any:
    """One valid value of a field (for padding and for map entries)."""
    if is_union(tp):
        return minimal(options(tp)[0], meta)
    origin = get_origin(tp)
    if origin is Literal:
        return get_args(tp)[0]
    if is_struct(tp):
        return {fd.name: minimal(fd.tp, fd.meta) for fd in fields_of(tp) if fd.required}  # type: ignore[arg-type]
    if origin is list:
        return [minimal(get_args(tp)[0], meta.get("items", {}))] * meta.get("min_len", 0)
    if origin is dict:
        return {}
    if tp is bool:
        return False
    if tp is int:
        lo, hi = int_bounds(meta)
        return min(max(1, lo), hi)
    if tp is float:
        return float(meta.get("min", 0.0))
    if tp is str:
        return pattern_example(meta) if "pattern" in meta else "a" * max(1, meta.get("min_len", 0))
    return 0


def names_field(message: str, name: str) -> bool:
    """Whether an error message points at field `name` (or something inside it)."""
    return re.search(rf"field '{re.escape(name)}(?:'|\[|\.| key)", message) is not None


def assert_error_is_sendable(err: Refusal) -> None:
    """The gateway turns the error into an `error` frame: that frame must itself be a valid frame."""
    assert err.code in ErrorCode and err.message
    frame = f.Error(code=err.code.value, message=err.message, id=err.id, retry_after=err.retry_after)
    assert decode(encode(frame), HUGE) == frame, err


def assert_well_formed(result: f.Frame | Refusal) -> None:
    assert isinstance(result, f.Frame | Refusal), result
    if isinstance(result, Refusal):
        assert_error_is_sendable(result)
    else:  # what decoded re-encodes to itself (bytes compared: a nan in an `Any` field is not == itself)
        again = decode(encode(result), HUGE)
        assert isinstance(again, f.Frame) and encode(again) == encode(result)


def expected_id(body: Mapping[Any, Any]) -> int | None:
    """The id an error about this map must echo: an integer `id` from 0 to 2^53-1, else none."""
    raw = body.get("id")
    return raw if isinstance(raw, int) and not isinstance(raw, bool) and 0 <= raw <= MAX_ID else None


# ============================================================================ hypothesis strategies

NO_NUL = st.characters(codec="utf-8", exclude_characters="\x00")  # strings may hold any character but U+0000
SIMPLE_PATTERN = re.compile(r"\[(?P<chars>[^\]]+)\](?:\{(?P<lo>\d+),(?P<hi>\d+)\}|(?P<plus>\+))")


def sample_matching(rng: random.Random, pattern: re.Pattern[str], lo: int, hi: int | None) -> str | None:
    """A random string fully matching a pattern made of character classes with counts and literal characters
    (all the frames use), within lo..hi characters; None for other patterns."""
    out = []
    for m in re.finditer(r"\[([^\]]+)\](?:\{(\d+)(?:,(\d+))?\}|(\+))?|(.)", pattern.pattern):
        if m[5] is not None:
            out.append(m[5])
            continue
        chars = [c for c in map(chr, range(32, 127)) if re.fullmatch(f"[{m[1]}]", c)]
        qlo = int(m[2]) if m[2] else 1
        qhi = int(m[3]) if m[3] else (qlo if m[2] else (64 if m[4] else 1))
        if m[4]:  # `+`: aim inside the length bounds
            qlo, qhi = max(qlo, lo), max(max(qlo, lo), min(qhi, hi if hi is not None else qhi))
        out.append("".join(rng.choices(chars, k=rng.randint(qlo, qhi))))
    s = "".join(out)
    return s if pattern.fullmatch(s) and lo <= len(s) <= (hi if hi is not None else 1 << 20) else None


@functools.cache
def _pattern_example(pattern: str, lo: int, hi: int) -> str:
    found = sample_matching(random.Random(0), re.compile(pattern), lo, hi)
    if found is not None:
        return found
    from hypothesis import find  # a pattern of another shape: slower, but still one valid example

    return find(st.from_regex(pattern, fullmatch=True), lambda s: lo <= len(s) <= hi)


def pattern_example(meta: Mapping[str, Any]) -> str:
    return _pattern_example(meta["pattern"].pattern, meta.get("min_len", 0), meta.get("max_len") or 1 << 20)


def text_strategy(meta: Mapping[str, Any]) -> st.SearchStrategy[str]:
    lo, hi = meta.get("min_len", 0), meta.get("max_len")
    cap = lo + 40 if hi is None else min(hi, lo + 40)
    pattern = meta.get("pattern")
    if pattern is None:
        return st.text(NO_NUL, min_size=lo, max_size=cap)
    simple = SIMPLE_PATTERN.fullmatch(pattern.pattern)
    if simple:
        chars = st.from_regex(f"[{simple['chars']}]", fullmatch=True)
        qlo, qhi = (int(simple["lo"]), int(simple["hi"])) if simple["lo"] else (1, cap)
        return st.text(chars, min_size=max(lo, qlo), max_size=max(max(lo, qlo), min(cap, qhi)))
    return st.from_regex(pattern, fullmatch=True).filter(lambda s: lo <= len(s) <= (hi if hi is not None else 1 << 20))


def _sizes(meta: Mapping[str, Any]) -> tuple[int, int]:
    lo = meta.get("min_len", 0)
    return lo, max(lo, min(meta.get("max_len", lo + 4), lo + 4))


def valid_values(tp: Any, meta: Mapping[str, Any]) -> st.SearchStrategy[Any]:
    """Every value the schema must accept for a field (sizes capped to keep examples small)."""
    if is_union(tp):
        inner = st.one_of([valid_values(o, meta) for o in options(tp)])
        return st.none() | inner if is_optional(tp) else inner
    origin = get_origin(tp)
    if origin is Literal:
        return st.sampled_from(get_args(tp))
    if is_struct(tp):
        return instances(tp)  # type: ignore[arg-type]
    if origin is list:
        lo, hi = _sizes(meta)
        return st.lists(valid_values(get_args(tp)[0], meta.get("items", {})), min_size=lo, max_size=hi)
    if origin is dict:
        key_tp, val_tp = get_args(tp)
        lo, hi = _sizes(meta)
        return st.dictionaries(valid_values(key_tp, meta.get("keys", {})), valid_values(val_tp, meta.get("values", {})),
                               min_size=lo, max_size=hi)
    if tp is bool:
        return st.booleans()
    if tp is int:
        lo, hi = int_bounds(meta)
        return st.integers(lo, hi)
    if tp is float:
        return st.floats(min_value=meta.get("min"), max_value=meta.get("max"), allow_nan=False)
    if tp is str:
        return text_strategy(meta)
    if tp is Any:
        return PLAIN_VALUES
    raise TypeError(f"no strategy for {tp!r}: teach tests/faults/test_fuzz.py this field type")


_INSTANCES: dict[Any, st.SearchStrategy[Any]] = {}

# Fields whose values must pass more than their bounds (a frame's __post_init__): valid values to draw, and
# the smallest and largest (protocol/reactions.py `emoji_problem`).
SPECIAL_VALUES: dict[str, list[str]] = {"emoji": ["👍", "❤️", "👨‍👩‍👧‍👦", "1️⃣", "🇫🇷", "👍🏽", "🏴󠁧󠁢󠁥󠁮󠁧󠁿"]}
SPECIAL_EDGES: dict[str, list[str]] = {"emoji": ["👍", "👩🏻‍❤️‍💋‍👨🏼"]}


def field_values(fd: Field) -> st.SearchStrategy[Any]:
    special = SPECIAL_VALUES.get(fd.name)
    return st.sampled_from(special) if special is not None else valid_values(fd.tp, fd.meta)


def instances(cls: Any) -> st.SearchStrategy[Any]:
    """Valid instances of a frame (or nested) dataclass; optional fields sometimes left out."""
    if cls in _INSTANCES:
        return _INSTANCES[cls]
    needed = {fd.name: field_values(fd) for fd in fields_of(cls) if fd.needs_value}
    optional = {fd.name: field_values(fd) for fd in fields_of(cls) if not fd.needs_value}
    _INSTANCES[cls] = (st.fixed_dictionaries(needed, optional=optional).map(lambda kwargs: consistent(cls, kwargs))
                       .filter(lambda frame: frame is not None))
    return _INSTANCES[cls]


def consistent(cls: Any, kwargs: dict[str, Any]) -> Any:
    """cls(**kwargs), or None where the fields are each valid but not together (a text `send` with media)."""
    try:
        return cls(**kwargs)
    except SchemaError:
        return None


INTS = st.integers(-(2**63), 2**64 - 1) | st.sampled_from([0, 1, -1, MAX_ID, MAX_ID + 1, INT64_MAX, 2**63,
                                                            2**64 - 1, -(2**63), 2**31, -(2**31) - 1])


def _msgpack_values(nan: bool) -> st.SearchStrategy[Any]:
    scalars = (st.none() | st.booleans() | INTS | st.floats(allow_nan=nan) | st.text(max_size=20)
               | st.binary(max_size=20))
    return st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                        | st.dictionaries(st.text(max_size=8) | INTS, inner, max_size=4), max_leaves=12)


PLAIN_VALUES = _msgpack_values(nan=False)  # equal to themselves after a round trip
WIRE_VALUES = _msgpack_values(nan=True)  # anything a client can put in a msgpack map


class Absent:
    """A field left out of the map."""


ABSENT = Absent()


@st.composite
def frame_maps(draw: st.DrawFn) -> dict[Any, Any]:
    """A msgpack map shaped more or less like a frame."""
    body: dict[Any, Any] = {}
    how = draw(st.sampled_from(["known", "known", "known", "known", "unknown", "no t", "t not a string"]))
    if how == "known":
        kind = draw(st.sampled_from(KINDS))
        body["t"] = kind
        for fd in fields_of(FRAME_TYPES[kind]):
            value = draw(st.one_of(st.just(ABSENT), valid_values(fd.tp, fd.meta), WIRE_VALUES))
            if value is not ABSENT:
                body[fd.name] = plain(value)
    elif how == "unknown":
        body["t"] = draw(st.text(max_size=60).filter(lambda s: s not in FRAME_TYPES))
    elif how == "t not a string":
        body["t"] = draw(WIRE_VALUES.filter(lambda v: not isinstance(v, str)))
    extra = draw(st.dictionaries(st.text(max_size=10) | INTS, WIRE_VALUES, max_size=3))
    body.update({k: v for k, v in extra.items() if k not in body and k != "t"})
    ident = draw(st.one_of(st.just(ABSENT), st.integers(0, MAX_ID), st.integers(-(2**63), -1),
                           st.integers(MAX_ID + 1, 2**64 - 1), st.booleans(), st.floats(), st.text(max_size=5),
                           st.none()))
    if ident is not ABSENT:
        body["id"] = ident
    return body


def all_frames() -> st.SearchStrategy[f.Frame]:
    return st.sampled_from(KINDS).flatmap(lambda kind: instances(FRAME_TYPES[kind]))


# ============================================================================ part 1: the decoder


def test_strategies_cover_every_frame_type() -> None:
    """Every frame type has strategies, so a new frame is fuzzed (or this fails naming what to teach)."""
    for kind in KINDS:
        for fd in fields_of(FRAME_TYPES[kind]):
            valid_values(fd.tp, fd.meta)
            bad_values(fd.tp, fd.meta)


@FUZZ
@given(data=st.binary(max_size=400))
def test_arbitrary_bytes_never_raise(data: bytes) -> None:
    result = decode(data)
    assert_well_formed(result)
    if isinstance(result, Refusal):
        assert result.code is ErrorCode.BAD_REQUEST


@FUZZ
@given(data=st.binary(max_size=400))
def test_arbitrary_bytes_never_raise_as_a_bundle(data: bytes) -> None:
    results = decode_bundle(data)
    assert 1 <= len(results) <= 64
    for result in results:
        assert_well_formed(result)


@FUZZ
@given(frames=st.lists(all_frames(), min_size=1, max_size=20))
def test_a_bundle_of_frames_decodes_to_the_same_frames_in_order(frames: list[f.Frame]) -> None:
    assert decode_bundle(bundle([encode(fr) for fr in frames]), HUGE) == frames


@FUZZ
@given(frame=instances(f.Msgs))
def test_msgs_frames_packed_once_per_message_are_the_generic_encoding(frame: f.Msgs) -> None:
    generic = msgspec.msgpack.encode(frame)
    assert encode(frame) == generic and encode(frame) == generic  # the second time from the cache


@FUZZ
@given(frame=all_frames(), data=st.data())
def test_mutated_and_truncated_frames_never_raise(frame: f.Frame, data: st.DataObject) -> None:
    raw = bytearray(encode(frame))
    for _ in range(data.draw(st.integers(1, 4), label="mutations")):
        at = data.draw(st.integers(0, len(raw)), label="at")
        how = data.draw(st.sampled_from(["flip", "cut", "insert", "delete"]), label="how")
        if how == "flip" and at < len(raw):
            raw[at] = data.draw(st.integers(0, 255))
        elif how == "cut":
            del raw[at:]
        elif how == "insert":
            raw[at:at] = data.draw(st.binary(min_size=1, max_size=8))
        elif at < len(raw):
            del raw[at]
    result = decode(bytes(raw))
    assert_well_formed(result)


@FUZZ
@given(body=frame_maps())
def test_arbitrary_maps_give_a_frame_or_an_error_naming_the_problem(body: dict[Any, Any]) -> None:
    result = decode(pack(body), HUGE)
    assert_well_formed(result)
    kind = body.get("t")
    if isinstance(result, f.Frame):
        assert isinstance(kind, str) and type(result) is FRAME_TYPES[kind]
        if "id" in body and hasattr(result, "id") and body["id"] is not None:
            assert result.id == body["id"]
        return
    assert result.code is ErrorCode.BAD_REQUEST
    assert result.id == expected_id(body), (result, body.get("id"))
    if not isinstance(kind, str):
        assert "'t'" in result.message
    elif kind not in FRAME_TYPES:
        assert "unknown frame type" in result.message
    else:
        assert result.message.startswith(f"{kind}: ")
        named = [fd.name for fd in fields_of(FRAME_TYPES[kind]) if names_field(result.message, fd.name)]
        assert named, f"{result.message!r} names no field of {kind}"


@pytest.mark.parametrize("kind", KINDS)
@PER_TYPE
@given(data=st.data())
def test_round_trip(kind: str, data: st.DataObject) -> None:
    frame = data.draw(instances(FRAME_TYPES[kind]))
    assert decode(encode(frame), HUGE) == frame


@pytest.mark.parametrize("kind", KINDS)
@PER_TYPE
@given(data=st.data())
def test_every_bound_is_enforced_and_named(kind: str, data: st.DataObject) -> None:
    """One field of an otherwise valid frame out of bounds (or of the wrong type, or missing): bad_request
    naming that field, echoing the id when the id is not the field that is wrong."""
    cls = FRAME_TYPES[kind]
    frame = data.draw(instances(cls), label="valid frame")
    breakable = [fd for fd in fields_of(cls) if fd.required or bad_values(fd.tp, fd.meta)]
    if not breakable:
        return
    fd = data.draw(st.sampled_from(breakable), label="field")
    body = wire(frame)
    choices: list[Any] = bad_values(fd.tp, fd.meta) + ([ABSENT] if fd.required else [])
    value = data.draw(st.sampled_from(choices), label="bad value")
    if value is ABSENT:
        body.pop(fd.name, None)
    else:
        body[fd.name] = value
    result = decode(pack(body), HUGE)
    assert isinstance(result, Refusal), f"{kind}.{fd.name} = {value!r:.80} was accepted"
    assert result.code is ErrorCode.BAD_REQUEST
    assert result.message.startswith(f"{kind}: ") and names_field(result.message, fd.name), result.message
    assert result.id == (None if fd.name == "id" else expected_id(body))
    assert_error_is_sendable(result)


# Fields valid on their own that need company: a text `send` needs a body, an empty body needs media; and
# values a minimal frame needs beyond its bounds (a reaction's emoji).
TOGETHER: dict[str, dict[str, Any]] = {"send": {"body": "x"}, "react": {"emoji": "👍"}, "unreact": {"emoji": "👍"}}
TOGETHER_FIELD: dict[tuple[str, str], dict[str, Any]] = {("send", "body"): {"kind": "file", "media": {"id": "A" * 24}}}


@pytest.mark.parametrize("kind", KINDS)
def test_values_at_the_bounds_are_accepted(kind: str) -> None:
    """The other side of each bound: the smallest and largest allowed value of every field."""
    cls = FRAME_TYPES[kind]
    base = {fd.name: minimal(fd.tp, fd.meta) for fd in fields_of(cls) if fd.required} | TOGETHER.get(kind, {})
    for fd in fields_of(cls):
        tps = options(fd.tp) if is_union(fd.tp) else [fd.tp]
        edges: list[Any] = list(SPECIAL_EDGES.get(fd.name, ()))
        for tp in tps if not edges else ():
            if tp is int:
                edges += list(int_bounds(fd.meta))
            elif tp is float:
                edges += [float(fd.meta[k]) for k in ("min", "max") if k in fd.meta]
            elif tp is str and "pattern" not in fd.meta:
                lo, hi = fd.meta.get("min_len", 0), fd.meta.get("max_len")
                edges += ["b" * lo] + (["é" * hi] if hi is not None else [])
        for edge in edges:
            result = decode(pack({"t": kind, **base, **TOGETHER_FIELD.get((kind, fd.name), {}), fd.name: edge}), HUGE)
            assert isinstance(result, cls), f"{kind}.{fd.name} = {edge!r:.60}: {result}"
            assert getattr(result, fd.name) == edge


def send_of_size(req_id: int, size: int) -> bytes:
    """An encoded `send` of exactly `size` bytes (its body padded)."""
    frame = f.Send(id=req_id, room=1, client_id="6f1c2e0a-9b1d-4a7e-8f00-3c2d1e4b5a69", body="x")
    n = 1
    for _ in range(5):  # the msgpack string header grows with the body: converge on the size
        raw = encode(msgspec.structs.replace(frame, body="x" * n))
        if len(raw) == size:
            return raw
        n += size - len(raw)
    raise AssertionError(f"no send of {size} bytes")


@FUZZ
@given(limit=st.integers(1024, 60_000), over=st.integers(1, 5000), req_id=st.integers(0, MAX_ID))
def test_oversize_is_too_large_without_id(limit: int, over: int, req_id: int) -> None:
    assert decode(b"\x00" * (limit + over), limit) == Refusal(
        ErrorCode.TOO_LARGE, f"frame is {limit + over} bytes; the limit is {limit} bytes")
    # a well-formed request with an id, too big: too_large, and no id (the frame is not read at all)
    result = decode(send_of_size(req_id, limit + over), limit)
    assert isinstance(result, Refusal) and result.code is ErrorCode.TOO_LARGE and result.id is None
    assert str(limit) in result.message
    # exactly at the limit it is read (bodies over 16000 characters are then refused for their length)
    at_limit = decode(send_of_size(req_id, limit), limit)
    if isinstance(at_limit, Refusal):
        assert at_limit.code is ErrorCode.BAD_REQUEST and at_limit.id == req_id, at_limit
        assert names_field(at_limit.message, "body"), at_limit
    else:
        assert isinstance(at_limit, f.Send) and at_limit.id == req_id


@FUZZ
@given(text=st.text(max_size=200) | st.sampled_from(['{"t": "send", "id": 5}', "", "\x00", "\x85\xa1t"]))
def test_text_is_bad_request_without_id(text: str) -> None:
    result = decode(text)
    assert isinstance(result, Refusal) and result.code is ErrorCode.BAD_REQUEST and result.id is None
    assert "binary" in result.message
    assert_error_is_sendable(result)


# ============================================================================ part 2: a live server


SEED = int(os.environ.get("CHAT_FUZZ_SEED", "20240611"))
FIRST_FUZZ_ID = 7_000_000_000  # far from ChatClient's own ids (1, 2, 3, ...)
WINDOW = 32  # requests in flight at once, like a pipelining client (keeps the server outbox far from full)
# Frames that may name the room whose delivery the test checks; other kinds never touch it (a random
# leave, ban or remove_member there would change what the test expects, not test the server).
HARMLESS_IN_CHECKED_ROOM = {"send", "history", "get_room", "typing", "ack", "read"}
EVERYDAY = ["send", "send", "send", "history", "ack", "read", "typing", "get_room", "list_rooms", "create_group",
            "open_direct", "add_members", "edit", "delete"]
REPLY_TYPE = {"signup": "auth_ok", "login": "auth_ok", "refresh": "auth_ok", "logout": "ok", "hello": "welcome",
              "auth": "ok", "open_direct": "room", "create_group": "room", "get_room": "room",
              "list_rooms": "rooms", "send": "sent", "history": "history_page"}
MAY_BE_RATE_LIMITED = {"signup", "login", "join"}  # their own per-user limits, not the frame bucket
ALPHABET = [*"abcXYZ019_.-@ !?'\"\\/{}", "\x00", "\n", "é", "ß", "日", "🙂", "\u200b", "\u202e", "\ufeff"]


@dataclasses.dataclass
class Pools:
    rooms: list[int]  # rooms random frames name (plus random ids)
    checked_room: int  # only HARMLESS_IN_CHECKED_ROOM kinds may name it
    users: list[int | str]


class Fuzzer:
    """Random frames from a seeded generator: reproducible, and shaped by the frame Structs."""

    CATEGORIES: tuple[str, ...] = ("random bytes", "truncated", "mutated", "not a map", "garbage fields",
                                   "out of range", "valid", "server frame", "text", "oversize")

    def __init__(self, seed: int, pools: Pools, max_bytes: int, counts: Mapping[str, int]) -> None:
        self.rng = random.Random(seed)
        self.pools = pools
        self.max_bytes = max_bytes
        self._ids = itertools.count(FIRST_FUZZ_ID)
        self.issued: set[int] = set()
        self.plan = [c for c in self.CATEGORIES for _ in range(counts.get(c, 0))]
        self.rng.shuffle(self.plan)

    def new_id(self) -> int:
        n = next(self._ids)
        self.issued.add(n)
        return n

    def payload(self, category: str) -> bytes | str:
        """A payload of `category` that leaves the checked room alone (a random `leave` of it, say, would
        change what the test expects of that room rather than test the server)."""
        while True:
            payload = self.make(category)
            decoded = decode(payload, self.max_bytes)
            if not (isinstance(decoded, f.Frame) and decoded.type not in HARMLESS_IN_CHECKED_ROOM
                    and getattr(decoded, "room", None) == self.pools.checked_room):
                return payload

    def client_id(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def make(self, category: str) -> bytes | str:
        rng = self.rng
        if category == "random bytes":
            head = rng.choice([b"", b"", bytes([0x80 | rng.randrange(16)]), b"\xde\x00\x10", b"\xc1"])
            return head + rng.randbytes(rng.randrange(0, 80))
        if category == "truncated":
            raw = encode(self.valid_frame(rng.choice(CLIENT_KINDS)))
            return raw[:rng.randrange(len(raw))]
        if category == "mutated":
            mutable = bytearray(encode(self.valid_frame(rng.choice(CLIENT_KINDS))))
            for _ in range(rng.randint(1, 3)):
                mutable[rng.randrange(len(mutable))] = rng.randrange(256)
            return bytes(mutable)
        if category == "not a map":
            return pack(rng.choice([[1, 2, 3], 7, "send", None, b"\x00", 2.5, True, [{"t": "send"}]]))
        if category == "garbage fields":
            kind = rng.choice(CLIENT_KINDS * 3 + SERVER_KINDS)
            body: dict[Any, Any] = {"t": kind}
            for fd in fields_of(FRAME_TYPES[kind]):
                roll = rng.random()
                if roll < 0.45:
                    body[fd.name] = self.anything()
                elif roll < 0.75:
                    body[fd.name] = plain(self.value(fd.tp, fd.meta, fd.name, kind))
            for _ in range(rng.choice([0, 0, 1, 3])):
                body.setdefault(rng.choice(["x", "ID", "type", "room_id", "", "\x00", 1, -1]), self.anything())
            body["id"] = self.new_id() if rng.random() < 0.7 else rng.choice(
                [-1, MAX_ID + 1, 2**64 - 1, True, 1.5, "7", None, [1], {"id": 1}])
            return pack(body)
        if category == "out of range":
            kind = rng.choice(CLIENT_KINDS * 3 + SERVER_KINDS)
            body = wire(self.valid_frame(kind))
            fields = [fd for fd in fields_of(FRAME_TYPES[kind]) if bad_values(fd.tp, fd.meta)]
            fd = rng.choice(fields)
            bad = rng.choice(bad_values(fd.tp, fd.meta))
            if isinstance(bad, str | list | dict) and len(pack(bad)) > self.max_bytes // 2:
                bad = rng.choice(WRONG_TYPES)  # keep to the size limit: oversize is its own category
            body[fd.name] = bad
            return pack(body)
        if category == "valid":  # half of them the everyday requests, so some really go through
            common = [k for k in EVERYDAY if k in CLIENT_KINDS]
            return encode(self.valid_frame(rng.choice(common if rng.random() < 0.5 else CLIENT_KINDS)))
        if category == "server frame":
            return encode(self.valid_frame(rng.choice(SERVER_KINDS)))
        if category == "text":
            return rng.choice(['{"t": "send", "id": 1}', "", "hello", "".join(rng.choices(ALPHABET, k=30))])
        if category == "oversize":
            pad = "x" * (self.max_bytes + rng.randint(1, 2000))
            return pack({"t": "send", "id": self.new_id(), "room": self.pools.checked_room,
                         "client_id": self.client_id(), "body": pad})
        raise ValueError(category)

    # ------------------------------------------------------------------ valid values, drawn at random

    def valid_frame(self, kind: str) -> f.Frame:
        cls = FRAME_TYPES[kind]
        while True:  # until the fields, each valid, also fit together (see `consistent`)
            kwargs: dict[str, Any] = {}
            for fd in fields_of(cls):
                if fd.name == "id" and not is_optional(fd.tp):
                    kwargs["id"] = self.new_id()
                elif fd.needs_value or self.rng.random() < 0.5:
                    kwargs[fd.name] = self.value(fd.tp, fd.meta, fd.name, kind)
            frame = consistent(cls, kwargs)
            if frame is not None:
                return frame  # type: ignore[no-any-return]

    def value(self, tp: Any, meta: Mapping[str, Any], name: str, kind: str) -> Any:
        rng = self.rng
        if is_union(tp):
            opts = options(tp)
            if is_optional(tp) and rng.random() < 0.3:
                return None
            if set(opts) == {int, str} and rng.random() < 0.6:
                return rng.choice(self.pools.users)  # a UserRef
            return self.value(rng.choice(opts), meta, name, kind)
        origin = get_origin(tp)
        if origin is Literal:
            return rng.choice(get_args(tp))
        if is_struct(tp):
            cls: Any = tp
            return cls(**{fd.name: self.value(fd.tp, fd.meta, fd.name, kind) for fd in fields_of(cls)
                          if fd.needs_value or rng.random() < 0.5})
        if origin is list:
            lo, hi = meta.get("min_len", 0), meta.get("max_len", 4)
            return [self.value(get_args(tp)[0], meta.get("items", {}), name, kind)
                    for _ in range(rng.randint(lo, max(lo, min(hi, 4))))]
        if origin is dict:
            key_tp, val_tp = get_args(tp)
            lo, hi = meta.get("min_len", 0), meta.get("max_len", 4)
            out: dict[Any, Any] = {}
            for _ in range(rng.randint(lo, max(lo, min(hi, 4))) * 3):  # Literal keys collide: draw until enough
                if len(out) >= max(lo, min(hi, 4)):
                    break
                out[self.value(key_tp, meta.get("keys", {}), name, kind)] = \
                    self.value(val_tp, meta.get("values", {}), "", kind)
            return out if len(out) >= lo else minimal(tp, meta)
        if tp is bool:
            return rng.random() < 0.5
        if tp is int:
            return self.integer(meta, name, kind)
        if tp is float:
            lo = meta.get("min", -1e6)
            return rng.choice([lo, lo + rng.random() * 100, float(meta.get("max", lo + 1e9))])
        if tp is str:
            return self.text(meta)
        if tp is Any:
            return self.anything()
        raise TypeError(tp)

    def integer(self, meta: Mapping[str, Any], name: str, kind: str) -> int:
        rng = self.rng
        lo, hi = int_bounds(meta)
        checked = self.pools.checked_room
        if name == "room":
            pool = self.pools.rooms + ([checked] * 3 if kind in HARMLESS_IN_CHECKED_ROOM else [])
            if rng.random() < 0.7:
                return rng.choice(pool)
        n = rng.choice([lo, hi, lo + 1, hi - 1, lo + rng.randrange(100), rng.randint(lo, hi), 2**31, 2**53, 2**32 + 7])
        n = min(max(n, lo), hi)
        if name == "room" and n == checked and kind not in HARMLESS_IN_CHECKED_ROOM:
            n = min(checked + 1_000_003, hi)
        return n

    def text(self, meta: Mapping[str, Any]) -> str:
        rng = self.rng
        lo, hi = meta.get("min_len", 0), meta.get("max_len")
        pattern = meta.get("pattern")
        if pattern is not None:
            return self.matching(pattern, lo, hi)
        top = hi if hi is not None else 200
        n = rng.choice([lo, top, rng.randint(lo, min(top, 50)), rng.randint(lo, min(top, 50))])
        if n > 2000:  # long strings stay ASCII so a 16000-character body still fits in a frame
            return "".join(rng.choices("abcdefghij ", k=n))
        return "".join(rng.choices([c for c in ALPHABET if c != "\x00"], k=n))

    def matching(self, pattern: re.Pattern[str], lo: int, hi: int | None) -> str:
        found = sample_matching(self.rng, pattern, lo, hi)
        return found if found is not None else pattern_example({"pattern": pattern, "min_len": lo, "max_len": hi})

    def anything(self, depth: int = 0) -> Any:
        rng = self.rng
        roll = rng.randrange(10 if depth < 2 else 8)
        if roll == 0:
            return None
        if roll == 1:
            return rng.random() < 0.5
        if roll == 2:
            return rng.choice([0, -1, 1, MAX_ID, MAX_ID + 1, INT64_MAX, 2**63, 2**64 - 1, -(2**63),
                               rng.randint(-(2**63), 2**64 - 1)])
        if roll == 3:
            return rng.choice([0.5, -0.0, math.nan, math.inf, -math.inf, 1e308, 1.0])
        if roll in (4, 5):
            return "".join(rng.choices(ALPHABET, k=rng.randrange(12)))
        if roll == 6:
            return rng.randbytes(rng.randrange(12))
        if roll == 7:
            return rng.choice(["", "a" * 300, self.client_id()])
        if roll == 8:
            return [self.anything(depth + 1) for _ in range(rng.randrange(4))]
        return {rng.choice(["t", "id", "room", "x", 1, -5]): self.anything(depth + 1) for _ in range(rng.randrange(4))}


@dataclasses.dataclass
class Expect:
    label: str  # the category, for failure messages
    kind: str | None  # the frame type, when the payload decoded
    refusal: Refusal | None  # what the reply must be, when the decoder or the session refuses it


@dataclasses.dataclass
class Outcome:
    sent: Counter[str]
    expected: dict[int, Expect]
    replies: dict[int, list[f.Frame]]
    idless_errors: list[f.Error]
    idless_predicted: list[Refusal]  # refusals without an id: the reader answers them in order
    idless_may: int  # frames without an id that may also get an error (e.g. `typing` to a missing room)


def predict(payload: bytes | str, max_bytes: int, session: Session) -> list[tuple[int | None, Expect]]:
    """What the server must answer, frame by frame (a payload may be a bundle), from the pure decoder and
    state machine it runs itself."""
    out: list[tuple[int | None, Expect]] = []
    for decoded in decode_bundle(payload, max_bytes, CLIENT_FRAMES):
        if isinstance(decoded, Refusal):
            out.append((decoded.id, Expect("", None, decoded)))
        else:
            needs_hello = ROUTES[type(decoded)].needs_hello
            out.append((getattr(decoded, "id", None), Expect("", decoded.type, session.check(decoded, needs_hello))))
    return out


async def storm(client: ChatClient, fuzzer: Fuzzer, session: Session, max_bytes: int) -> Outcome:
    outcome = Outcome(Counter(), {}, {}, [], [], 0)
    progress = [trio.Event()]

    def take(frame: f.Frame) -> None:
        req_id = getattr(frame, "id", None)
        if req_id is not None:
            outcome.replies.setdefault(req_id, []).append(frame)
        elif isinstance(frame, f.Error):
            outcome.idless_errors.append(frame)
        progress[0].set()
        progress[0] = trio.Event()

    def in_flight() -> int:
        return sum(1 for k in outcome.expected if k not in outcome.replies)

    async def collect() -> None:
        while True:
            take(await client.next_push(timeout=120))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(collect)
        for category in fuzzer.plan:
            while True:
                payload = fuzzer.payload(category)
                predicted = predict(payload, max_bytes, session)
                ids = [i for i, _ in predicted if i is not None]
                # random bytes can decode to some id; only ids the fuzzer issued (once) can be matched
                if len(set(ids)) == len(ids) and all(i in fuzzer.issued and i not in outcome.expected for i in ids):
                    break
            outcome.sent[category] += 1
            for req_id, expect in predicted:
                expect.label = category
                if req_id is not None:
                    outcome.expected[req_id] = expect
                elif expect.refusal is not None:
                    outcome.idless_predicted.append(expect.refusal)
                else:
                    outcome.idless_may += 1
            while in_flight() >= WINDOW:
                await progress[0].wait()
            await client.ws.send_message(payload)
        with trio.fail_after(30):
            while in_flight():
                await progress[0].wait()
        # the reader answers in order: once this reply is here, every earlier synchronous answer is queued
        await client.request(f.ListRooms)  # `rooms`, or `unauthorized` before hello
        nursery.cancel_scope.cancel()
    for frame in client.pending_pushes():
        take(frame)
    return outcome


def check(outcome: Outcome, seed: int) -> None:
    where = f"(CHAT_FUZZ_SEED={seed})"
    assert not set(outcome.replies) - set(outcome.expected), f"replies to ids never sent {where}"
    for req_id, expect in outcome.expected.items():
        replies = outcome.replies.get(req_id, [])
        what = f"{expect.label} frame {req_id} ({expect.kind or 'undecodable'}) {where}"
        assert len(replies) == 1, f"{what}: {len(replies)} replies: {replies}"
        (reply,) = replies
        if expect.refusal is not None:
            assert isinstance(reply, f.Error), f"{what}: {reply} instead of {expect.refusal}"
            assert (reply.code, reply.message) == (expect.refusal.code.value, expect.refusal.message), what
        elif isinstance(reply, f.Error):
            assert reply.code in ERROR_CODES and reply.code not in ("internal", "retry"), f"{what}: {reply}"
            assert reply.code != "rate_limited" or expect.kind in MAY_BE_RATE_LIMITED, f"{what}: {reply}"
        elif expect.kind in REPLY_TYPE:
            assert reply.type == REPLY_TYPE[expect.kind], f"{what}: {reply}"
    got = Counter((e.code, e.message) for e in outcome.idless_errors)
    want = Counter((e.code.value, e.message) for e in outcome.idless_predicted)
    assert not want - got, f"id-less refusals missing {where}: {want - got}"
    assert len(outcome.idless_errors) <= len(outcome.idless_predicted) + outcome.idless_may, where
    for e in outcome.idless_errors:
        assert e.code in ERROR_CODES and e.code not in ("internal", "retry"), f"{e} {where}"


def summary(outcome: Outcome) -> str:
    """What the storm sent and what came back (printed: pytest shows it when the test fails)."""
    answers = Counter(r.code if isinstance(r, f.Error) else r.type for rs in outcome.replies.values() for r in rs)
    valid = Counter(e.kind for e in outcome.expected.values() if e.refusal is None)
    return (f"sent {dict(outcome.sent)}\nreplies by id: {dict(answers)}\nvalid requests: {dict(valid)}\n"
            f"id-less errors: {Counter(e.code for e in outcome.idless_errors)} "
            f"(predicted {len(outcome.idless_predicted)}, {outcome.idless_may} more possible)")


def crashes(node: Node) -> list[str]:
    assert node.services is not None
    sups = [node.root, node.services.rooms.supervisor, node.services.users.supervisor]
    return [f"{e.supervisor}/{e.child} {e.kind}: {e.reason}" for s in sups for e in s.events
            if e.kind in ("restarted", "escalated", "start_failed") or (e.kind == "exited" and e.reason != "normal")]


def server_faults(records: list[logging.LogRecord]) -> list[str]:
    return [r.getMessage() for r in records
            if r.levelno >= logging.ERROR or r.getMessage().startswith("handler for")]


@pytest.fixture
async def fuzz_node(nursery: trio.Nursery, backing: Backing, tmp_path: Path) -> Node:
    """A node whose frame bucket never runs dry and that takes any number of frames before hello: the storm is
    about bad input, not about rate limits (tests/test_login_limits.py has those)."""
    config = make_config(backing, tmp_path, rate_per_second=1_000_000.0, rate_burst=1_000_000,
                         prehello_frames=10_000)
    return (await start_node(nursery, config)).node


async def messages_through(client: ChatClient, room: int, seq: int) -> tuple[list[f.Message], list[f.Frame]]:
    """Pushed messages of `room` until `seq` arrives (acking every `msgs`), and every other push seen."""
    got: list[f.Message] = []
    others: list[f.Frame] = []
    with trio.fail_after(20):
        while not any(m.seq >= seq for m in got):
            frame = await client.next_push(timeout=20)
            if isinstance(frame, f.Msgs):
                got.extend(m for m in frame.messages if m.room == room)
                await client.ack_frame(frame)
            else:
                others.append(frame)
    return got, others


AUTHED_STORM = {"random bytes": 40, "truncated": 40, "mutated": 40, "not a map": 12, "garbage fields": 90,
                "out of range": 80, "valid": 70, "server frame": 15, "text": 10, "oversize": 3}
UNAUTHED_STORM = {"random bytes": 20, "truncated": 20, "mutated": 20, "not a map": 6, "garbage fields": 45,
                  "out of range": 40, "valid": 35, "server frame": 8, "text": 5, "oversize": 2}


async def test_storm_from_an_authenticated_client(fuzz_node: Node, nursery: trio.Nursery,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    people = People(nursery, fuzz_node)
    fuzz, fuzz_c = await people.new("fuzz")
    bob, bob_c = await people.new("bob")
    carol = await people.signup("carol")
    room = (await fuzz_c.call(f.OpenDirect, user=bob.user_id)).room.room
    group = (await fuzz_c.call(f.CreateGroup, name="sandbox", members=[carol.user_id])).room.room
    (created,) = await bob_c.collect(room, 1)
    pools = Pools(rooms=[group, room + 1_000_000, 1, INT64_MAX], checked_room=room,
                  users=[bob.user_id, carol.user_id, fuzz.user_id, carol.username, "nobody_here", 1, INT64_MAX])
    max_bytes = fuzz_node.config.max_frame_bytes
    session = Session()
    session.authenticated(fuzz.user_id, 2)

    outcome = await storm(fuzz_c, Fuzzer(SEED, pools, max_bytes, AUTHED_STORM), session, max_bytes)
    print(summary(outcome))

    check(outcome, SEED)
    assert sum(outcome.sent.values()) == sum(AUTHED_STORM.values())
    assert sum(1 for e in outcome.expected.values() if e.refusal is None) >= 40, "too few valid requests to matter"
    assert not fuzz_c.closed.is_set()
    # the connection goes on: a normal send, and the other member gets every message of the room once, in order
    sent = await fuzz_c.send_text(room, "after the storm")
    assert not sent.duplicate
    got, others = await messages_through(bob_c, room, sent.seq)
    assert [m.seq for m in got] == list(range(created.seq + 1, sent.seq + 1))
    assert got[-1].body == "after the storm" and got[-1].sender == fuzz.user_id
    assert not [x for x in others if isinstance(x, f.Error)], "bob got errors for frames he never sent"
    assert not bob_c.closed.is_set()
    assert crashes(fuzz_node) == []
    assert server_faults(caplog.records) == []


async def test_storm_before_hello(fuzz_node: Node, nursery: trio.Nursery, caplog: pytest.LogCaptureFixture) -> None:
    people = People(nursery, fuzz_node)
    dave: Person = await people.signup("dave")
    _, eve_c = await people.new("eve")
    raw = await people.raw()
    max_bytes = fuzz_node.config.max_frame_bytes
    pools = Pools(rooms=[1, 2, INT64_MAX], checked_room=INT64_MAX - 1, users=[dave.username, dave.user_id, 1])

    outcome = await storm(raw, Fuzzer(SEED + 1, pools, max_bytes, UNAUTHED_STORM), Session(), max_bytes)
    print(summary(outcome))

    check(outcome, SEED + 1)
    refused = [e for e in outcome.expected.values()
               if e.refusal is not None and e.refusal.code is ErrorCode.UNAUTHORIZED]
    assert refused, "no session frame was refused for want of a hello"
    assert not raw.closed.is_set()
    # still the same unauthenticated connection, and hello still works on it
    welcome = await raw.hello(dave.access_token)
    assert welcome.user_id == dave.user_id
    assert isinstance(await raw.call(f.ListRooms), f.Rooms)
    assert isinstance(await eve_c.call(f.ListRooms), f.Rooms)  # a bystander never noticed
    assert crashes(fuzz_node) == []
    assert server_faults(caplog.records) == []


async def test_nul_characters_are_refused_as_bad_request(fuzz_node: Node, nursery: trio.Nursery,
                                                        caplog: pytest.LogCaptureFixture) -> None:
    """Postgres text cannot hold U+0000: a string with one is refused naming the field, whichever request
    carries it, and never reaches the database (where it was an `internal` error, or a room actor crash)."""
    people = People(nursery, fuzz_node)
    ann, ann_c = await people.new("ann")
    bob, bob_c = await people.new("bob")
    room = (await ann_c.call(f.OpenDirect, user=bob.user_id)).room.room
    (created,) = await bob_c.collect(room, 1)
    cases: list[tuple[str, dict[str, Any], str]] = [
        ("send", {"room": room, "client_id": str(uuid.uuid4()), "body": "nul\x00byte"}, "body"),
        ("login", {"username": "ann\x00", "password": "x"}, "username"),
        ("open_direct", {"user": "bob\x00"}, "user"),
        ("create_group", {"name": "g\x00"}, "name"),
        ("search_users", {"query": "a\x00"}, "query"),
    ]
    for _ in range(3):  # more than once: a room actor that crashed on the first would show a restart
        for kind, fields, name in cases:
            if kind not in FRAME_TYPES:
                continue
            reply = await ann_c.request(FRAME_TYPES[kind], **fields)
            assert isinstance(reply, f.Error), (kind, reply)
            assert reply.code == "bad_request" and f"'{name}'" in reply.message, reply
    sent = await ann_c.send_text(room, "clean")
    (got,) = await bob_c.collect(room, 1)
    assert (got.seq, got.body) == (created.seq + 1, "clean") and got.seq == sent.seq
    assert crashes(fuzz_node) == []
    assert server_faults(caplog.records) == []
