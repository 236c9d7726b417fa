"""The server installs as one namespace: a wheel built from this tree puts `chatd` and nothing else at the
top of site-packages (no `supervisor`, `protocol`, `console`... to collide with other distributions), and
every part of it imports from there, migrations included, with the three commands answering --version."""

import subprocess
import sys
import sysconfig
import tomllib
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(out), str(ROOT)],
                   check=True, capture_output=True, timeout=300)
    (built,) = out.glob("chatd-*.whl")
    return built


def test_the_wheel_holds_one_top_level_package(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names if not n.split("/")[0].endswith((".dist-info", ".data"))}
    assert tops == {"chatd"}
    assert any(n.startswith("chatd/persistence/migrations/") and n.endswith(".sql") for n in names)
    # the symlinks that show the namespace to type checkers must not bring a second copy of anything
    assert not any(n.startswith(("chatd/chatd/", "actors/", "protocol/")) for n in names)
    assert len(names) == len(set(names))


def test_a_fresh_venv_imports_every_part_from_the_namespace(wheel: Path, tmp_path: Path) -> None:
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=False)
    py = env_dir / "bin" / "python"
    purelib = Path(subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                                  check=True, capture_output=True, text=True).stdout.strip())
    before = set(p.name for p in purelib.iterdir())
    with zipfile.ZipFile(wheel) as z:  # what an installer does with a pure wheel, without reaching PyPI
        z.extractall(purelib)
    added = {p.name for p in purelib.iterdir()} - before
    assert {a for a in added if not a.endswith(".dist-info")} == {"chatd"}
    # the dependencies come from this interpreter's site-packages (which holds no `chatd` of its own: the
    # editable install there is a finder hook that only a site directory runs, not PYTHONPATH)
    deps = sysconfig.get_path("purelib")
    assert not (Path(deps) / "chatd").exists()
    code = ("import importlib, pkgutil, chatd; "
            "[importlib.import_module(m.name) for m in pkgutil.walk_packages(chatd.__path__, 'chatd.')]; "
            "import chatd.protocol, importlib.resources as r; print(chatd.protocol.__file__); "
            "print(len(list(r.files('chatd.persistence.migrations').iterdir())))")
    shown = subprocess.run([str(py), "-c", code], check=True, capture_output=True, text=True, cwd=tmp_path,
                           env={"PYTHONPATH": deps, "PATH": "/usr/bin:/bin"}, timeout=120).stdout.split()
    assert shown[0].startswith(str(purelib / "chatd" / "protocol"))
    assert int(shown[1]) > 10
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert set(scripts) == {"chatd", "chat", "chatctl"}
    for name, target in scripts.items():  # the entry points themselves, as the installed commands call them
        module, func = target.split(":")
        call = f"import sys; from {module} import {func}; sys.exit({func}(['--version']))"
        out = subprocess.run([str(py), "-c", call], capture_output=True, text=True, cwd=tmp_path,
                             env={"PYTHONPATH": deps}, timeout=60)
        assert out.stdout.strip() == f"{name} {VERSION}", out.stderr
