"""`chatctl create-user` / `grant-admin` with no database URL: they find the embedded Postgres in the data
directory as chatd does, share it with the chatd running on it (which keeps it after they exit), and say what
to give when there is none."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import asyncpg

from chatd.embedded import embedded_postgres
from tests.conftest import PASSWORD


def chatctl(data_dir: Path, *argv: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    """The command as an operator runs it: its own process, no CHAT_DATABASE_URL, CHAT_DATA_DIR set."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHAT_")} | {"CHAT_DATA_DIR": str(data_dir)}
    return subprocess.run([sys.executable, "-m", "chatd.console.cli", *argv], input=stdin, capture_output=True,
                          text=True, env=env, timeout=180)


def is_admin(url: str, username: str) -> bool:
    async def ask() -> bool:
        con = await asyncpg.connect(url)
        try:
            return bool(await con.fetchval("SELECT is_admin FROM users WHERE username = $1", username))
        finally:
            await con.close()
    return asyncio.run(ask())


def test_grant_admin_uses_the_embedded_postgres_of_the_data_dir(tmp_path: Path) -> None:
    with embedded_postgres(tmp_path) as url:  # what a running chatd with no CHAT_DATABASE_URL holds
        made = chatctl(tmp_path, "create-user", "ann", "ann@example.com", "--password-stdin", stdin=PASSWORD + "\n")
        assert made.returncode == 0 and "created user ann" in made.stdout, made.stderr
        granted = chatctl(tmp_path, "grant-admin", "ann")
        assert (granted.returncode, granted.stdout.strip(), granted.stderr) == (0, "admin role granted to ann", "")
        assert is_admin(url, "ann")  # the server is still up for the chatd that started it
        nobody = chatctl(tmp_path, "grant-admin", "nobody")
        assert (nobody.returncode, nobody.stdout.strip()) == (1, "no such user: nobody")
    # with no chatd running, the command starts the embedded Postgres itself and stops it after
    revoked = chatctl(tmp_path, "grant-admin", "--revoke", "ann")
    assert (revoked.returncode, revoked.stdout.strip()) == (0, "admin role revoked from ann"), revoked.stderr
    with embedded_postgres(tmp_path) as url:
        assert not is_admin(url, "ann")


def test_grant_admin_with_no_database_anywhere_says_what_to_give(tmp_path: Path) -> None:
    out = chatctl(tmp_path, "grant-admin", "ann")
    assert out.returncode == 2 and "no embedded Postgres in" in out.stderr and "CHAT_DATABASE_URL" in out.stderr
    assert not (tmp_path / "postgres").exists()  # no empty database made on the way
