"""Draining a node (issue 8): new handshakes are refused, open connections close with 1012, the rooms commit what
they took, the node stops by itself, and every message a client was told `sent` is in Postgres."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import asyncpg
import pytest
import trio
from trio_websocket import ConnectionRejected, HandshakeError

from chatd.clients.ws import ChatClient, ChatError, Disconnected
from chatd.protocol import frames as f
from chatd.protocol.errors import CloseCode
from tests.admin_support import http, new_admin
from tests.conftest import Backing, People, make_config, start_node

ROOMS, SENDERS_PER_ROOM, TASKS_PER_SENDER = 4, 2, 4


async def stored(database_url: str, rooms: list[int]) -> set[tuple[int, int, str]]:
    async def query() -> set[tuple[int, int, str]]:
        con = await asyncpg.connect(database_url)
        try:
            rows = await con.fetch("SELECT room_id, seq, client_id::text AS cid FROM messages"
                                   " WHERE room_id = ANY($1::bigint[]) AND client_id IS NOT NULL", rooms)
        finally:
            await con.close()
        return {(r["room_id"], r["seq"], r["cid"]) for r in rows}
    return await trio.to_thread.run_sync(asyncio.run, query())


async def test_drain_closes_with_1012_and_loses_no_acknowledged_message(
        nursery: trio.Nursery, backing: Backing, tmp_path: Path) -> None:
    running = await start_node(nursery, make_config(backing, tmp_path))
    node = running.node
    people = People(nursery, node)
    admin = await new_admin(people, backing)
    rooms: list[int] = []
    senders: list[tuple[ChatClient, int]] = []
    for r in range(ROOMS):
        owner, owner_c = await people.new(f"owner{r}")
        members = [await people.new(f"member{r}") for _ in range(SENDERS_PER_ROOM - 1)]
        group = await owner_c.call(f.CreateGroup, name=f"drain {r}", members=[p.username for p, _ in members])
        room = group.room.room
        rooms.append(room)
        senders += [(owner_c, room)] + [(c, room) for _, c in members]

    acked: list[tuple[int, int, str]] = []
    enough = trio.Event()

    async def send_until_closed(client: ChatClient, room: int) -> None:
        while True:
            client_id = str(uuid.uuid4())
            try:
                sent = await client.send_text(room, f"message {client_id}", client_id)
            except (Disconnected, ChatError):
                return
            acked.append((room, sent.seq, client_id))
            if len(acked) >= 150:
                enough.set()

    async with trio.open_nursery() as load:
        for client, room in senders:
            for _ in range(TASKS_PER_SENDER):
                load.start_soon(send_until_closed, client, room)
        with trio.fail_after(20):
            await enough.wait()
        async with http(node.http_url, admin.access_token) as api:
            answer = await api.post("/api/admin/drain", params={"timeout": 20})
            assert answer.status_code == 200 and answer.json()["state"] == "draining", answer.text
            assert (await api.post("/api/admin/drain")).status_code in (409, 503)  # once is enough
        with pytest.raises((ConnectionRejected, HandshakeError, OSError)) as refused:
            await ChatClient.open_in(nursery, node.url)  # no new connections while draining
        if isinstance(refused.value, ConnectionRejected):
            assert refused.value.status_code == 503
    with trio.fail_after(25):
        await running.stopped.wait()  # the node stopped by itself

    assert node.admin is not None and node.admin.state == "drained"
    assert {client.close_code for client, _ in senders} == {CloseCode.RESTART}
    in_postgres = await stored(backing.database_url, rooms)
    assert len(acked) >= 150
    missing = [a for a in acked if a not in in_postgres]
    assert not missing, f"{len(missing)} acknowledged messages are not in Postgres: {missing[:5]}"
