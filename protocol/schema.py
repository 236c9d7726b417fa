"""Validation of decoded msgpack values against frame dataclasses.

Each frame is a dataclass; its annotations give the wire types and ``field(metadata=...)`` gives the
bounds (``min``/``max`` for numbers, ``min_len``/``max_len`` for strings, lists and maps, ``pattern``
for strings). One generic walker validates every frame, so no frame carries hand-written checks.
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from collections.abc import Mapping
from functools import cache
from typing import Any, Literal, get_args, get_origin, get_type_hints

INT64_MAX = 2**63 - 1


class SchemaError(ValueError):
    """A value does not fit the frame's schema; the message names the field and the problem."""


def bounded(*, min: float | None = None, max: float | None = None, min_len: int | None = None,
            max_len: int | None = None, pattern: str | None = None, items: Mapping[str, Any] | None = None,
            default: Any = dataclasses.MISSING) -> Any:
    """Field bounds; `items` holds the bounds of each element of a list field (same keys)."""
    meta = {k: v for k, v in dict(min=min, max=max, min_len=min_len, max_len=max_len,
                                   pattern=re.compile(pattern) if pattern else None, items=items).items()
            if v is not None}
    if default is dataclasses.MISSING:
        return dataclasses.field(metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


@cache
def _fields(cls: type) -> tuple[tuple[str, Any, Mapping[str, Any], bool], ...]:
    hints = get_type_hints(cls)
    out = []
    for f in dataclasses.fields(cls):
        required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        out.append((f.name, hints[f.name], f.metadata, required))
    return tuple(out)


def build(cls: type, data: Any, path: str = "") -> Any:
    """Turn a decoded mapping into an instance of dataclass ``cls`` or raise SchemaError."""
    if not isinstance(data, dict):
        raise SchemaError(f"field '{path}' must be a map" if path else "frame must be a map")
    kwargs = {}
    for name, tp, meta, required in _fields(cls):
        where = f"{path}.{name}" if path else name
        if name not in data or data[name] is None:
            if required and not _is_optional(tp):
                raise SchemaError(f"missing field '{where}'")
            continue
        kwargs[name] = _check(tp, data[name], meta, where)
    return cls(**kwargs)


def _is_optional(tp: Any) -> bool:
    return _is_union(tp) and type(None) in get_args(tp)


def _is_union(tp: Any) -> bool:
    return get_origin(tp) in (typing.Union, types.UnionType)


def _type_name(tp: Any) -> str:
    if dataclasses.is_dataclass(tp):
        return "map"
    return {int: "integer", str: "string", bool: "boolean", float: "number", list: "array",
            dict: "map"}.get(get_origin(tp) or tp, str(tp))


def _check(tp: Any, value: Any, meta: Mapping[str, Any], where: str) -> Any:
    origin = get_origin(tp)
    if _is_union(tp):
        options = [a for a in get_args(tp) if a is not type(None)]
        fitting = [o for o in options if _same_kind(o, value)]
        if not fitting:
            names = " or ".join(_type_name(o) for o in options)
            raise SchemaError(f"field '{where}' must be {names}")
        for option in fitting[:-1]:
            try:
                return _check(option, value, meta, where)
            except SchemaError:
                pass
        return _check(fitting[-1], value, meta, where)  # its error names the bound that was broken
    if origin is Literal:
        if value not in get_args(tp):
            allowed = ", ".join(repr(a) for a in get_args(tp))
            raise SchemaError(f"field '{where}' must be one of {allowed}")
        return value
    if dataclasses.is_dataclass(tp):
        return build(tp, value, where)  # type: ignore[arg-type]
    if origin is list:
        if not isinstance(value, list):
            raise SchemaError(f"field '{where}' must be an array")
        _check_len(value, meta, where, "items")
        (item_tp,) = get_args(tp)
        item_meta = meta.get("items", {})
        return [_check(item_tp, v, item_meta, f"{where}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise SchemaError(f"field '{where}' must be a map")
        _check_len(value, meta, where, "entries")
        key_tp, val_tp = get_args(tp)
        return {_check(key_tp, k, {"min": meta.get("key_min", 0)}, f"{where} key"):
                _check(val_tp, v, {"min": 0}, f"{where}[{k!r}]") for k, v in value.items()}
    if tp is bool:
        if not isinstance(value, bool):
            raise SchemaError(f"field '{where}' must be a boolean")
        return value
    if tp is int:
        if not isinstance(value, int) or isinstance(value, bool):
            raise SchemaError(f"field '{where}' must be an integer")
        lo, hi = meta.get("min", -INT64_MAX), meta.get("max", INT64_MAX)
        if not lo <= value <= hi:
            raise SchemaError(f"field '{where}' must be between {lo} and {hi}")
        return value
    if tp is float:
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise SchemaError(f"field '{where}' must be a number")
        lo, hi = meta.get("min"), meta.get("max")
        if (lo is not None and not value >= lo) or (hi is not None and not value <= hi):  # nan fits no bound
            raise SchemaError(f"field '{where}' must be between {lo if lo is not None else '-inf'} and "
                              f"{hi if hi is not None else 'inf'}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise SchemaError(f"field '{where}' must be a string")
        if "\x00" in value:  # Postgres text cannot hold it: refused here rather than failing in a query
            raise SchemaError(f"field '{where}' must not contain NUL characters")
        _check_len(value, meta, where, "characters")
        pattern = meta.get("pattern")
        if pattern is not None and not pattern.fullmatch(value):
            raise SchemaError(f"field '{where}' has an invalid format")
        return value
    if tp is Any:
        return value
    raise SchemaError(f"field '{where}' has unsupported type {tp!r}")  # a bug in a frame definition


def _same_kind(tp: Any, value: Any) -> bool:
    """Whether `value` has the wire type of `tp` (bounds aside): picks the branch of a union."""
    base = get_origin(tp) or tp
    if base is Literal:
        return value in get_args(tp)
    if dataclasses.is_dataclass(tp) or base is dict:
        return isinstance(value, dict)
    if base is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if base is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    return base is Any or (isinstance(base, type) and isinstance(value, base))


def _check_len(value: Any, meta: Mapping[str, Any], where: str, unit: str) -> None:
    lo, hi = meta.get("min_len", 0), meta.get("max_len")
    if len(value) < lo:
        raise SchemaError(f"field '{where}' needs at least {lo} {unit}")
    if hi is not None and len(value) > hi:
        raise SchemaError(f"field '{where}' allows at most {hi} {unit}")


def unbuild(obj: Any) -> Any:
    """Dataclass -> plain msgpack-able value; fields that are None are left out."""
    if isinstance(obj, str | int | float | bytes):
        return obj
    names = _FIELD_NAMES.get(type(obj))
    if names is None:
        if not dataclasses.is_dataclass(obj) or isinstance(obj, type):
            if isinstance(obj, list | tuple):
                return [unbuild(v) for v in obj]
            if isinstance(obj, dict):
                return {k: unbuild(v) for k, v in obj.items()}
            return obj
        names = _FIELD_NAMES[type(obj)] = tuple(f.name for f in dataclasses.fields(obj))
    return {name: unbuild(v) for name in names if (v := getattr(obj, name)) is not None}


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}  # dataclass -> its field names, filled on first use
