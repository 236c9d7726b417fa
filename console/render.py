"""Turning an admin status report into rows and text (shared by `chatctl status` and the console)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

Json = dict[str, Any]
SORT_KEYS = ("depth", "restarts", "lag", "handled", "name")


@dataclass(frozen=True, slots=True)
class Row:
    """One supervised child (supervisor, worker or actor) of the tree, with where it sits."""

    node: Json
    level: int
    parent: str | None

    @property
    def name(self) -> str:
        return str(self.node["name"])

    @property
    def kind(self) -> str:
        return str(self.node["kind"])

    @property
    def depth(self) -> int:
        return int((self.node.get("mailbox") or {}).get("depth", 0))

    def sort_value(self, key: str) -> Any:
        if key == "depth":
            return -self.depth
        if key == "name":
            return self.name
        return -(self.node.get(key) or 0)


def rows(tree: Json, level: int = 0, parent: str | None = None) -> Iterator[Row]:
    """Every node of the tree, depth first, the root included."""
    yield Row(tree, level, parent)
    for child in tree.get("children") or []:
        yield from rows(child, level + 1, tree["name"])


def actor_rows(status: Json, sort: str = "depth") -> list[Row]:
    """The leaves (actors and workers) of a report, sorted for the table (largest first, names A..Z)."""
    leaves = [r for r in rows(status["tree"]) if r.kind != "supervisor"]
    return sorted(leaves, key=lambda r: (r.sort_value(sort), r.name))


def ago(ts: float | None, now: float | None = None) -> str:
    if ts is None:
        return "-"
    seconds = max(0.0, (now or time.time()) - ts)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f}{unit}"
    return f"{seconds:.0f}s"


def mailbox(node: Json) -> str:
    box = node.get("mailbox")
    return f"{box['depth']}/{box['capacity']}" if box else "-"


def dash(value: Any) -> str:
    return "-" if value is None else str(value)


def detail(node: Json, now: float | None = None) -> str:
    """A multi-line description of one tree node (the console's detail pane)."""
    lines = [f"{node['name']}  ({node['kind']}{', id ' + str(node['id']) if node.get('id') is not None else ''})",
             f"state      {node['state']}   restart policy {node.get('restart', '-')}",
             f"started    {ago(node.get('started_at'), now)} ago   restarts {node['restarts']}",
             f"mailbox    {mailbox(node)}   handled {dash(node.get('handled'))}   lag {dash(node.get('lag'))}"]
    for key in ("devices", "rooms", "last_seq", "members"):
        if node.get(key) is not None:
            lines.append(f"{key:<10} {node[key]}")
    if node.get("children") is not None:
        lines.append(f"children   {len(node['children'])} shown, {node.get('omitted', 0)} omitted"
                     f"   intensity {node.get('intensity')} in {node.get('period')}s")
    lines.append(f"last exit  {dash(node.get('last_exit'))}")
    lines.extend(f"    {frame}" for frame in node.get("traceback") or [])
    return "\n".join(lines)


def summary(status: Json) -> str:
    n, c = status["node"], status["connections"]
    db, redis = status["database"], status["redis"]
    return (f"node {n['name']} [{n['state']}] up {ago(n['started_at'], n.get('now'))}  "
            f"connections {c['total']} ({c['authenticated']} authed)  rooms {status['rooms']['active']}  "
            f"users {status['users']['active']}  postgres {db['status']} "
            f"pool {db['pool']['size'] - db['pool']['idle']}/{db['pool']['max']}  redis {redis['status']}")


def status_text(status: Json, sort: str = "depth", top: int = 20) -> str:
    """`chatctl status` without --json: summary, tree of supervisors, busiest actors, recent events."""
    out = [summary(status), "", "supervision tree:"]
    for row in rows(status["tree"]):
        if row.kind == "supervisor" or row.level <= 1:
            node = row.node
            extra = f"  {len(node['children'])} children" if row.kind == "supervisor" else ""
            out.append(f"{'  ' * row.level}{node['name']:<20} {row.kind:<10} {node['state']:<9} "
                       f"restarts {node['restarts']}{extra}"
                       + (f"  last exit: {node['last_exit']}" if node.get("last_exit") not in (None, "normal") else ""))
    actors = [r for r in actor_rows(status, sort) if r.kind in ("room", "user")][:top]
    if actors:
        out += ["", f"actors by {sort} (top {top}):",
                f"{'name':<22} {'state':<9} {'mailbox':>10} {'handled':>8} {'lag':>6} {'restarts':>8}  last exit"]
        out += [f"{r.name:<22} {r.node['state']:<9} {mailbox(r.node):>10} {dash(r.node.get('handled')):>8} "
                f"{dash(r.node.get('lag')):>6} {r.node['restarts']:>8}  {dash(r.node.get('last_exit'))}"
                for r in actors]
    if status.get("events"):
        out += ["", "recent events:"]
        out += [f"{ago(e['at'], status['node'].get('now')):>6} ago  {e['supervisor']}/{e['child']} {e['kind']}"
                + (f": {e['reason']}" if e.get("reason") else "") for e in status["events"]]
    return "\n".join(out)
