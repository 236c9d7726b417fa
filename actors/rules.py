"""Who may do what in a room: the rules the room actor enforces, as pure functions (no I/O).

`admit` checks one request against the room's in-memory state (a Refusal says why not), applies its effect to that state
optimistically (the room actor reloads the state if the commit fails) and returns what to append to the
room's seq. Roles: owner > admin > member.

- Everyone who is a current member may send, edit their own messages and delete their own messages, and
  reply and react to the messages they may read (protocol/history.py).
- Groups only: the owner and admins add members, remove (kick) and ban anyone of a lower role, unban,
  delete anyone's message and change the room's settings. Only the owner promotes or demotes admins and
  transfers ownership (becoming an admin). A member leaves when they like; the last owner who leaves
  hands ownership to the longest-standing admin, else the longest-standing member.
"""

from __future__ import annotations

from dataclasses import replace
from typing import cast

from chatd.actors.items import (
    ChangeMembers,
    ChangeMessage,
    ChangeReaction,
    JoinByInvite,
    RoomRequest,
    SendText,
    UpdateRoom,
)
from chatd.persistence.records import (
    AppendItem,
    InviteJoin,
    MemberChange,
    MemberState,
    MessageChange,
    NewText,
    ReactionChange,
    RoomState,
    RoomUpdate,
)
from chatd.persistence.seqplan import no_such_message
from chatd.protocol.errors import ErrorCode, Refusal
from chatd.protocol.history import readable
from chatd.protocol.rooms import Role, RoomChanges

RANK: dict[Role, int] = {"member": 0, "admin": 1, "owner": 2}


def not_a_member(room: int) -> str:
    """The refusal of a request for a room from someone who is not a current member of it."""
    return f"you are not a member of room {room}"


def no_such_room(room: int) -> str:
    return f"room {room} does not exist"


def admit(state: RoomState, item: RoomRequest) -> list[AppendItem]:
    requester = item.device.user_id
    if isinstance(item, JoinByInvite):
        return _join(state, requester, item)
    me = state.members.get(requester)
    if me is None or not me.current:
        raise Refusal(ErrorCode.FORBIDDEN, not_a_member(state.id))
    if isinstance(item, SendText):
        if state.encrypted and item.kind != "encrypted":
            raise Refusal(ErrorCode.BAD_REQUEST, f"room {state.id} is end-to-end encrypted: send kind 'encrypted'")
        if item.kind == "encrypted" and not state.encrypted:
            raise Refusal(ErrorCode.BAD_REQUEST, f"room {state.id} is not encrypted")
        if item.members_seq is not None and state.members_seq() > item.members_seq:
            raise Refusal(ErrorCode.CONFLICT, f"the members of room {state.id} changed at seq {state.members_seq()}: "
                                              "share a new key with them and send again")
        if item.reply_to is not None:
            _readable(state, me, item.reply_to)
        return [NewText(requester, item.client_id, item.body, item.kind, item.media, item.reply_to, item.encrypted)]
    if isinstance(item, ChangeReaction):
        _readable(state, me, item.target)
        return [ReactionChange(requester, item.target, item.emoji, item.add)]
    if isinstance(item, ChangeMessage):
        if item.body is not None and state.encrypted:
            raise Refusal(ErrorCode.BAD_REQUEST, "edits are not supported in encrypted rooms")
        any_sender = item.body is None and state.kind == "group" and RANK[me.role] >= RANK["admin"]
        return [MessageChange(requester, item.seq, item.body, any_sender)]
    if isinstance(item, UpdateRoom) and "encrypted" in item.changes:
        item = _encrypting(state, item)
    if state.kind == "direct" and isinstance(item, UpdateRoom) and set(item.changes) == {"encrypted"}:
        state.encrypted = True  # either member of a direct room may turn encryption on
        return [RoomUpdate(requester, item.changes)]
    if state.kind == "direct":
        raise Refusal(ErrorCode.BAD_REQUEST, "a direct room has no roles or settings and always its two members")
    if isinstance(item, UpdateRoom):
        return _update(state, me, requester, item)
    return _members(state, me, requester, item)


def _encrypting(state: RoomState, item: UpdateRoom) -> UpdateRoom:
    """An update that turns encryption on: leave that out where it is on already (nothing else left: refused)."""
    if not state.encrypted:
        return item
    changes = cast(RoomChanges, {k: v for k, v in item.changes.items() if k != "encrypted"})
    if not changes:
        raise Refusal(ErrorCode.CONFLICT, f"room {state.id} is already end-to-end encrypted")
    return replace(item, changes=changes)


def _readable(state: RoomState, me: MemberState, seq: int) -> None:
    """A reply or a reaction names a message the member may read (its existence is checked in the commit:
    this actor's last_seq may be behind another process's)."""
    if seq not in readable(state.visibility, me.joined_seq, max(state.last_seq, seq)):
        raise Refusal(ErrorCode.NOT_FOUND, no_such_message(seq))


def _need(me: MemberState, role: Role, what: str) -> None:
    if RANK[me.role] < RANK[role]:
        who = "the owner" if role == "owner" else "the owner and admins"
        raise Refusal(ErrorCode.FORBIDDEN, f"only {who} can {what}")


def _join(state: RoomState, requester: int, item: JoinByInvite) -> list[AppendItem]:
    """The link itself (expiry, revocation, uses left) is checked in the commit, under its row lock."""
    if state.kind != "group":
        raise Refusal(ErrorCode.BAD_REQUEST, "invite links are for groups")
    if requester in state.banned:
        raise Refusal(ErrorCode.FORBIDDEN, "you are banned from this room")
    me = state.members.get(requester)
    if me is not None and me.current:
        raise Refusal(ErrorCode.CONFLICT, "you are already a member of this room")
    state.members[requester] = MemberState("member", state.last_seq + 1)
    return [InviteJoin(requester, item.code)]


def _update(state: RoomState, me: MemberState, requester: int, item: UpdateRoom) -> list[AppendItem]:
    _need(me, "admin", "change the room's settings")
    if not item.changes:
        raise Refusal(ErrorCode.BAD_REQUEST, "update_room names nothing to change")
    if "name" in item.changes:
        state.name = item.changes["name"]
    if "history_visibility" in item.changes:
        state.history_visibility = item.changes["history_visibility"]
    if "encrypted" in item.changes:
        state.encrypted = True
    return [RoomUpdate(requester, item.changes)]


def _current(state: RoomState, user: int) -> MemberState:
    them = state.members.get(user)
    if them is None or not them.current:
        raise Refusal(ErrorCode.NOT_FOUND, f"user {user} is not a member of room {state.id}")
    return them


def _members(state: RoomState, me: MemberState, requester: int, item: ChangeMembers) -> list[AppendItem]:
    pending = state.last_seq + 1  # placeholder seq for optimistic state; the actor fixes it after commit
    action = item.action
    if action == "add":
        _need(me, "admin", "add members")
        banned = [u for u in item.users if u in state.banned]
        if banned:
            raise Refusal(ErrorCode.FORBIDDEN, f"user {banned[0]} is banned from this room; unban them first")
        new = [u for u in dict.fromkeys(item.users) if u not in state.members or not state.members[u].current]
        if not new:
            raise Refusal(ErrorCode.CONFLICT, "every user named is already a member")
        for uid in new:
            state.members[uid] = MemberState("member", pending)
        return [MemberChange("added", uid, requester) for uid in new]
    if action == "leave":
        return _leave(state, me, requester, pending)
    if action == "remove_invited":  # a leaked link's joiners: those the requester outranks
        _need(me, "admin", "remove members")
        out: list[AppendItem] = []
        for uid in item.users:
            them = state.members.get(uid)
            if them is not None and them.current and uid != requester and RANK[me.role] > RANK[them.role]:
                them.left_seq = pending
                out.append(MemberChange("removed", uid, requester, ends_membership=True))
        return out
    (target,) = item.users
    if target == requester:
        raise Refusal(ErrorCode.BAD_REQUEST, f"you cannot {action.replace('_', ' ')} yourself"
                     + (": use leave" if action == "remove" else ""))
    if action in ("remove", "ban"):
        _need(me, "admin", f"{action} members")
        them = state.members.get(target)
        member = them is not None and them.current
        if action == "ban" and target in state.banned:
            raise Refusal(ErrorCode.CONFLICT, f"user {target} is already banned")
        if action == "remove" or member:
            them = _current(state, target)
            if RANK[me.role] <= RANK[them.role]:
                raise Refusal(ErrorCode.FORBIDDEN, f"a {me.role} cannot {action} a {them.role}")
            them.left_seq = pending
        if action == "remove":
            return [MemberChange("removed", target, requester, ends_membership=True,
                                 revoke_invites=item.revoke_invites)]
        state.banned.add(target)
        return [MemberChange("banned", target, requester, ends_membership=member)]
    if action == "unban":
        _need(me, "admin", "unban")
        if target not in state.banned:
            raise Refusal(ErrorCode.CONFLICT, f"user {target} is not banned")
        state.banned.discard(target)
        return [MemberChange("unbanned", target, requester)]
    if action == "set_role":
        _need(me, "owner", "promote or demote")
        them = _current(state, target)
        if them.role == "owner" or item.role not in ("admin", "member"):
            raise Refusal(ErrorCode.BAD_REQUEST, "set_role makes admins or members; use transfer_ownership")
        if them.role == item.role:
            raise Refusal(ErrorCode.CONFLICT, f"user {target} is already {item.role}")
        them.role = item.role
        return [MemberChange("role_changed", target, requester, item.role)]
    if action == "transfer":
        _need(me, "owner", "transfer ownership")
        them = _current(state, target)
        them.role, me.role = "owner", "admin"
        return [MemberChange("owner_changed", target, requester, "owner"),
                MemberChange("role_changed", requester, requester, "admin")]
    raise Refusal(ErrorCode.BAD_REQUEST, f"unknown membership action {action!r}")


def _leave(state: RoomState, me: MemberState, requester: int, pending: int) -> list[AppendItem]:
    changes: list[AppendItem] = []
    others = sorted(((m.joined_seq, RANK[m.role], uid) for uid, m in state.members.items()
                     if m.current and uid != requester), key=lambda t: (-t[1], t[0], t[2]))
    owners_left = [uid for _, rank, uid in others if rank == RANK["owner"]]
    if me.role == "owner" and others and not owners_left:
        heir = others[0][2]  # the longest-standing admin, else member; the lowest id among equals
        state.members[heir].role = "owner"
        changes.append(MemberChange("owner_changed", heir, requester, "owner"))
    me.left_seq = pending
    changes.append(MemberChange("left", requester, requester, ends_membership=True))
    return changes
