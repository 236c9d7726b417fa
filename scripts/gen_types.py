"""Write the frames' JSON Schema and the web client's TypeScript types generated from it (`npm run gen:types`).

    python scripts/gen_types.py [OUT_DIR]

OUT_DIR defaults to web/src/protocol, where both files are committed: schema.json (chatd.protocol.json_schema)
and frames.gen.ts (json-schema-to-typescript, web/package.json's devDependency). tests/test_schema_export.py
writes them to a temporary folder and compares. Run it after changing a frame in protocol/.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from chatd.protocol.json_schema import render

ROOT = Path(__file__).resolve().parent.parent
WEB = ROOT / "web"
SCHEMA = "schema.json"
TYPES = "frames.gen.ts"
BANNER = ("/* Generated from web/src/protocol/schema.json (the frames of protocol/frames.py) by `npm run gen:types`:"
          " do not edit. */")


def write_schema(out: Path) -> Path:
    path = out / SCHEMA
    path.write_text(render(), encoding="utf-8")
    return path


def json2ts() -> list[str] | None:
    """How to run json-schema-to-typescript: web/'s own install, or npx fetching the version web/ locks;
    None without node."""
    local = WEB / "node_modules" / ".bin" / "json2ts"
    if local.exists():
        return [str(local)]
    npx = shutil.which("npx")
    if npx is None:
        return None
    import json

    lock = json.loads((WEB / "package-lock.json").read_text())
    version = lock["packages"]["node_modules/json-schema-to-typescript"]["version"]
    return [npx, "--yes", "--package", f"json-schema-to-typescript@{version}", "json2ts"]


def write_types(schema: Path, out: Path, command: list[str]) -> Path:
    path = out / TYPES
    # no index signature on every interface (a Struct ignores unknown fields, but they are no part of its type),
    # and arrays as arrays (minItems would make tuples of them)
    subprocess.run([*command, "--input", str(schema), "--output", str(path), "--no-additionalProperties",
                    "--ignoreMinAndMaxItems", "--bannerComment", BANNER], check=True, cwd=WEB, timeout=300)
    return path


def main() -> None:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else WEB / "src" / "protocol"
    schema = write_schema(out)
    command = json2ts()
    if command is None:
        sys.exit(f"wrote {schema}; no npx to generate {TYPES} with: install node and run `npm ci` in web/")
    write_types(schema, out, command)


if __name__ == "__main__":
    main()
