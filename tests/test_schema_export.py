"""The frames have one definition (protocol/frames.py): the JSON Schema and the web client's TypeScript types
committed in web/src/protocol are generated from it (`npm run gen:types`) and must be current; and every bound
the protocol promises is in the Structs, where the decoder enforces it."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path
from typing import Any

import msgspec
import pytest

from chatd.protocol import FRAME_TYPES
from chatd.protocol.json_schema import document, render
from chatd.protocol.schema import INT64_MAX, NO_NUL

ROOT = Path(__file__).resolve().parent.parent
COMMITTED = ROOT / "web" / "src" / "protocol"


def gen_types() -> Any:
    spec = importlib.util.spec_from_file_location("gen_types", ROOT / "scripts" / "gen_types.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_committed_json_schema_is_current(tmp_path: Path) -> None:
    written = gen_types().write_schema(tmp_path)
    assert written.read_text() == (COMMITTED / "schema.json").read_text(), \
        "web/src/protocol/schema.json is behind protocol/: run `npm run gen:types` in web/"


def test_the_committed_typescript_types_are_current(tmp_path: Path) -> None:
    if shutil.which("npx") is None:
        pytest.skip("no npx: the TypeScript half needs node")
    module = gen_types()
    command = module.json2ts()
    assert command is not None
    written = module.write_types(module.write_schema(tmp_path), tmp_path, command)
    # compared word by word: without web/node_modules, npx may bring another prettier, which lays out the same
    # types differently
    assert written.read_text().split() == (COMMITTED / "frames.gen.ts").read_text().split(), \
        "web/src/protocol/frames.gen.ts is behind protocol/: run `npm run gen:types` in web/"


def test_the_schema_names_every_frame_and_what_the_server_always_sends() -> None:
    schema = document()
    defs = schema["$defs"]
    tags = {ref["$ref"].rsplit("/", 1)[1] for side in ("ClientFrame", "ServerFrame") for ref in defs[side]["anyOf"]}
    assert tags == {cls.__name__ for cls in FRAME_TYPES.values()}
    assert defs["Send"]["properties"]["t"] == {"enum": ["send"]}
    # the server always writes `deleted` and `kind`; a client may leave out `kind` (and `body`) of a send
    assert {"deleted", "kind"} <= set(defs["Message"]["required"])
    assert "kind" not in defs["Send"]["required"] and defs["Send"]["properties"]["kind"]["default"] == "text"
    # None is left out, never sent: an optional field's schema is its value's
    assert defs["Message"]["properties"]["sender"] == {"type": "integer", "minimum": 1, "maximum": INT64_MAX}
    assert render().endswith("}\n")


def _bounds_missing(info: Any, where: str) -> list[str]:
    """Integers without both bounds and strings without a pattern (the NUL check at least), anywhere in `info`."""
    mi = msgspec.inspect
    if isinstance(info, mi.IntType):
        return [] if info.ge is not None and info.le is not None and info.le <= INT64_MAX else [where]
    if isinstance(info, mi.StrType):
        return [] if info.pattern is not None else [where]
    if isinstance(info, mi.StructType):
        return [m for f in info.fields for m in _bounds_missing(f.type, f"{where}.{f.name}")]
    if isinstance(info, mi.UnionType):
        return [m for t in info.types for m in _bounds_missing(t, where)]
    if isinstance(info, mi.ListType):
        return _bounds_missing(info.item_type, f"{where}[]")
    if isinstance(info, mi.DictType):
        return _bounds_missing(info.key_type, f"{where} key") + _bounds_missing(info.value_type, f"{where}[]")
    return []


def test_every_integer_is_bounded_and_every_string_refuses_nul() -> None:
    """An unbounded int would take up to 2^64-1 (past Postgres' bigint), a plain str a NUL (which Postgres
    text cannot hold): each field says its bounds, as `num()` and `text()` give them."""
    missing = [m for name, cls in sorted(FRAME_TYPES.items()) for m in _bounds_missing(msgspec.inspect.type_info(cls),
                                                                                       name)]
    assert missing == []
    send = msgspec.inspect.type_info(FRAME_TYPES["send"])
    assert isinstance(send, msgspec.inspect.StructType)
    assert NO_NUL in {f.type.pattern for f in send.fields if isinstance(f.type, msgspec.inspect.StrType)}
