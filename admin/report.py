"""The status report: the live supervision tree with each actor's mailbox, throughput and lag, plus the node's
connections, database pool and Redis. Everything is JSON-ready (docs/admin.md describes each field)."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import trio

from chatd.actors.mailbox import Mailbox
from chatd.actors.room import RoomActor
from chatd.actors.user import UserActor
from chatd.admin.context import AdminContext, owner, subtree
from chatd.supervisor import ChildInfo, Supervisor

Json = dict[str, Any]
DEFAULT_LIMIT = 500  # children listed per supervisor; the most interesting first (restarts, depth, lag)


def supervisors(root: Supervisor) -> Iterator[Supervisor]:
    yield root
    for info in root.children():
        sub = subtree(info)
        if sub is not None:
            yield from supervisors(sub)


def events(ctx: AdminContext, limit: int = 100) -> list[Json]:
    """The latest `limit` start/exit/restart/stop events of every supervisor, oldest first (each keeps 1000)."""
    merged = sorted((e for sup in supervisors(ctx.root) for e in sup.events), key=lambda e: e.at)
    return [{"at": e.at, "supervisor": e.supervisor, "child": e.child, "kind": e.kind, "reason": e.reason}
            for e in merged[-limit:]] if limit > 0 else []


class TreeReport:
    def __init__(self, ctx: AdminContext, limit: int = DEFAULT_LIMIT) -> None:
        self.ctx = ctx
        self.limit = limit
        self.room_seq: dict[int, int] = {}  # committed seq of every loaded room (user lag is measured to it)
        for info in ctx.rooms.supervisor.children():
            actor = owner(info)
            if isinstance(actor, RoomActor) and (seq := actor.stats()["last_seq"]) is not None:
                self.room_seq[actor.room_id] = seq

    def tree(self) -> Json:
        root = self.ctx.root
        return {"name": root.name, "kind": "supervisor", "state": self.ctx.state, "started_at": self.ctx.started_at,
                "restarts": 0, "last_exit": None, "traceback": [], **self._supervisor(root)}

    def _supervisor(self, sup: Supervisor) -> Json:
        children = [self.child(info) for info in sup.children()]
        children.sort(key=lambda c: (-c["restarts"], -(c.get("mailbox") or {}).get("depth", 0), -(c["lag"] or 0)))
        shown = children[:self.limit] if self.limit >= 0 else children
        return {"strategy": "one_for_one", "intensity": sup.intensity, "period": sup.period,
                "children": shown, "omitted": len(children) - len(shown)}

    def child(self, info: ChildInfo) -> Json:
        obj, sub = owner(info), subtree(info)
        node: Json = {"name": info.name, "kind": kind_of(obj, sub), "id": None, "state": info.state.value,
                      "started_at": info.started_at, "restarts": info.restarts, "last_exit": info.last_exit,
                      "traceback": list(info.last_traceback), "restart": info.spec.restart.value,
                      "mailbox": None, "handled": None, "lag": None}
        mailbox = getattr(obj, "mailbox", None)
        if isinstance(mailbox, Mailbox):
            node["mailbox"] = {"depth": mailbox.depth(), "capacity": mailbox.capacity}
            node["handled"] = mailbox.handled
        if isinstance(obj, RoomActor):
            node.update(id=obj.room_id, **obj.stats())
        elif isinstance(obj, UserActor):
            node.update(id=obj.user_id, **self.user_stats(obj))
        if sub is not None:
            node.update(self._supervisor(sub))
        return node

    def user_stats(self, actor: UserActor) -> Json:
        """Devices, rooms, and lag: over its rooms, how far the delivered cursor trails the room's seq."""
        stats = actor.stats()
        rooms: dict[int, tuple[int, int, bool]] = stats["rooms"]  # type: ignore[assignment]
        lag = 0
        for room, (upto, delivered, member) in rooms.items():
            last = max(upto, self.room_seq.get(room, upto)) if member else upto  # the room may know more
            lag += max(0, last - delivered)
        return {"devices": stats["devices"], "rooms": len(rooms), "lag": lag}


def kind_of(obj: object, sub: Supervisor | None) -> str:
    if sub is not None:
        return "supervisor"
    if isinstance(obj, RoomActor):
        return "room"
    if isinstance(obj, UserActor):
        return "user"
    return "worker"


async def timed(check: Any) -> tuple[bool, float | None]:
    """Run a health check (an async callable returning bool) with a 2 s budget: (ok, milliseconds)."""
    start = time.perf_counter()
    ok = False
    with trio.move_on_after(2):
        ok = bool(await check())
    return ok, round((time.perf_counter() - start) * 1000, 2) if ok else None


async def database(ctx: AdminContext) -> Json:
    ok, ms = await timed(ctx.store.ping_ok)
    pool = ctx.store.pool
    return {"status": "ok" if ok else "down", "latency_ms": ms,
            "pool": {"size": pool.get_size(), "idle": pool.get_idle_size(), "min": pool.get_min_size(),
                     "max": pool.get_max_size()}}


async def redis(ctx: AdminContext) -> Json:
    ok, ms = await timed(ctx.cache.ping)
    pool = getattr(ctx.cache.client, "connection_pool", None)  # a cluster client has one per node
    in_use = getattr(pool, "_in_use_connections", None)
    return {"status": "ok" if ok else "down", "latency_ms": ms, "cluster": ctx.cache.cluster,
            "pool": {"max": getattr(pool, "max_connections", None),
                     "in_use": len(in_use) if in_use is not None else None}}


def connections(ctx: AdminContext) -> Json:
    per_user = Counter(d.user_id for d in ctx.gateway.devices if d.user_id and not d.closed)
    return {"total": ctx.gateway.connections, "authenticated": sum(per_user.values()),
            "by_user": [{"user": u, "devices": n} for u, n in per_user.most_common()]}


async def status(ctx: AdminContext, limit: int = DEFAULT_LIMIT, event_limit: int = 20) -> Json:
    now = time.time()
    return {
        "node": {"name": ctx.node_name, "state": ctx.state, "accepting": ctx.gateway.accepting,
                 "started_at": ctx.started_at, "uptime_seconds": round(now - ctx.started_at, 3), "now": now},
        "tree": TreeReport(ctx, limit).tree(),
        "connections": connections(ctx),
        "rooms": {"active": ctx.rooms.count()},
        "users": {"active": ctx.users.count()},
        "database": await database(ctx),
        "redis": await redis(ctx),
        "events": events(ctx, event_limit),
    }
