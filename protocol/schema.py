"""The vocabulary every frame is written in, and the wording of a refused one.

Frames are msgspec Structs (protocol/frames.py and its siblings): the type annotations carry the bounds
(`Annotated[str, text(max_len=100)]`), so one msgspec decoder reads msgpack and validates it in a single
pass, the JSON Schema of docs and of the web client's TypeScript types is exported from the same classes
(protocol/json_schema.py), and nothing else restates the schema. This module holds what the frames share:

- `Record`, the base of every map on the wire: frozen, keyword-only, and None fields left out;
- `num`, `text`, `size`: the bounds of integers, strings, lists and maps;
- `always`: a default that is still written on the wire;
- `problem`: msgspec's ValidationError told the way the protocol always has ("field 'room' must be an
  integer"), so an error names the field and what is wrong with it (docs/protocol.md 3.7).
"""

from __future__ import annotations

import itertools
import re
from typing import Annotated, Any, Literal, get_args, get_origin

import msgspec
from msgspec import Meta
from msgspec import inspect as mi

INT64_MAX = 2**63 - 1
NO_NUL = r"^[^\x00]*$"  # Postgres text cannot hold U+0000: refused at the edge rather than failing in a query
_WHOLE = "^(?:{})(?![\\s\\S])"  # msgspec searches; this matches the whole string (no "$" before a last "\n")


class SchemaError(ValueError):
    """A value does not fit the frame's schema; the message names the field and the problem."""


class Record(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """A map on the wire. Fields whose value is None are left out (None is their default, and omit_defaults
    leaves out a default); a field declared with `always` is written whatever its value. Subclasses repeat
    `frozen=True`: mypy reads each class's own options, and a frame is shared by every outbox it is queued in."""


def num(min: int = -INT64_MAX, max: int = INT64_MAX) -> Meta:
    """An integer's bounds; every integer field has both, so none exceeds what Postgres' bigint holds."""
    return Meta(ge=min, le=max)


def text(min_len: int = 0, max_len: int | None = None, pattern: str | None = None) -> Meta:
    """A string's bounds in characters, and the pattern the whole string must match (else: no NUL)."""
    return Meta(min_length=min_len or None, max_length=max_len,
                pattern=_WHOLE.format(pattern) if pattern is not None else NO_NUL)


def size(min_len: int = 0, max_len: int | None = None) -> Meta:
    """A list's items or a map's entries."""
    return Meta(min_length=min_len or None, max_length=max_len)


def always(value: Any) -> Any:
    """A default that is written on the wire like any other value (msgspec's omit_defaults leaves out a value
    that *is* the field's default, but never one a factory makes): booleans, counts and kinds always travel
    (docs/protocol.md 1), and only None fields are left out. `repeat(...).__next__` costs no Python call."""
    return msgspec.field(default_factory=itertools.repeat(value).__next__)


def unanchored(pattern: str) -> str | None:
    """The pattern `text(pattern=...)` was given (None for the NUL check alone)."""
    if pattern == NO_NUL:
        return None
    match = re.fullmatch(r"\^\(\?:(.*)\)\(\?!\[\\s\\S\]\)", pattern, re.S)
    return match[1] if match else pattern


# --------------------------------------------------------------------------- refusals in the protocol's words

_AT = re.compile(r"(?P<problem>.*?)(?: - at `(?P<path>[^`]*)`(?: in `(?P<within>[^`]*)`)?)?", re.S)
_STEP = re.compile(r"\.(?P<name>[^.\[]+)|\[(?P<index>\d+|\.\.\.)\]")
_KINDS = {"int": "an integer", "str": "a string", "bool": "a boolean", "float": "a number", "array": "an array",
          "object": "a map", "bytes": "bytes"}
_UNITS = {"str": "characters", "array": "items", "object": "entries"}


def problem(cls: type, exc: msgspec.ValidationError, data: Any = None) -> str:
    """What a ValidationError of decoding `cls` (from `data`, when at hand) says, in the protocol's words:
    "field 'media.id' has an invalid format"."""
    found = _AT.fullmatch(str(exc))
    assert found is not None  # the pattern matches any text
    said, path, within = found["problem"], found["path"], found["within"]
    if path is None and said.startswith("field '"):
        return said  # a frame's own __post_init__ check: already in these words
    where, tp, hint = _where(cls, within if path == "key" else path or "$", data)
    if path == "key":
        where, tp, hint = f"{where} key", _key_type(tp), (get_args(_bare(hint)) or (Any,))[0]
    field = f"field '{where}'" if where else "frame"
    if m := re.fullmatch(r"Object missing required field `(.+)`", said):
        return f"missing field '{where}.{m[1]}'" if where else f"missing field '{m[1]}'"
    if m := re.fullmatch(r"Expected `(.+)`, got `(.+)`", said):
        if m[2] in ("null", "None") and where and not where.endswith(("]", " key")):
            return f"missing field '{where}'"  # nil is absent (docs/protocol.md 1)
        options = m[1].split(" | ")
        kinds = [_KINDS.get(k, k) if len(options) == 1 else _KINDS.get(k, k).split(" ")[-1]
                 for k in options if k != "null"]  # "must be a string", "must be integer or string"
        return f"{field} must be {' or '.join(kinds)}"
    if m := re.fullmatch(r"Expected `(\w+)` of length (>=|<=) (\d+)", said):
        return f"{field} {'needs at least' if m[2] == '>=' else 'allows at most'} {m[3]} {_UNITS.get(m[1], '')}"
    if m := re.fullmatch(r"Expected `str` matching regex '(.*)'", said, re.S):
        nul = m[1] in (NO_NUL, repr(NO_NUL)[1:-1])  # msgspec quotes the pattern's repr
        return f"{field} must not contain NUL characters" if nul else f"{field} has an invalid format"
    if re.fullmatch(r"Expected `(int|float)` (>=|<=|>|<) .+", said):
        low, high = _bounds(tp)
        return f"{field} must be between {low} and {high}"
    if said.startswith("Invalid enum value"):
        allowed = _literal(hint)
        return f"{field} must be one of {allowed}" if allowed else f"{field} has an invalid value"
    return f"{field}: {said}"


def _where(cls: type, path: str, data: Any) -> tuple[str, mi.Type | None, Any]:
    """The field a msgspec path ("$.media.id", "$.users[3]", "$.visibility[...]") names, in the protocol's
    words ("media.id", "users[3]", "visibility['about']": the key of a map's bad value is looked up in
    `data`), and its type (None where it cannot be told)."""
    where, tp, hint = "", _unwrap(mi.type_info(cls)), cls
    for step in _STEP.finditer(path.removeprefix("$")):
        if step["name"] is not None:
            where = f"{where}.{step['name']}" if where else step["name"]
            struct = _pick(tp, mi.StructType)
            fields = {f.encode_name: f.type for f in struct.fields} if isinstance(struct, mi.StructType) else {}
            tp = _unwrap(fields.get(step["name"]))
            hint = _hint(hint, step["name"])
            data = data.get(step["name"]) if isinstance(data, dict) else None
        else:
            index = step["index"]
            container = _pick(tp, mi.ListType, mi.DictType)
            tp = _unwrap(container.item_type if isinstance(container, mi.ListType) else
                         container.value_type if isinstance(container, mi.DictType) else None)
            hint = _hint(hint, None)
            if index == "..." and isinstance(data, dict):
                key, data = next(((k, v) for k, v in data.items() if not _fits(v, hint)), ("...", None))
                index = repr(key)
            else:
                data = data[int(index)] if isinstance(data, list) and int(index) < len(data) else None
            where = f"{where}[{index}]"
    return where, tp, hint


def _hint(hint: Any, name: str | None) -> Any:
    """The annotation of field `name` of the Struct `hint`, or of the items (values) of the list (map) `hint`,
    bounds and None aside."""
    hint = _bare(hint)
    if name is not None:
        fields = msgspec.structs.fields(hint) if isinstance(hint, type) and issubclass(hint, msgspec.Struct) else ()
        return next((f.type for f in fields if f.encode_name == name), Any)
    args = get_args(hint)
    return args[-1] if args else Any


def _bare(hint: Any) -> Any:
    while get_origin(hint) is Annotated or type(None) in get_args(hint):
        hint = get_args(hint)[0] if get_origin(hint) is Annotated else \
            next(a for a in get_args(hint) if a is not type(None))
    return hint


def _fits(value: Any, hint: Any) -> bool:
    try:
        msgspec.convert(value, hint)
    except (msgspec.ValidationError, TypeError):
        return False
    return True


def _unwrap(tp: mi.Type | None) -> mi.Type | None:
    return tp.type if isinstance(tp, mi.Metadata) else tp


def _pick(tp: mi.Type | None, *kinds: type) -> mi.Type | None:
    """`tp`, or the member of the union `tp` that is one of `kinds`."""
    if isinstance(tp, mi.UnionType):
        return next((_unwrap(t) for t in tp.types if isinstance(_unwrap(t), kinds)), None)
    return tp


def _key_type(tp: mi.Type | None) -> mi.Type | None:
    container = _pick(tp, mi.DictType)
    return _unwrap(container.key_type) if isinstance(container, mi.DictType) else None


def _bounds(tp: mi.Type | None) -> tuple[Any, Any]:
    number = _pick(tp, mi.IntType, mi.FloatType)
    low = getattr(number, "ge", None)
    high = getattr(number, "le", None)
    return (low if low is not None else "-inf"), (high if high is not None else "inf")


def _literal(hint: Any) -> str | None:
    """The values a Literal annotation allows, in the order it lists them."""
    hint = _bare(hint)
    return ", ".join(repr(v) for v in get_args(hint)) if get_origin(hint) is Literal else None
