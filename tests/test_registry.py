"""The gateway's registry (gateway/registry.py): every client frame has a handler, and hello comes first."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from chatd.clients.ws import ChatError
from chatd.gateway.registry import ROUTES
from chatd.protocol import frames as f
from chatd.protocol.errors import ErrorCode
from chatd.protocol.session import CLIENT_FRAMES, Session
from tests.conftest import People

GATEWAY = Path(__file__).resolve().parent.parent / "gateway"


def test_every_client_frame_type_has_a_handler() -> None:
    assert set(ROUTES) == set(CLIENT_FRAMES)
    assert all(callable(route.handler) for route in ROUTES.values())


def test_only_accounts_and_hello_itself_come_before_hello() -> None:
    """As docs/protocol.md section 2 says."""
    before = {kind for kind, route in ROUTES.items() if not route.needs_hello}
    assert before == {f.Signup, f.Login, f.Refresh, f.Logout, f.Hello}


def test_a_frame_that_needs_hello_is_refused_before_it() -> None:
    session = Session()
    refused = session.check(f.Ping(id=4), ROUTES[f.Ping].needs_hello)
    assert refused is not None and refused.code is ErrorCode.UNAUTHORIZED and refused.id == 4
    assert session.check(f.Refresh(id=5, refresh_token="x" * 43), ROUTES[f.Refresh].needs_hello) is None
    session.authenticated(7, 2)
    assert session.check(f.Ping(id=6), ROUTES[f.Ping].needs_hello) is None
    again = session.check(f.Hello(id=8, version=2, token="t"), ROUTES[f.Hello].needs_hello)
    assert again is not None and again.code is ErrorCode.CONFLICT


async def test_the_server_refuses_a_request_before_hello_and_serves_it_after(people: People) -> None:
    ann = await people.signup("ann")
    client = await people.raw()
    with pytest.raises(ChatError) as refused:
        await client.call(f.ListRooms)
    assert refused.value.code == "unauthorized"
    await client.hello(ann.access_token)
    assert isinstance(await client.call(f.ListRooms), f.Rooms)


def test_the_gateway_modules_import_no_cycle() -> None:
    """Handlers import what is below them (context, checks, services); only the registry imports them all."""
    graph: dict[str, set[str]] = {}
    for path in GATEWAY.glob("*.py"):
        tree = ast.parse(path.read_text())
        graph[path.stem] = {
            name.split(".")[2] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module
            for name in ([node.module] + [f"{node.module}.{a.name}" for a in node.names])
            if name.startswith("chatd.gateway.") and len(name.split(".")) > 2
            and (GATEWAY / f"{name.split('.')[2]}.py").exists()}

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        return any(nxt == goal or (nxt not in seen and reaches(nxt, goal, seen | {nxt}))
                   for nxt in graph.get(start, ()))
    assert [m for m in graph if reaches(m, m, set())] == []
    assert not any("registry" in deps for name, deps in graph.items() if name != "connection")
