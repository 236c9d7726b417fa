"""Delivery and read receipts of one room, kept by its RoomActor (plain state, no I/O).

Members' cursors (delivered_seq, read_seq) say who has which message, so no row per (message, recipient)
is ever written. When cursors move, the senders of the messages the moves cover are told:

- rooms of up to `per_recipient_max` current members: one `status {user, delivered_seq, read_seq?}` per
  sender and recipient, whatever number of that sender's messages the move covers;
- bigger rooms: one `receipt_counts` per sender with, for each of their covered messages (the latest
  100), how many of the other current members have it and have read it.

Only the senders of the latest `window` messages are remembered. Reads of members who turned read
receipts off are never reported (their read cursor is None here).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from protocol.frames import MAX_BATCH, Count, Frame, ReceiptCounts, Status


@dataclass(slots=True)
class Cursor:
    delivered: int = 0
    read: int | None = None  # None: reads are not reported for this member
    reported: bool = False  # False right after loading: the first move reports the whole window


class Receipts:
    def __init__(self, room_id: int, per_recipient_max: int, window: int) -> None:
        self.room_id = room_id
        self.per_recipient_max = per_recipient_max
        self.window = window
        self.senders: dict[int, int] = {}  # seq -> sender, the latest `window` text messages
        self.cursors: dict[int, Cursor] = {}

    def load(self, senders: dict[int, int], cursors: dict[int, tuple[int, int | None]]) -> None:
        self.senders = dict(senders)
        self.cursors = {user: Cursor(d, r) for user, (d, r) in cursors.items()}

    def remember(self, seq: int, sender: int) -> None:
        self.senders[seq] = sender
        if len(self.senders) > self.window:
            del self.senders[next(iter(self.senders))]  # dicts keep insertion (= seq) order

    def moved(self, members: set[int], moves: dict[int, tuple[int | None, int | None]]
              ) -> Iterable[tuple[int, Frame]]:
        """(sender, frame) for every sender to tell about these cursor moves of current `members`."""
        oldest = next(iter(self.senders), 0)
        pairs: dict[tuple[int, int], None] = {}  # (sender, recipient), in order
        covered: dict[int, set[int]] = {}  # sender -> their covered seqs
        for user, (delivered, read) in moves.items():
            cursor = self.cursors.setdefault(user, Cursor())
            before = min(cursor.delivered, cursor.read if cursor.read is not None else cursor.delivered)
            if not cursor.reported:
                before, cursor.reported = 0, True
            if delivered is not None:
                cursor.delivered = max(cursor.delivered, delivered)
            if read is not None:
                cursor.read = max(cursor.read or 0, read)
            upto = max(cursor.delivered, cursor.read or 0)
            for seq in range(max(before + 1, oldest), upto + 1):
                sender = self.senders.get(seq)
                if sender is not None and sender != user and sender in members:
                    pairs[(sender, user)] = None
                    covered.setdefault(sender, set()).add(seq)
        if len(members) <= self.per_recipient_max:
            for sender, user in pairs:
                c = self.cursors[user]
                yield sender, Status(room=self.room_id, user=user, delivered_seq=c.delivered, read_seq=c.read)
            return
        for sender, seqs in covered.items():
            others = [self.cursors.get(m, Cursor()) for m in members if m != sender]
            counts = [Count(seq=s, delivered=sum(c.delivered >= s for c in others),
                            read=sum(c.read is not None and c.read >= s for c in others))
                      for s in sorted(seqs)[-MAX_BATCH:]]
            yield sender, ReceiptCounts(room=self.room_id, others=len(others), counts=counts)
