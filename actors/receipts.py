"""Delivery and read receipts of one room, kept by its RoomActor (plain state, no I/O).

Members' cursors (delivered_seq, read_seq) say who has which message, so no row per (message, recipient)
is ever written. When cursors move, the senders of the messages the moves cover are told:

- rooms of up to `per_recipient_max` current members: one `status {user, delivered_seq, read_seq?}` per
  sender and recipient, whatever number of that sender's messages the move covers;
- bigger rooms: one `receipt_counts` per sender with, for each of their covered messages (the latest
  100), how many of the other current members who had joined by then have it and have read it.

A move covers (old delivered, new delivered] and (old read, new read], each on its own: a member far
behind in reading does not make every delivery re-report the unread stretch. The first move of a member
after the room (re)loaded covers the whole window from their join, because the cursor writer may have
stored that very move before the room loaded it (its sender would otherwise never hear of it).

Only the senders of the latest `window` messages are remembered. Reads of members who turned read
receipts off are never reported (their read cursor is None here, from the load or the move's `quiet`).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from dataclasses import dataclass

from msgspec import structs

from chatd.protocol.frames import MAX_BATCH, Count, Frame, MemberReceipt, ReceiptCounts, Status


@dataclass(slots=True)
class Cursor:
    delivered: int = 0
    read: int | None = None  # None: reads are not reported for this member
    reported: bool = False  # False right after loading: the first move reports the whole window


@dataclass(frozen=True, slots=True)
class Move:
    """One member's stored cursors moved (None: that one did not); quiet: their reads are private."""

    delivered: int | None = None
    read: int | None = None
    quiet: bool = False


class Receipts:
    def __init__(self, room_id: int, per_recipient_max: int, window: int) -> None:
        self.room_id = room_id
        self.per_recipient_max = per_recipient_max
        self.window = window
        self.senders: dict[int, int] = {}  # seq -> sender, the latest `window` messages from people
        self.cursors: dict[int, Cursor] = {}

    def load(self, senders: dict[int, int], cursors: dict[int, tuple[int, int | None]]) -> None:
        self.senders = dict(senders)
        self.cursors = {user: Cursor(d, r) for user, (d, r) in cursors.items()}

    def remember(self, seq: int, sender: int) -> None:
        self.senders[seq] = sender
        if len(self.senders) > self.window:
            del self.senders[next(iter(self.senders))]  # dicts keep insertion (= seq) order

    def moved(self, members: dict[int, int], moves: dict[int, Move]) -> Iterable[tuple[int, Frame]]:
        """(sender, frame) for every sender to tell about these moves; `members`: current, user -> joined_seq."""
        pairs: dict[tuple[int, int], None] = {}  # (sender, recipient), in order
        covered: dict[int, set[int]] = {}  # sender -> their covered seqs
        for user, move in moves.items():
            for seq in self._apply(user, move, members.get(user, 0)):
                sender = self.senders.get(seq)
                if sender is not None and sender != user and sender in members:
                    pairs[(sender, user)] = None
                    covered.setdefault(sender, set()).add(seq)
        if len(members) <= self.per_recipient_max:
            for sender, user in pairs:
                c = self.cursors[user]
                yield sender, Status(room=self.room_id, user=user, delivered_seq=c.delivered, read_seq=c.read)
            return
        if covered:
            yield from self._counts(members, covered)

    def standing(self, asker: int, members: dict[int, int], private: bool) -> tuple[list[MemberReceipt], list[Count]]:
        """What `asker` would have been told so far (`get_receipts`): every other member's cursors in a small
        room, else the counts for their latest messages (no read figures when the asker's reads are private)."""
        if len(members) <= self.per_recipient_max:
            return [MemberReceipt(user=user, delivered_seq=c.delivered, read_seq=None if private else c.read)
                    for user in members if user != asker and (c := self.cursors.get(user)) is not None], []
        mine = {seq for seq, sender in self.senders.items() if sender == asker}
        counts = [c for _, frame in self._counts(members, {asker: mine}) if isinstance(frame, ReceiptCounts)
                  for c in frame.counts] if mine else []
        return [], [structs.replace(c, read=None) for c in counts] if private else counts

    def _apply(self, user: int, move: Move, joined: int) -> Iterable[int]:
        """Move `user`'s cursor; the seqs (still remembered) whose status this changes."""
        cursor = self.cursors.setdefault(user, Cursor())
        old_d, old_r = cursor.delivered, cursor.read or 0
        if not cursor.reported:
            old_d = old_r = max(0, joined - 1)
            cursor.reported = True
        if move.delivered is not None:
            cursor.delivered = max(cursor.delivered, move.delivered)
        if move.quiet:
            cursor.read = None
        elif move.read is not None:
            cursor.read = max(cursor.read or 0, move.read)
        oldest = next(iter(self.senders), 0)
        seqs = set(range(max(old_d + 1, oldest), cursor.delivered + 1))
        if cursor.read is not None:
            seqs.update(range(max(old_r + 1, oldest), cursor.read + 1))
        return sorted(seqs)

    def _counts(self, members: dict[int, int], covered: dict[int, set[int]]) -> Iterable[tuple[int, Frame]]:
        """receipt_counts per sender: one pass over the members for all covered seqs (a difference array)."""
        seqs = sorted({s for ss in covered.values() for s in ss})
        delivered, read = [0] * (len(seqs) + 1), [0] * (len(seqs) + 1)

        def span(joined: int, c: Cursor) -> tuple[int, int, int]:
            lo = bisect_left(seqs, joined)
            return lo, bisect_right(seqs, c.delivered), bisect_right(seqs, c.read) if c.read is not None else lo

        for user, joined in members.items():
            c = self.cursors.get(user)
            if c is None:
                continue
            lo, hi_d, hi_r = span(joined, c)
            for diff, hi in ((delivered, hi_d), (read, hi_r)):
                if lo < hi:
                    diff[lo] += 1
                    diff[hi] -= 1
        for totals in (delivered, read):
            for i in range(1, len(totals)):
                totals[i] += totals[i - 1]
        index = {s: i for i, s in enumerate(seqs)}
        for sender, mine in covered.items():
            own = self.cursors.get(sender)
            lo, hi_d, hi_r = span(members[sender], own) if own is not None else (0, 0, 0)
            counts = []
            for s in sorted(mine)[-MAX_BATCH:]:
                i = index[s]
                counts.append(Count(seq=s, delivered=delivered[i] - (lo <= i < hi_d),
                                    read=read[i] - (lo <= i < hi_r)))
            yield sender, ReceiptCounts(room=self.room_id, others=len(members) - 1, counts=counts)
