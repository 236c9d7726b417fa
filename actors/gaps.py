"""GapWatch: the safety net under the bus (actors/bus.py). Pub/sub may drop news; Postgres never does.

Every `period` seconds one query asks Postgres, for the users with an actor in this process, which of
their rooms hold messages past what they have acknowledged, and tells each such user actor the room's
head (`RoomHead`); likewise, for their devices with to-device messages waiting, the highest id
(`InboxArrived`). A user actor whose devices are behind that head syncs the rest from Postgres, and one
that never heard of the room (its `member_added` news was lost) loads the membership. So a lost bus
message costs at most two periods, and never a message.

A head is passed on only once two looks in a row saw it (at the lower of the two values): a message this
process has just committed is in Postgres a moment before the room actor's own fan-out reaches the user
actor, and syncing it from Postgres in that moment would send it back to the device that sent it (the
user actor knows a device's own messages from that fan-out). One period later, that fan-out is through.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Protocol

import trio

from chatd.actors.items import InboxArrived, RoomHead, UserItem
from chatd.persistence.errors import StoreUnavailable
from chatd.persistence.store import Store

log = logging.getLogger("chatd.gaps")


class Users(Protocol):
    def offer(self, key: int, item: UserItem, /) -> bool: ...


class GapWatch:
    def __init__(self, store: Store, online: Callable[[], list[int]], users: Users, period: float) -> None:
        self.store = store
        self.online = online
        self.users = users
        self.period = period
        self._last_look: dict[tuple[int, int], int] = {}  # (user, room) -> last_seq at the previous look

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        while True:
            await trio.sleep(self.period)
            users = self.online()
            if not users:
                continue
            try:
                heads = await self.store.room_heads(users)
                inboxes = await self.store.to_device_heads(users)
            except StoreUnavailable as exc:
                log.warning("gap check skipped: %s", exc)
                continue
            previous, self._last_look = self._last_look, {(user, room): seq for user, room, seq in heads}
            for (user, room), last_seq in self._last_look.items():
                before = previous.get((user, room))
                if before is not None:
                    self.users.offer(user, RoomHead(room, min(before, last_seq)))
            for user, device, head in inboxes:  # to-device messages whose news the bus lost
                self.users.offer(user, InboxArrived(frozenset({device}), head))
