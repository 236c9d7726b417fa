"""Everything a scenario needs: the worker pool, the cores, options, and the systems to compare."""

from __future__ import annotations

import argparse
import importlib
import inspect
import secrets
import time
import traceback
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any

from bench.pool import WorkerPool
from bench.procs import WORK
from bench.progress import warn
from bench.systems import RELAYS, ChatdSystem, RelaySystem


@dataclass
class Context:
    pool: WorkerPool
    server_core: int | None
    load_core: int | None
    args: argparse.Namespace
    run_id: str = field(default_factory=lambda: secrets.token_hex(3))
    notes: list[str] = field(default_factory=list)

    def tag(self, what: str) -> str:
        """A username prefix unique to this run (usernames are [A-Za-z0-9_.]{3,32})."""
        return f"b{self.run_id}{what[:4]}{int(time.time()) % 100000}"

    def chatd(self, what: str) -> ChatdSystem:
        settings = dict(kv.split("=", 1) for kv in getattr(self.args, "chatd_env", None) or [])
        return ChatdSystem(self.pool, self.server_core, self.tag(what), processes=getattr(self.args, "processes", 1),
                           pinned=not getattr(self.args, "no_pin", False), settings=settings,
                           redis_cluster=getattr(self.args, "redis_cluster", False))

    def peers(self) -> list[str]:
        return [p.strip() for p in str(getattr(self.args, "peers", "relays")).split(",") if p.strip()]

    def systems(self, scenario: str) -> Iterator[tuple[str, AbstractContextManager[Any] | None, str]]:
        """(name, system or None, note) for chatd, then the relays, then the peers of bench/peers/ named in
        --peers. A system that cannot be had comes with None and the reason."""
        yield "chatd", self.chatd(scenario), ""
        wanted = self.peers()
        if "relays" in wanted or "relay" in wanted:
            for name, module in RELAYS.items():
                yield name, RelaySystem(self.pool, self.server_core, self.tag(name), module, name), ""
        external = [p for p in wanted if p not in ("relays", "relay", "none")]
        if not external:
            return
        try:
            found: dict[str, type] = importlib.import_module("bench.peers").PEERS
        except Exception as exc:  # a missing or broken bench/peers/ must not stop the run
            for name in external:
                note = f"peer {name} skipped: importing bench.peers failed: {type(exc).__name__}: {exc}"
                warn(note)
                yield name, None, note
            return
        for name in external:
            cls = found.get(name)
            if cls is None:
                yield name, None, f"peer {name} skipped: not in bench.peers.PEERS ({', '.join(found) or 'empty'})"
                continue
            try:
                peer = _construct(cls)
            except Exception as exc:
                yield name, None, f"peer {name} skipped: {type(exc).__name__}: {exc}"
                continue
            if scenario not in getattr(peer, "scenarios", set()):
                yield name, None, f"peer {name} does not do {scenario}"
                continue
            yield name, peer, ""


def _construct(cls: type) -> Any:
    """Peers take their work directory (bench/.work); a peer class without parameters is built without one."""
    try:
        takes_args = bool(inspect.signature(cls).parameters)
    except (TypeError, ValueError):
        takes_args = False
    return cls(WORK) if takes_args else cls()


def guarded_run(system: Any, scenario: str, params: dict[str, Any]) -> tuple[Any, str]:
    """system.run(...) for a peer we do not control: (result or None, note)."""
    try:
        result = system.run(scenario, params)
    except Exception as exc:
        warn(f"{getattr(system, 'name', system)} raised during {scenario}: {exc}")
        return None, f"raised {type(exc).__name__}: {exc}\n{traceback.format_exc(limit=3)}"
    if result is None:
        return None, "cannot do it (run returned None)"
    return result, ""
