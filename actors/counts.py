"""Unread and @mention counts of one user's rooms, kept by their UserActor (plain state, no I/O).

New messages from others raise the counts in memory as they are delivered; a read marker (or a delete)
asks for an exact recount from Postgres, from the new read cursor. Whatever changed in one round of the
actor's loop goes to the user's devices as one `counts` frame per room.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Protocol

from chatd.protocol.frames import Counts, Message
from chatd.protocol.mentions import mentions_user

CAP = 1000  # like the unread counts of list_rooms: clients show "999+"


class CountedRoom(Protocol):
    read_seq: int
    unread: int
    mentions: int
    muted: bool


class RoomCounts:
    def __init__(self, user_id: int) -> None:
        self.user_id = user_id
        self.username = ""  # known once the actor has loaded its rooms
        self.changed: set[int] = set()
        self.recount: dict[int, int] = {}  # room -> read cursor to count from

    def delivered(self, room: int, view: CountedRoom, messages: Iterable[Message]) -> None:
        for msg in messages:
            if msg.kind == "system":
                if msg.event and msg.event.get("type") == "message_deleted":
                    self.recount[room] = view.read_seq  # it may have been unread or a mention
                continue
            if msg.sender == self.user_id or msg.seq <= view.read_seq or msg.deleted:
                continue
            view.unread = min(CAP, view.unread + 1)
            if self.username and mentions_user(msg.body, self.username):
                view.mentions = min(CAP, view.mentions + 1)
            self.changed.add(room)

    def read(self, room: int, view: CountedRoom, seq: int) -> None:
        if seq > view.read_seq:
            view.read_seq = seq
            self.recount[room] = seq

    def recounted(self, room: int, view: CountedRoom, unread: int, mentions: int) -> None:
        if (view.unread, view.mentions) != (unread, mentions):
            view.unread, view.mentions = unread, mentions
            self.changed.add(room)

    def muted(self, room: int, view: CountedRoom, muted: bool) -> None:
        if view.muted != muted:
            view.muted = muted
            self.changed.add(room)

    def frames(self, views: Mapping[int, CountedRoom]) -> list[Counts]:
        out = [Counts(room=r, unread=v.unread, mentions=v.mentions, muted=v.muted)
               for r in sorted(self.changed) if (v := views.get(r)) is not None]
        self.changed.clear()
        return out
