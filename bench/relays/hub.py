"""The relays' shared state and frame handling; each relay only adds its websocket I/O.

A Peer is one connection: replies and messages wait in its outbox and its writer sends whatever is
waiting, messages coalesced into `msgs` frames of at most 100 (as chatd's user actor does).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from typing import Any

MAX_BATCH = 100


class Peer:
    def __init__(self, wake: Callable[[], None]) -> None:
        self.name = ""
        self.user_id = 0
        self.replies: list[dict[str, Any]] = []
        self.messages: list[dict[str, Any]] = []
        self._wake = wake

    def reply(self, frame: dict[str, Any]) -> None:
        self.replies.append(frame)
        self._wake()

    def push(self, message: dict[str, Any]) -> None:
        self.messages.append(message)
        self._wake()

    def take(self) -> list[dict[str, Any]]:
        """Every frame to send now: the replies, then the messages in `msgs` frames."""
        frames, self.replies = self.replies, []
        messages, self.messages = self.messages, []
        for i in range(0, len(messages), MAX_BATCH):
            frames.append({"t": "msgs", "messages": messages[i:i + MAX_BATCH], "backlog": False})
        return frames


class Hub:
    def __init__(self) -> None:
        self.users: dict[str, set[Peer]] = {}
        self.user_ids: dict[str, int] = {}
        self.rooms: dict[int, list[str]] = {}
        self.seqs: dict[int, int] = {}
        self.directs: dict[tuple[str, str], int] = {}
        self._room_ids = itertools.count(1)
        self._user_ids = itertools.count(1)

    def leave(self, peer: Peer) -> None:
        if peer.name:
            self.users.get(peer.name, set()).discard(peer)

    def handle(self, peer: Peer, frame: dict[str, Any]) -> None:
        kind, req_id = frame.get("t"), frame.get("id")
        if kind == "send":
            self._send(peer, frame)
        elif kind in ("ack", "read"):
            return
        elif kind == "hello":
            peer.name = str(frame.get("token"))
            peer.user_id = self.user_ids.setdefault(peer.name, next(self._user_ids))
            self.users.setdefault(peer.name, set()).add(peer)
            peer.reply({"t": "welcome", "id": req_id, "version": 1, "user_id": peer.user_id, "username": peer.name})
        elif kind == "create_group":
            names = list(dict.fromkeys([peer.name, *map(str, frame.get("members") or [])]))
            peer.reply(self._room(req_id, self._new_room(names), names))
        elif kind == "open_direct":
            pair = (min(peer.name, str(frame["user"])), max(peer.name, str(frame["user"])))
            if pair not in self.directs:
                self.directs[pair] = self._new_room(list(pair))
            peer.reply(self._room(req_id, self.directs[pair], list(pair)))
        else:
            peer.reply({"t": "error", "id": req_id, "code": "bad_request", "message": f"relay: no {kind!r}"})

    def _new_room(self, names: list[str]) -> int:
        room = next(self._room_ids)
        self.rooms[room], self.seqs[room] = names, 0
        return room

    @staticmethod
    def _room(req_id: Any, room: int, names: list[str]) -> dict[str, Any]:
        return {"t": "room", "id": req_id, "room": {"room": room, "kind": "group", "last_seq": 0,
                                                    "members": [{"user": 0, "username": n} for n in names]}}

    def _send(self, peer: Peer, frame: dict[str, Any]) -> None:
        room = frame.get("room")
        members = self.rooms.get(room) if isinstance(room, int) else None
        if members is None or not isinstance(room, int):
            peer.reply({"t": "error", "id": frame.get("id"), "code": "not_found", "message": "no such room"})
            return
        seq = self.seqs[room] = self.seqs[room] + 1
        ts = int(time.time() * 1000)
        message = {"room": room, "seq": seq, "ts": ts, "kind": "text", "sender": peer.user_id,
                   "client_id": frame.get("client_id"), "body": frame.get("body")}
        peer.reply({"t": "sent", "id": frame.get("id"), "room": room, "seq": seq, "ts": ts,
                    "client_id": frame.get("client_id"), "duplicate": False})
        for name in members:
            for other in self.users.get(name, ()):
                if other is not peer:
                    other.push(message)
