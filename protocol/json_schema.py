"""The JSON Schema of every frame, exported from the Structs themselves (docs/architecture.md, "One schema
source"). Pure: `document()` builds it, `render()` words it; scripts/gen_types.py writes it to
web/src/protocol/schema.json and generates the web client's TypeScript types from it, and
tests/test_schema_export.py fails when either committed file is behind the Structs.

`python -m chatd.protocol.json_schema` prints it.

Two refinements of msgspec's own schema, which describes what a decoder accepts:

- a field whose default is None is left out rather than sent as nil (docs/protocol.md 1), so its schema is
  the value's alone: optional, never null (a decoder still takes nil for absent);
- a field with another default may be left out by a client, but the server writes every such field
  (`always` in protocol/schema.py), so in the frames and maps the server sends it is required: a client may
  rely on `deleted`, `kind` or `backlog` being there. In what a client sends it stays optional.

And a map of any values says so (`additionalProperties: true`), since a Struct's schema leaving it out means
"no other fields" to the TypeScript generator.
"""

from __future__ import annotations

import json
from typing import Any

import msgspec

from chatd.protocol.frames import FRAME_TYPES, Frame
from chatd.protocol.session import CLIENT_FRAMES

_REF = "#/$defs/{name}"


def document() -> dict[str, Any]:
    """The schema: `$defs` holds every frame and map by class name, `ClientFrame` and `ServerFrame` the two
    unions (tagged by `t`)."""
    client = sorted(CLIENT_FRAMES, key=lambda cls: cls.type)
    server = sorted(set(FRAME_TYPES.values()) - set(CLIENT_FRAMES), key=lambda cls: cls.type)
    (client_schema, server_schema), defs = msgspec.json.schema_components(
        [_union(client), _union(server)], ref_template=_REF)
    defs["ClientFrame"] = {"description": "A frame a client sends.", **client_schema}
    defs["ServerFrame"] = {"description": "A frame the server sends.", **server_schema}
    sent_by_server = _reachable(defs, "ServerFrame")
    assert not sent_by_server & _reachable(defs, "ClientFrame"), "a map both sides send: required for whom?"
    for cls in _structs(client + server):
        properties = defs[cls.__name__]["properties"]
        for field in msgspec.structs.fields(cls):
            if field.default is None:
                properties[field.encode_name] = _not_null(properties[field.encode_name])
            elif field.default_factory is not msgspec.NODEFAULT:
                properties[field.encode_name]["default"] = field.default_factory()
                if cls.__name__ in sent_by_server:
                    defs[cls.__name__].setdefault("required", []).append(field.encode_name)
    _open_maps(defs)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "ChatdProtocol",
        "description": "Every frame of the chatd websocket protocol (docs/protocol.md), generated from "
                       "protocol/frames.py by `python -m chatd.protocol.json_schema`: do not edit.",
        "type": "object",
        "properties": {"client": {"$ref": _REF.format(name="ClientFrame")},
                       "server": {"$ref": _REF.format(name="ServerFrame")}},
        "required": ["client", "server"],
        "additionalProperties": False,
        "$defs": dict(sorted(defs.items())),
    }


def render() -> str:
    return json.dumps(document(), indent=2, ensure_ascii=False) + "\n"


def _not_null(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema of a None-default field without its null (and its default: None)."""
    rest = {k: v for k, v in schema.items() if k not in ("anyOf", "default")}
    options = [o for o in schema.get("anyOf", [schema]) if o != {"type": "null"}]
    return {**rest, **options[0]} if len(options) == 1 else {**rest, "anyOf": options}


def _open_maps(schema: Any) -> None:
    """A map with any values (msgspec leaves out `additionalProperties` for `Any`) says it takes any keys."""
    if isinstance(schema, dict):
        if schema.get("type") == "object" and "properties" not in schema and "additionalProperties" not in schema:
            schema["additionalProperties"] = True
        for value in schema.values():
            _open_maps(value)
    elif isinstance(schema, list):
        for value in schema:
            _open_maps(value)


def _union(types: list[type[Frame]]) -> Any:
    out: Any = types[0]
    for cls in types[1:]:
        out = out | cls
    return out


def _reachable(defs: dict[str, Any], name: str) -> set[str]:
    """The names of the $defs that `name` refers to, directly or through others."""
    seen: set[str] = set()
    todo = [name]
    while todo:
        for ref in _refs(defs[todo.pop()]):
            if ref not in seen:
                seen.add(ref)
                todo.append(ref)
    return seen


def _refs(schema: Any) -> list[str]:
    if isinstance(schema, dict):
        own = [schema["$ref"].rsplit("/", 1)[1]] if isinstance(schema.get("$ref"), str) else []
        return own + [r for v in schema.values() for r in _refs(v)]
    if isinstance(schema, list):
        return [r for v in schema for r in _refs(v)]
    return []


def _structs(roots: list[type[Frame]]) -> list[type[msgspec.Struct]]:
    """Every Struct class the frames are made of, themselves included."""
    found: dict[str, type[msgspec.Struct]] = {}
    for info in msgspec.inspect.multi_type_info(roots):
        _collect(info, found)
    return list(found.values())


def _collect(info: Any, found: dict[str, type[msgspec.Struct]]) -> None:
    if isinstance(info, msgspec.inspect.StructType):
        if info.cls.__name__ in found:
            return
        found[info.cls.__name__] = info.cls
        for field in info.fields:
            _collect(field.type, found)
    elif isinstance(info, msgspec.inspect.UnionType):
        for member in info.types:
            _collect(member, found)
    elif isinstance(info, msgspec.inspect.Metadata):
        _collect(info.type, found)
    elif isinstance(info, msgspec.inspect.ListType):
        _collect(info.item_type, found)
    elif isinstance(info, msgspec.inspect.DictType):
        _collect(info.value_type, found)


if __name__ == "__main__":
    print(render(), end="")
