"""In-app notifications: unread and @mention counts pushed as they change, per-room mute."""

from __future__ import annotations

import pytest
import trio

from chatd.clients.ws import ChatClient, ChatError
from chatd.protocol import frames as f
from tests.conftest import People


async def counts(client: ChatClient, room: int, unread: int, mentions: int) -> f.Counts:
    """Wait for the `counts` frame saying exactly this (earlier ones on the way are skipped)."""
    with trio.fail_after(5):
        while True:
            frame = await client.next_of(f.Counts)
            if frame.room == room and (frame.unread, frame.mentions) == (unread, mentions):
                return frame


async def summary(client: ChatClient, room: int) -> f.RoomSummary:
    return {r.room: r for r in (await client.call(f.ListRooms)).rooms}[room]


async def test_unread_and_mention_counts_follow_messages_and_reads(people: People) -> None:
    (_, ann_c), (bob, bob_c), (cat, cat_c) = [await people.new(n) for n in ("ann", "bob", "cat")]
    room = (await ann_c.call(f.CreateGroup, name="c", members=[bob.user_id, cat.user_id])).room.room
    await bob_c.collect(room, 1)
    await ann_c.send_text(room, "hi all")
    await counts(bob_c, room, 1, 0)
    second = await ann_c.send_text(room, f"hey @{bob.username}, and mail me at x@{bob.username}.com")
    await counts(bob_c, room, 2, 1)
    third = await cat_c.send_text(room, f"@{bob.username.upper()}.")  # case and the full stop do not matter
    await counts(bob_c, room, 3, 2)
    await ann_c.send_text(room, "@nobody_here_at_all and @" + cat.username)  # not bob
    await counts(bob_c, room, 4, 2)
    assert (s := await summary(bob_c, room)).unread == 4 and s.mentions == 2

    await bob_c.send_frame(f.Read(room=room, seq=second.seq))
    await counts(bob_c, room, 2, 1)  # cat's mention and ann's last message are still unread
    await ann_c.call(f.Delete, room=room, seq=third.seq)  # the owner deletes cat's mention
    await counts(bob_c, room, 1, 0)
    with trio.fail_after(5):  # the read cursor is stored within a flush interval
        while ((s := await summary(bob_c, room)).unread, s.mentions) != (1, 0):  # noqa: ASYNC110
            await trio.sleep(0.02)
    assert (await summary(ann_c, room)).unread == 0  # her own messages are never unread to her


async def test_mute(people: People) -> None:
    (_, ann_c), (bob, bob_c), (_, eve_c) = [await people.new(n) for n in ("ann", "bob", "eve")]
    room = (await ann_c.call(f.OpenDirect, user=bob.user_id)).room.room
    await bob_c.call(f.Mute, room=room, muted=True)
    with trio.fail_after(5):
        while not (muted := await bob_c.next_of(f.Counts)).muted:
            pass  # the room's first counts (when it was opened) come before
    assert muted.room == room
    assert (await summary(bob_c, room)).muted
    await ann_c.send_text(room, "still counted while muted")
    assert (await counts(bob_c, room, 1, 0)).muted
    await bob_c.call(f.Mute, room=room, muted=False)
    assert not (await summary(bob_c, room)).muted
    with pytest.raises(ChatError) as err:
        await eve_c.call(f.Mute, room=room, muted=True)
    assert err.value.code == "not_found"
