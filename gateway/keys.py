"""End-to-end encryption requests (docs/protocol.md §12): device keys, to-device messages, key backup.

The server stores public keys and ciphertext and delivers them; it checks the shapes (protocol/e2ee.py) and
the signatures (protocol/keysign.py), never the contents. To-device messages are delivered by the user
actors (actors/user.py): the handler stores them, then tells the recipients' actors here and, over the bus,
elsewhere; the gap watch covers what the bus drops (actors/gaps.py).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable

import trio

from chatd.actors.items import InboxAcked, InboxArrived, ToDevices
from chatd.actors.reply import Reply
from chatd.gateway.context import Context
from chatd.gateway.services import Services
from chatd.persistence.errors import StoreUnavailable
from chatd.protocol import e2ee as e
from chatd.protocol import frames as f
from chatd.protocol.errors import ErrorCode, Refusal
from chatd.protocol.keysign import device_statement, otk_statement, verifies

log = logging.getLogger("chatd.keys")


async def upload_keys(cx: Context, req: e.UploadKeys, reply: Reply) -> None:
    device, keys = cx.device.session, req.device_keys
    if keys is not None:
        signing_key: str | None = keys.signing_key
        if not verifies(keys.signing_key, keys.signature,
                        device_statement(cx.me, device, keys.identity_key, keys.signing_key)):
            raise Refusal(ErrorCode.BAD_REQUEST, "device_keys.signature does not verify")
    else:
        signing_key = await cx.services.store.device_signing_key(device)
    if signing_key is not None:
        for where, key in [*((f"one_time_keys[{i}]", k) for i, k in enumerate(req.one_time_keys or ())),
                           *([("fallback_key", req.fallback_key)] if req.fallback_key else [])]:
            if not verifies(signing_key, key.signature, otk_statement(cx.me, device, key.key_id, key.key)):
                raise Refusal(ErrorCode.BAD_REQUEST, f"{where}.signature does not verify")
    counts = await cx.services.store.upload_keys(cx.me, device, req.device_keys, list(req.one_time_keys or ()),
                                                 req.fallback_key)
    reply.send(e.KeyCounts(id=req.id, one_time_keys=counts.one_time_keys, fallback=counts.fallback))
    if counts.first_publish:
        await devices_changed(cx.services, cx.me)


async def query_keys(cx: Context, req: e.QueryKeys, reply: Reply) -> None:
    reply.send(e.DeviceKeysList(id=req.id, devices=await cx.services.store.query_keys(cx.me, list(req.users))))


async def claim_keys(cx: Context, req: e.ClaimKeys, reply: Reply) -> None:
    reply.send(e.ClaimedKeys(id=req.id, keys=await cx.services.store.claim_keys(cx.me, list(req.devices))))


async def devices_changed(services: Services, user: int) -> None:
    """Tell `user`'s devices and everyone sharing a room with them that `user`'s device list changed.

    Best-effort, like every push: a device that missed it still encrypts only to live devices (the server
    skips the others) and learns of new ones at its next `query_keys` (clients query at every hello)."""
    try:
        users = await services.store.peers(user)
    except StoreUnavailable:
        log.warning("user %s: devices_changed not sent (database unavailable)", user)
        return
    _tell(services, users, ToDevices(e.DevicesChanged(user=user)))


def _tell(services: Services, users: Iterable[int], item: ToDevices | InboxArrived) -> None:
    users = tuple(users)
    for user in users:
        services.users.offer(user, item)  # only users with devices here have an actor; a full mailbox resyncs
    services.bus.to_users(users, item)


# --------------------------------------------------------------------------- to-device messages

async def send_to_device(cx: Context, req: e.SendToDevice, reply: Reply) -> None:
    stored = await cx.services.store.send_to_device(cx.me, cx.device.session, req.txn.lower(), list(req.messages))
    reply.send(f.Ok(id=req.id))
    for user, devices in stored.items():
        _tell(cx.services, (user,), InboxArrived(frozenset(devices)))


async def ack_to_device(cx: Context, req: e.AckToDevice, reply: Reply) -> None:
    """Delete what the device acked, then let its next frame go. If the delete fails the rows stay, and the
    next ack (cumulative) deletes them: they were all sent already, so the stream goes on either way."""
    try:
        await cx.services.store.ack_to_device(cx.device.session, req.upto)
    except StoreUnavailable as exc:
        log.warning("ack_to_device not stored (the next ack covers it): %s", exc)
    mailbox = cx.services.users.lookup(cx.me)
    if mailbox is not None:
        with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):  # the actor stopped
            await mailbox.put(InboxAcked(cx.device, req.upto))  # waits for room: never dropped


# --------------------------------------------------------------------------- key backup

async def create_backup(cx: Context, req: e.CreateBackup, reply: Reply) -> None:
    backup = await cx.services.store.create_backup(cx.me, req.auth)
    reply.send(e.Backup(id=req.id, version=backup.version, auth=backup.auth))


async def get_backup(cx: Context, req: e.GetBackup, reply: Reply) -> None:
    backup = await cx.services.store.get_backup(cx.me)
    if backup is None:
        raise Refusal(ErrorCode.NOT_FOUND, "you have no key backup")
    reply.send(e.Backup(id=req.id, version=backup.version, auth=backup.auth))


async def put_backup_keys(cx: Context, req: e.PutBackupKeys, reply: Reply) -> None:
    await cx.services.store.put_backup_keys(cx.me, req.version, list(req.keys))
    reply.send(f.Ok(id=req.id))


async def get_backup_keys(cx: Context, req: e.GetBackupKeys, reply: Reply) -> None:
    after = (req.after.room, req.after.session_id) if req.after else (0, "")
    keys = await cx.services.store.get_backup_keys(cx.me, req.version, after, e.MAX_BACKUP_PAGE + 1)
    reply.send(e.BackupKeys(id=req.id, keys=keys[:e.MAX_BACKUP_PAGE], more=len(keys) > e.MAX_BACKUP_PAGE))
