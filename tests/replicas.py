"""A primary Postgres and a streaming standby of it, started for a test module with Debian's PostgreSQL 15.

`replicated_postgres` runs initdb, starts the primary on a free port, copies it with `pg_basebackup -R`
(which writes the standby's primary_conninfo and standby.signal) and starts the standby on another port;
both listen on 127.0.0.1 only, trust local connections and run without fsync (test data). Postgres refuses to
run as root, so under root every server command runs as the `postgres` OS user (setpriv) in a temp directory
that user owns. Without the binaries (or that user, under root) `missing()` says why, and the tests skip.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from tests.faults.services import free_port

PG_BIN = Path("/usr/lib/postgresql/15/bin")
DATABASE = "chat"
SERVER_SETTINGS = ("listen_addresses=127.0.0.1", "fsync=off", "full_page_writes=off",
                   "wal_level=replica", "max_wal_senders=4", "hot_standby=on", "wal_receiver_status_interval=1s")


def missing() -> str | None:
    """Why the replicated pair cannot be started here, or None."""
    for tool in ("initdb", "pg_ctl", "pg_basebackup", "postgres"):
        if not (PG_BIN / tool).exists():
            return f"PostgreSQL 15 binaries not found ({PG_BIN / tool} is absent)"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root and there is no `postgres` OS user to run Postgres as"
        if shutil.which("setpriv") is None:
            return "running as root and setpriv (util-linux) is absent"
    return None


def _as_owner(argv: list[str]) -> list[str]:
    """`argv` run as the postgres OS user when we are root (Postgres refuses root), else as is."""
    if os.geteuid() != 0:
        return argv
    return ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", "--", *argv]


def _run(argv: list[str]) -> None:
    done = subprocess.run(_as_owner(argv), capture_output=True, text=True, timeout=60, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({done.returncode}): {done.stdout}{done.stderr}")


def _query(url: str, sql: str) -> object:
    async def go() -> object:
        con = await asyncpg.connect(url, timeout=5)
        try:
            return await con.fetchval(sql)
        finally:
            await con.close()
    return asyncio.run(go())


@dataclass
class PgServer:
    """One Postgres data directory on a port, started and stopped with pg_ctl."""

    data: Path
    port: int
    sockets: Path

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        options = " ".join(f"-c {s}" for s in (*SERVER_SETTINGS, f"port={self.port}",
                                                f"unix_socket_directories={self.sockets}"))
        _run([str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.data.parent / f"{self.data.name}.log"),
              "-o", options, "-w", "-t", "30", "start"])

    def stop(self) -> None:
        _run([str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop"])

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()


@dataclass
class ReplicatedPostgres:
    primary: PgServer
    standby: PgServer

    @property
    def primary_url(self) -> str:
        return self.primary.url(DATABASE)

    @property
    def standby_url(self) -> str:
        return self.standby.url(DATABASE)

    def pause_replay(self) -> None:
        _query(self.standby.url(), "SELECT pg_wal_replay_pause()")

    def resume_replay(self) -> None:
        _query(self.standby.url(), "SELECT pg_wal_replay_resume()")

    def caught_up(self, timeout: float = 10.0) -> None:
        """Wait until the standby has replayed everything the primary has written so far."""
        target = _query(self.primary.url(), "SELECT pg_current_wal_lsn()::text")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if _query(self.standby.url(), f"SELECT pg_last_wal_replay_lsn() >= '{target}'::pg_lsn"):
                return
            time.sleep(0.02)
        raise TimeoutError(f"the standby did not replay up to {target} within {timeout} s")


@contextlib.contextmanager
def replicated_postgres() -> Iterator[ReplicatedPostgres]:
    """A primary with database `chat` and a hot standby streaming from it; both removed afterwards."""
    root = Path(tempfile.mkdtemp(prefix="chatd-replicas-"))
    if os.geteuid() == 0:
        owner = pwd.getpwnam("postgres")
        os.chown(root, owner.pw_uid, owner.pw_gid)
    primary = PgServer(root / "primary", free_port(), root)
    standby = PgServer(root / "standby", free_port(), root)
    try:
        _run([str(PG_BIN / "initdb"), "-D", str(primary.data), "-U", "postgres", "-A", "trust", "--no-sync",
              "-E", "UTF8", "--locale=C"])
        primary.start()
        _query(primary.url(), f"CREATE DATABASE {DATABASE}")
        _run([str(PG_BIN / "pg_basebackup"), "-h", "127.0.0.1", "-p", str(primary.port), "-U", "postgres",
              "-D", str(standby.data), "-R", "-X", "stream", "--checkpoint=fast", "--no-sync"])
        standby.start()
        pair = ReplicatedPostgres(primary, standby)
        pair.caught_up()
        yield pair
    finally:
        for server in (standby, primary):
            if server.running():
                with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
                    server.stop()
        shutil.rmtree(root, ignore_errors=True)
