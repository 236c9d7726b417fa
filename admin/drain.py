"""Draining a node: take it out of service without losing an acknowledged (or an accepted) message.

1. The gateway refuses new websocket handshakes (503); the HTTP side stays up so the operator can watch.
2. Every open connection is closed with 1012 "node draining: reconnect to another node", after the frames
   already queued for it (so a `sent` that was produced is still written).
3. Once no connection is left, nothing new reaches a room; the drain waits until every room actor has an
   empty mailbox and is waiting for work, i.e. every request it took has been committed (or refused).
4. The node stops the way SIGTERM stops it: user actors hand their cursors over, the database closes.

A client only hears `sent` after its message is committed, so no acknowledged message can be lost; the drain
also lets the messages that were accepted but not yet acknowledged commit, and a client that retries them
elsewhere with the same client id gets the original (`duplicate: true`).
"""

from __future__ import annotations

import logging

import trio

from chatd.actors.items import RoomItem
from chatd.actors.mailbox import Mailbox
from chatd.actors.room import RoomActor
from chatd.admin.context import AdminContext, owner
from chatd.protocol.errors import CloseCode
from chatd.supervisor import current_child

log = logging.getLogger("chatd.admin")

DRAIN_REASON = "node draining: reconnect to another node"


def room_mailboxes(ctx: AdminContext) -> list[Mailbox[RoomItem]]:
    return [actor.mailbox for info in ctx.rooms.supervisor.children() if isinstance(actor := owner(info), RoomActor)]


def rooms_quiet(ctx: AdminContext) -> bool:
    """Every room actor has nothing queued and holds no unfinished batch (a restarting one is not waiting)."""
    return all(mailbox.idle() for mailbox in room_mailboxes(ctx))


async def until_rooms_quiet(ctx: AdminContext) -> None:
    """Until every room is quiet at one moment: each wait ends when that room next waits for work."""
    while not rooms_quiet(ctx):
        for mailbox in room_mailboxes(ctx):
            await mailbox.until_idle()


async def drain(ctx: AdminContext, timeout: float, by: str) -> None:
    """Drain this node, then stop it (see the module docstring). Runs in the node's nursery."""
    current_child.set(None)  # started from an HTTP request: its logs are not the http child's
    ctx.state = "draining"
    ctx.gateway.accepting = False
    log.warning("admin %s: draining node %s (%d connections)", by, ctx.node_name, ctx.gateway.connections,
                extra={"admin": by})
    with trio.move_on_after(timeout) as scope:
        while ctx.gateway.connections:
            for device in list(ctx.gateway.devices):  # again on each change: a handshake may have been under way
                device.kill(CloseCode.RESTART, DRAIN_REASON)  # 1012: reconnect (to another node)
            await ctx.gateway.connections_changed.wait()
        await until_rooms_quiet(ctx)
    if scope.cancelled_caught:
        log.error("drain of node %s did not finish within %gs (%d connections left, rooms quiet: %s); stopping",
                  ctx.node_name, timeout, ctx.gateway.connections, rooms_quiet(ctx))
    ctx.state = "drained"
    log.warning("node %s drained; stopping", ctx.node_name)
    ctx.stop()


def start_drain(ctx: AdminContext, timeout: float, by: str) -> bool:
    """Start draining in the background; False if a drain is already under way (or the node is not attached)."""
    if ctx.state != "running" or ctx.nursery is None:
        return False
    ctx.state = "draining"  # now, so a second request is refused and no handshake is taken after the answer
    ctx.gateway.accepting = False
    ctx.nursery.start_soon(drain, ctx, timeout, by)
    return True
