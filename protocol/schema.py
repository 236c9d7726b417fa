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
from collections.abc import Callable, Mapping
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


Check = Callable[[Any, str], Any]  # (value, where) -> the value to keep, or SchemaError naming `where`


@cache
def _plan(cls: type) -> tuple[tuple[str, Check, bool], ...]:
    """Per field: its name, its compiled check, and whether it must be present (required, not Optional)."""
    hints = get_type_hints(cls)
    out = []
    for f in dataclasses.fields(cls):
        required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        tp = hints[f.name]
        out.append((f.name, _compile(tp, f.metadata), required and not _is_optional(tp)))
    return tuple(out)


def build(cls: type, data: Any, path: str = "") -> Any:
    """Turn a decoded mapping into an instance of dataclass ``cls`` or raise SchemaError."""
    if not isinstance(data, dict):
        raise SchemaError(f"field '{path}' must be a map" if path else "frame must be a map")
    kwargs = {}
    for name, check, must in _plan(cls):
        value = data.get(name)
        if value is None:
            if must:
                raise SchemaError(f"missing field '{path}.{name}'" if path else f"missing field '{name}'")
            continue
        kwargs[name] = check(value, f"{path}.{name}" if path else name)
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


def _compile(tp: Any, meta: Mapping[str, Any]) -> Check:
    """The check of one (type, bounds), worked out once per field rather than on every frame."""
    origin = get_origin(tp)
    if _is_union(tp):
        options = [(o, _compile(o, meta)) for o in get_args(tp) if o is not type(None)]
        names = " or ".join(_type_name(o) for o, _ in options)

        def check_union(value: Any, where: str) -> Any:
            fitting = [check for o, check in options if _same_kind(o, value)]
            if not fitting:
                raise SchemaError(f"field '{where}' must be {names}")
            for check in fitting[:-1]:
                try:
                    return check(value, where)
                except SchemaError:
                    pass
            return fitting[-1](value, where)  # its error names the bound that was broken
        return check_union
    if origin is Literal:
        allowed_values = get_args(tp)
        allowed = ", ".join(repr(a) for a in allowed_values)

        def check_literal(value: Any, where: str) -> Any:
            if value not in allowed_values:
                raise SchemaError(f"field '{where}' must be one of {allowed}")
            return value
        return check_literal
    if dataclasses.is_dataclass(tp):
        return lambda value, where: build(tp, value, where)  # type: ignore[arg-type]
    if origin is list:
        (item_tp,) = get_args(tp)
        item = _compile(item_tp, meta.get("items", {}))

        def check_list(value: Any, where: str) -> Any:
            if not isinstance(value, list):
                raise SchemaError(f"field '{where}' must be an array")
            _check_len(value, meta, where, "items")
            return [item(v, f"{where}[{i}]") for i, v in enumerate(value)]
        return check_list
    if origin is dict:
        key_tp, val_tp = get_args(tp)
        key, val = _compile(key_tp, {"min": meta.get("key_min", 0)}), _compile(val_tp, {"min": 0})

        def check_dict(value: Any, where: str) -> Any:
            if not isinstance(value, dict):
                raise SchemaError(f"field '{where}' must be a map")
            _check_len(value, meta, where, "entries")
            return {key(k, f"{where} key"): val(v, f"{where}[{k!r}]") for k, v in value.items()}
        return check_dict
    if tp is bool:
        def check_bool(value: Any, where: str) -> Any:
            if not isinstance(value, bool):
                raise SchemaError(f"field '{where}' must be a boolean")
            return value
        return check_bool
    if tp is int:
        lo, hi = meta.get("min", -INT64_MAX), meta.get("max", INT64_MAX)

        def check_int(value: Any, where: str) -> Any:
            if not isinstance(value, int) or isinstance(value, bool):
                raise SchemaError(f"field '{where}' must be an integer")
            if not lo <= value <= hi:
                raise SchemaError(f"field '{where}' must be between {lo} and {hi}")
            return value
        return check_int
    if tp is float:
        flo, fhi = meta.get("min"), meta.get("max")

        def check_float(value: Any, where: str) -> Any:
            if not isinstance(value, int | float) or isinstance(value, bool):
                raise SchemaError(f"field '{where}' must be a number")
            if (flo is not None and not value >= flo) or (fhi is not None and not value <= fhi):  # nan fits none
                raise SchemaError(f"field '{where}' must be between {flo if flo is not None else '-inf'} and "
                                  f"{fhi if fhi is not None else 'inf'}")
            return float(value)
        return check_float
    if tp is str:
        pattern = meta.get("pattern")
        smin, smax = meta.get("min_len", 0), meta.get("max_len")

        def check_str(value: Any, where: str) -> Any:
            if not isinstance(value, str):
                raise SchemaError(f"field '{where}' must be a string")
            if "\x00" in value:  # Postgres text cannot hold it: refused here rather than failing in a query
                raise SchemaError(f"field '{where}' must not contain NUL characters")
            if len(value) < smin or (smax is not None and len(value) > smax):
                _check_len(value, meta, where, "characters")
            if pattern is not None and not pattern.fullmatch(value):
                raise SchemaError(f"field '{where}' has an invalid format")
            return value
        return check_str
    if tp is Any:
        return lambda value, where: value

    def unsupported(value: Any, where: str) -> Any:
        raise SchemaError(f"field '{where}' has unsupported type {tp!r}")  # a bug in a frame definition
    return unsupported


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
