"""A user actor that stops (the node stops, or it lingered out) keeps what its devices acked just before:
acks still in its mailbox move its cursors, which it then hands to the cursor writer (actors/user.py)."""

from typing import Any, cast

import trio

from chatd.actors.device import Device
from chatd.actors.items import AckFrom, UserItem
from chatd.actors.mailbox import Mailbox
from chatd.actors.user import CursorSink, DeviceState, RoomView, UserActor, UserSettings
from chatd.persistence.store import Store


async def test_acks_queued_when_the_actor_stops_still_move_its_cursors() -> None:
    send, _ = trio.open_memory_channel[Any](8)
    phone = Device(7, send)
    mailbox = Mailbox[UserItem](8)
    actor = UserActor(7, mailbox, cast(Store, None), cast(CursorSink, None), UserSettings(), lambda: None)
    actor.rooms = {3: RoomView(joined_seq=1, left_seq=None, last_seq=10, delivered=4)}
    actor.devices = {phone.id: DeviceState(phone, pushed={3: 10})}
    assert mailbox.offer(AckFrom(phone, 3, 9))
    assert mailbox.offer(AckFrom(phone, 3, 10, read=True))
    actor._shutdown(hand_over=False)
    assert actor.dirty == {"delivered": {3: 9}, "read": {3: 10}}
    assert phone.closed  # and the device is told to reconnect
