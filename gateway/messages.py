"""Message requests: send, edit, delete, react, receipts, cursors (ack, read), typing and history.

What changes a room goes to its actor with the reply handle, which answers after the commit (`sent`, `ok`) or
refuses; `ack`, `read` and `typing` get no reply; history is read from Postgres here.
"""

from __future__ import annotations

import trio

from chatd.actors.items import (
    AckFrom,
    ChangeMessage,
    ChangeReaction,
    LookUpReceipts,
    ReadMoved,
    SendText,
    TypingNow,
)
from chatd.actors.reply import Reply
from chatd.gateway.checks import member_of, to_room
from chatd.gateway.context import Context
from chatd.protocol import frames as f


async def send(cx: Context, req: f.Send, reply: Reply) -> None:
    await to_room(cx, req.room, SendText(reply, req.client_id.lower(), req.body, req.kind, req.media, req.reply_to,
                                         req.encrypted, req.members_seq))


async def edit(cx: Context, req: f.Edit, reply: Reply) -> None:
    await to_room(cx, req.room, ChangeMessage(reply, req.seq, req.body))


async def delete(cx: Context, req: f.Delete, reply: Reply) -> None:
    await to_room(cx, req.room, ChangeMessage(reply, req.seq, None))


async def react(cx: Context, req: f.Reacting, reply: Reply) -> None:
    """`react` and `unreact`."""
    await to_room(cx, req.room, ChangeReaction(reply, req.target, req.emoji, add=isinstance(req, f.React)))


async def get_receipts(cx: Context, req: f.GetReceipts, reply: Reply) -> None:
    private = not await cx.services.store.read_receipts(cx.me)  # the room hears of a change with the next read
    await to_room(cx, req.room, LookUpReceipts(reply, private))


async def _cursor(cx: Context, room: int, seq: int, read: bool) -> None:
    mailbox = cx.services.users.lookup(cx.me)
    if mailbox is not None:
        try:
            await mailbox.put(AckFrom(cx.device, room, seq, read))
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass  # the user actor stopped; this device is being closed and will resume on reconnect


async def ack(cx: Context, req: f.Ack, reply: Reply) -> None:
    await _cursor(cx, req.room, req.seq, read=False)


async def read(cx: Context, req: f.Read, reply: Reply) -> None:
    await _cursor(cx, req.room, req.seq, read=True)
    cx.services.bus.to_users((cx.me,), ReadMoved(req.room, req.seq))  # my devices on other processes


async def typing(cx: Context, req: f.Typing, reply: Reply) -> None:
    await member_of(cx, req.room, "typing: ")
    cx.services.rooms.tell(req.room, TypingNow(cx.device, req.active))  # best-effort: dropped if overloaded


async def history(cx: Context, req: f.History, reply: Reply) -> None:
    messages, has_more = await cx.services.store.history(cx.me, req.room, req.before_seq, req.limit)
    reply.send(f.HistoryPage(id=req.id, room=req.room, messages=messages, has_more=has_more))
