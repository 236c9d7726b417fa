"""A Python SDK user for the browser specs: the other side of a mixed-client encrypted chat (e2e/mixed.spec.ts).

Run from the repository root: .venv/bin/python web/e2e/sdk_peer.py WS_URL HTTP_URL DIR. It reads one JSON
request a line on stdin, {"id": 1, "op": "signup", ...}, and answers each with one JSON line on stdout,
{"id": 1, "result": ...} or {"id": 1, "error": "..."}; requests run one after another, while the messages
the user receives are read (and decrypted) all along. It stops when stdin closes.

Ops: signup {username, password} -> {user}; open_direct {user} and create_group {name, members} (both
encrypted) -> {room}; remove {room, user} (a member, by name) -> {}; send {room, body} -> {seq}; read {room,
body, timeout} -> {seq, sender} once a message of that room decrypted to that body (an error after `timeout`
seconds, naming what was read instead).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import trio

from chatd.clients.sdk import Chat
from chatd.clients.sdk.events import MessageDecrypted, NewMessage, UnableToDecrypt
from chatd.protocol import frames as f


class Peer:
    """One SDK device, and every message it could decrypt so far: (room, body) -> (seq, sender)."""

    def __init__(self, chat: Chat) -> None:
        self.chat = chat
        self.read: dict[tuple[int, str], tuple[int, int | None]] = {}
        self.undecryptable: list[tuple[int, int]] = []
        self.changed = trio.Event()

    async def watch(self) -> None:
        async for event in self.chat.events():
            if isinstance(event, NewMessage | MessageDecrypted) and event.decrypted is not None:
                m = event.message
                self.read[(m.room, str(event.decrypted.content.get("body")))] = (m.seq, m.sender)
            elif isinstance(event, UnableToDecrypt):
                self.undecryptable.append((event.message.room, event.message.seq))
            self.changed.set()
            self.changed = trio.Event()

    async def until_read(self, room: int, body: str, timeout: float) -> dict[str, int | None]:
        with trio.move_on_after(timeout):
            while (room, body) not in self.read:
                await self.changed.wait()
        if (room, body) not in self.read:
            seen = sorted(b for (r, b) in self.read if r == room)
            raise TimeoutError(f"{body!r} was not decrypted in room {room} after {timeout} s "
                               f"(read there: {seen}; undecryptable: {self.undecryptable})")
        seq, sender = self.read[(room, body)]
        return {"seq": seq, "sender": sender}


async def handle(peer: Peer, nursery: trio.Nursery, req: dict[str, Any]) -> Any:
    chat, op = peer.chat, req.get("op")
    if op == "signup":
        await chat.signup(req["username"], f"{req['username']}@example.com", req["password"])
        await chat.enable_encryption(req["password"])
        nursery.start_soon(peer.watch)
        return {"user": chat.user_id}
    if op == "open_direct":
        return {"room": (await chat.open_direct(req["user"], encrypted=True)).room}
    if op == "create_group":
        return {"room": (await chat.create_group(req["name"], req["members"], encrypted=True)).room}
    if op == "remove":
        await chat.link.call(f.RemoveMember, idempotent=False, room=int(req["room"]), user=req["user"])
        return {}
    if op == "send":
        return {"seq": (await chat.send(int(req["room"]), str(req["body"]))).seq}
    if op == "read":
        return await peer.until_read(int(req["room"]), str(req["body"]), float(req.get("timeout", 15)))
    raise ValueError(f"unknown op {op!r}: signup, open_direct, create_group, remove, send or read")


async def lines(stream: trio.lowlevel.FdStream) -> AsyncIterator[bytes]:
    buffer = b""
    while chunk := await stream.receive_some():
        buffer += chunk
        while b"\n" in buffer:
            line, buffer = buffer.split(b"\n", 1)
            if line.strip():
                yield line


def answer(reply: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(reply) + "\n")
    sys.stdout.flush()


async def main(ws_url: str, http_url: str, folder: Path) -> None:
    async with Chat.open(ws_url, folder / "peer.db", http_url=http_url) as chat, trio.open_nursery() as nursery:
        peer = Peer(chat)
        async for line in lines(trio.lowlevel.FdStream(os.dup(0))):
            req_id = None
            try:
                req = json.loads(line)
                req_id = req.get("id")
                answer({"id": req_id, "result": await handle(peer, nursery, req)})
            except Exception as exc:  # every failure goes back to the spec, which shows it
                answer({"id": req_id, "error": f"{type(exc).__name__}: {exc}"})
        nursery.cancel_scope.cancel()


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit("usage: sdk_peer.py WS_URL HTTP_URL DIR")
    trio.run(main, sys.argv[1], sys.argv[2], Path(sys.argv[3]))
