"""Seq assignment for one room's share of a node-wide commit: a pure function of what the transaction read.

The writer (persistence/messages.py `append_rooms`) locks the rooms, reads in one query per kind for every
room of the batch what the checks need (earlier sends with the same client ids, the messages edits point at,
invite links, media items), and hands each room's items here. `plan_room` decides, item by item and in
order, whether it is a retry of a stored message (its original is the result), refused (no seq is used)
or fresh (it gets the next seq). The writer then stores the fresh items and nothing else.

`Lookups` is the transaction's scratch data: a planned delete marks its target deleted, a planned
invite join counts a use and a planned kick that revokes the room's links revokes them, so that later
items of the same batch see them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from chatd.persistence.invites import refuse_join
from chatd.persistence.media import StoredMedia
from chatd.persistence.records import (
    AppendItem,
    InviteJoin,
    MemberChange,
    MessageChange,
    NewText,
    ReactionChange,
)
from chatd.protocol.errors import Refusal
from chatd.protocol.frames import Message
from chatd.protocol.reactions import apply, holds, limit_problem

Key = tuple[int, str]  # (sender, client_id): the idempotency key of a text
# A fresh seq, a retry of the message stored under that key, a refusal, or None: what the item asks for
# holds already (a reaction the user has, or does not have) and nothing is stored.
Outcome = int | Key | Refusal | None


@dataclass(slots=True)
class Lookups:
    known: dict[Key, Message] = field(default_factory=dict)  # texts already stored under these keys
    targets: dict[int, dict[str, Any]] = field(default_factory=dict)  # seq -> sender_id, kind, deleted, reactions
    invites: dict[str, dict[str, Any]] = field(default_factory=dict)  # code -> invite_links row with now
    media: dict[str, StoredMedia] = field(default_factory=dict)  # id -> upload (not thumbnails)


@dataclass(slots=True)
class RoomPlan:
    outcomes: list[Outcome]  # one per item, in order
    fresh: list[tuple[int, AppendItem]]  # what to store, with its seq
    last_seq: int  # the room's last seq once `fresh` is stored
    reactions: dict[int, Any] = field(default_factory=dict)  # a fresh reaction's seq -> its target's aggregate after it


def text_key(item: NewText) -> Key:
    return item.sender, item.client_id.lower()


def plan_room(room_id: int, last_seq: int, items: Sequence[AppendItem], lookups: Lookups) -> RoomPlan:
    """Decide every item of one room's batch against what is stored (see the module docstring)."""
    outcomes: list[Outcome] = []
    fresh: list[tuple[int, AppendItem]] = []
    reactions: dict[int, Any] = {}
    claimed: set[Key] = set()
    for item in items:
        refusal: Refusal | None = None
        if isinstance(item, NewText):
            key = text_key(item)
            if key in lookups.known or key in claimed:
                outcomes.append(key)
                continue
            refusal = refuse_media(item, lookups.media)
            if refusal is None and item.reply_to is not None:
                refusal = refuse_target(item.reply_to, lookups.targets.get(item.reply_to), "answered")
            if refusal is None:
                claimed.add(key)
        elif isinstance(item, MessageChange):
            target = lookups.targets.get(item.target)
            refusal = refuse_change(item, target)
            if refusal is None and target is not None and item.body is None:
                lookups.targets[item.target] = {**target, "deleted": True}
        elif isinstance(item, ReactionChange):
            target = lookups.targets.get(item.target)
            refusal = refuse_target(item.target, target, "reacted to")
            if refusal is None and target is not None:
                if holds(target["reactions"], item.by, item.emoji) == item.add:
                    outcomes.append(None)  # as asked already
                    continue
                problem = limit_problem(target["reactions"], item.by, item.emoji) if item.add else None
                if problem is not None:
                    refusal = Refusal("conflict", problem)
                else:
                    target["reactions"] = reactions[last_seq + 1] = apply(target["reactions"], item.by, item.emoji,
                                                                           item.add)
        elif isinstance(item, InviteJoin):
            link = lookups.invites.get(item.code)
            refusal = refuse_join(room_id, link)
            if refusal is None and link is not None:
                link["use_count"] += 1  # a second join in this batch sees this one
        elif isinstance(item, MemberChange) and item.revoke_invites:
            for link in lookups.invites.values():  # a join later in this batch is refused
                if link["room_id"] == room_id and link["revoked_at"] is None:
                    link["revoked_at"] = link["now"]
        if refusal is not None:
            outcomes.append(refusal)
            continue
        last_seq += 1
        outcomes.append(last_seq)
        fresh.append((last_seq, item))
    return RoomPlan(outcomes, fresh, last_seq, reactions)


def no_such_message(seq: int) -> str:
    return f"message {seq} does not exist in this room"


def refuse_target(seq: int, target: dict[str, Any] | None, done: str) -> Refusal | None:
    """A message an item changes, answers or reacts to must exist and be a person's, not deleted."""
    if target is None:
        return Refusal("not_found", no_such_message(seq))
    if target["kind"] == "system":
        return Refusal("bad_request", f"message {seq} is a system message: it cannot be {done}")
    if target["deleted"]:
        return Refusal("conflict", f"message {seq} was deleted")
    return None


def refuse_change(change: MessageChange, target: dict[str, Any] | None) -> Refusal | None:
    what = "edit" if change.body is not None else "delete"
    refusal = refuse_target(change.target, target, f"{what}ed")
    if refusal is not None or target is None:
        return refusal
    if target["sender_id"] != change.by and (change.body is not None or not change.any_sender):
        return Refusal("forbidden", f"you can only {what} your own messages"
                       + ("" if change.body is not None else " (admins and the owner may delete any in a group)"))
    return None


def refuse_media(item: NewText, media: dict[str, StoredMedia]) -> Refusal | None:
    """A message may carry only an upload of its sender's (not a thumbnail) whose type fits its kind (an encrypted
    message's upload is ciphertext: any type)."""
    if item.media is None:
        return None
    found = media.get(item.media.id)
    if found is None or found.uploader != item.sender:
        return Refusal("not_found", f"media {item.media.id}: you uploaded no such item")
    mime = found.info.mime
    if item.kind not in ("file", "encrypted") and not mime.startswith(f"{item.kind}/"):
        return Refusal("bad_request", f"media {item.media.id} is {mime}, not {item.kind}: send it as kind 'file'")
    return None
