"""Queries for Web Push: subscriptions, the scan that fills the outbox, claiming and finishing jobs.

The outbox holds one job per (user, room). The scan adds to it (count, latest seq and sender) and the
senders claim due jobs with FOR UPDATE SKIP LOCKED, moving `next_attempt_at` forward by a lease, so a
job is sent by one node at a time and is sent again if that node dies mid-send (at least once).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, get_args

import asyncpg

from chatd.persistence.bridge import bridged
from chatd.persistence.errors import DeviceSignedOut
from chatd.protocol.rooms import MessageKind, RoomKind

NOTIFYING_KINDS: list[MessageKind] = list(get_args(MessageKind))  # what makes a push (system messages never do)
SCAN_BACKLOG = 1000  # the scan looks at most this many seqs back in a room (a month away is not re-read)
SCAN_LOCK_KEY = 0x50757368  # "Push": one scan at a time across nodes
PREVIEW_FETCH = 400  # characters of the latest message read for its preview (whitespace is then collapsed)


@dataclass(frozen=True, slots=True)
class Subscription:
    id: int
    user_id: int
    endpoint: str
    p256dh: str  # base64url
    auth: str  # base64url


@dataclass(frozen=True, slots=True)
class PushJob:
    """A claimed outbox row with what its notification says, and the subscriptions it goes to."""

    user_id: int
    room_id: int
    count: int
    last_seq: int
    attempts: int  # including this one
    room_kind: RoomKind
    room_name: str | None
    sender_id: int | None
    sender_name: str | None  # display name if visible, else username
    body: str | None  # the start of the latest message; None for private_preview rooms and deleted messages
    message_kind: MessageKind | None  # None: the message is gone
    subscriptions: tuple[Subscription, ...]


@dataclass(frozen=True, slots=True)
class SendFailure:
    """How one subscription's send went wrong: outcome 'gone', 'rejected' or 'retry'."""

    subscription: Subscription
    outcome: str
    status: int | None
    error: str


# Memberships of subscribed users with something after their delivered and push marks, the messages
# there, and per membership: is the oldest push-worthy one older than the delay (then the job takes all
# of them, so a burst makes one push), and how far the mark may move (past everything when a job is made,
# else past what can never make a push: system messages, own messages, messages older than the look-back).
SCAN_SQL = """
WITH cand AS (
    SELECT rm.room_id, rm.user_id,
           GREATEST(rm.delivered_seq, rm.joined_seq - 1, COALESCE(pm.push_seq, 0), r.last_seq - $3) AS from_seq,
           LEAST(r.last_seq, COALESCE(rm.left_seq, r.last_seq)) AS to_seq
    FROM users u
    JOIN room_members rm ON rm.user_id = u.id AND NOT rm.muted
    JOIN rooms r ON r.id = rm.room_id
    LEFT JOIN push_marks pm ON pm.room_id = rm.room_id AND pm.user_id = rm.user_id
    WHERE u.id IN (SELECT user_id FROM push_subscriptions) AND NOT u.disabled
), scanned AS (
    SELECT c.room_id, c.user_id, c.from_seq, m.seq, m.sender_id, m.created_at,
           COALESCE(m.kind = ANY($4::text[]) AND NOT m.deleted AND m.sender_id <> c.user_id
                    AND m.created_at > now() - make_interval(secs => $2), false) AS worthy
    FROM cand c JOIN messages m ON m.room_id = c.room_id AND m.seq > c.from_seq AND m.seq <= c.to_seq
    WHERE c.to_seq > c.from_seq
), per AS (
    SELECT room_id, user_id, max(from_seq) AS from_seq, max(seq) AS max_seq,
           bool_or(worthy AND created_at < now() - make_interval(secs => $1)) AS due,
           min(seq) FILTER (WHERE worthy) AS first_worthy,
           count(*) FILTER (WHERE worthy) AS n,
           max(seq) FILTER (WHERE worthy) AS last_seq,
           (array_agg(sender_id ORDER BY seq DESC) FILTER (WHERE worthy))[1] AS last_sender
    FROM scanned GROUP BY room_id, user_id
), moved AS (
    SELECT room_id, user_id, CASE WHEN due THEN max_seq ELSE COALESCE(first_worthy - 1, max_seq) END AS push_seq
    FROM per
), marks AS (
    INSERT INTO push_marks (room_id, user_id, push_seq)
    SELECT mv.room_id, mv.user_id, mv.push_seq FROM moved mv JOIN per p USING (room_id, user_id)
    WHERE mv.push_seq > p.from_seq
    ON CONFLICT (room_id, user_id) DO UPDATE SET push_seq = GREATEST(push_marks.push_seq, excluded.push_seq)
), jobs AS (
    INSERT INTO push_outbox (user_id, room_id, count, last_seq, last_sender)
    SELECT user_id, room_id, n, last_seq, last_sender FROM per WHERE due
    ON CONFLICT (room_id, user_id) DO UPDATE SET count = push_outbox.count + excluded.count,
        last_seq = excluded.last_seq, last_sender = excluded.last_sender, only_subscriptions = NULL,
        updated_at = now()
    RETURNING 1
)
SELECT count(*) FROM jobs
"""

CLAIM_SQL = """
WITH due AS (
    SELECT user_id, room_id FROM push_outbox WHERE next_attempt_at <= now()
    ORDER BY next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED
), claimed AS (
    UPDATE push_outbox o SET attempts = o.attempts + 1, next_attempt_at = now() + make_interval(secs => $2)
    FROM due WHERE o.user_id = due.user_id AND o.room_id = due.room_id
    RETURNING o.user_id, o.room_id, o.count, o.last_seq, o.last_sender, o.only_subscriptions, o.attempts
)
SELECT c.*, r.kind AS room_kind, r.name AS room_name,
       COALESCE(CASE WHEN p.show_display_name IS DISTINCT FROM 'nobody' THEN p.display_name END,
                su.username) AS sender_name,
       CASE WHEN NOT r.private_preview AND NOT m.deleted THEN left(m.body, $3) END AS body, m.kind AS message_kind
FROM claimed c JOIN rooms r ON r.id = c.room_id
LEFT JOIN users su ON su.id = c.last_sender
LEFT JOIN profiles p ON p.user_id = c.last_sender
LEFT JOIN messages m ON m.room_id = c.room_id AND m.seq = c.last_seq
"""


def _subscription(r: Any) -> Subscription:
    return Subscription(id=r["id"], user_id=r["user_id"], endpoint=r["endpoint"], p256dh=r["p256dh"], auth=r["auth"])


class PushQueries:
    pool: asyncpg.Pool

    # ------------------------------------------------------------------ subscriptions (HTTP side)

    @bridged
    async def add_push_subscription(self, user_id: int, device_id: str, endpoint: str, p256dh: str, auth: str,
                                    max_per_user: int) -> bool:
        """Subscribe (or renew) an endpoint for the user's signed-in device; True if it was not theirs before.

        An endpoint another user (or device) had moves to this one. Past `max_per_user`, the user's least
        recently renewed subscriptions are dropped. Signing the device out drops its subscriptions (0014).
        """
        async with self.pool.acquire() as con, con.transaction():
            await con.execute("SELECT pg_advisory_xact_lock(hashtextextended('push-subscriptions:' || $1::bigint, 0))",
                              user_id)
            if not await con.fetchval("SELECT true FROM devices WHERE id = $2 AND user_id = $1 AND revoked_at IS NULL"
                                      " FOR SHARE", user_id, device_id):
                raise DeviceSignedOut(device_id)  # revoked since the request's token was checked: no row
            owner = await con.fetchval("SELECT user_id FROM push_subscriptions WHERE endpoint = $1", endpoint)
            await con.execute(
                "INSERT INTO push_subscriptions (user_id, device_id, endpoint, p256dh, auth)"
                " VALUES ($1, $5, $2, $3, $4)"
                " ON CONFLICT (endpoint) DO UPDATE SET user_id = excluded.user_id, device_id = excluded.device_id,"
                " p256dh = excluded.p256dh, auth = excluded.auth, updated_at = now(), last_failure_at = NULL,"
                " last_error = NULL", user_id, endpoint, p256dh, auth, device_id)
            await con.execute(
                "DELETE FROM push_subscriptions WHERE id IN (SELECT id FROM push_subscriptions WHERE user_id = $1"
                " ORDER BY updated_at DESC, id DESC OFFSET $2)", user_id, max_per_user)
            return owner != user_id

    @bridged
    async def remove_push_subscription(self, user_id: int, endpoint: str) -> bool:
        done = await self.pool.execute("DELETE FROM push_subscriptions WHERE user_id = $1 AND endpoint = $2",
                                       user_id, endpoint)
        return done != "DELETE 0"

    # ------------------------------------------------------------------ the scan

    @bridged
    async def scan_push(self, delay: float, lookback: float) -> int | None:
        """Turn undelivered messages older than `delay` into outbox jobs; the jobs made or grown.

        None if another node's scan holds the lock (it does the work).
        """
        async with self.pool.acquire() as con, con.transaction():
            if not await con.fetchval("SELECT pg_try_advisory_xact_lock($1)", SCAN_LOCK_KEY):
                return None
            # a statement of its own after the lock: its snapshot sees what the previous scan committed
            return await con.fetchval(SCAN_SQL, delay, lookback, SCAN_BACKLOG,  # type: ignore[no-any-return]
                                      NOTIFYING_KINDS)

    @bridged
    async def prune_push_failures(self, older_than: float) -> int:
        done = await self.pool.execute(
            "DELETE FROM push_failures WHERE at < now() - make_interval(secs => $1)", older_than)
        return int(done.split()[-1])

    # ------------------------------------------------------------------ sending

    @bridged
    async def claim_push_jobs(self, limit: int, lease: float) -> list[PushJob]:
        """Claim up to `limit` due jobs for `lease` seconds, each with the subscriptions it is owed to."""
        async with self.pool.acquire() as con:
            rows = await con.fetch(CLAIM_SQL, limit, lease, PREVIEW_FETCH)
            if not rows:
                return []
            subs = await con.fetch("SELECT id, user_id, endpoint, p256dh, auth FROM push_subscriptions"
                                   " WHERE user_id = ANY($1::bigint[]) ORDER BY id", list({r["user_id"] for r in rows}))
        by_user: dict[int, list[Subscription]] = {}
        for s in subs:
            by_user.setdefault(s["user_id"], []).append(_subscription(s))
        jobs = []
        for r in rows:
            only = set(r["only_subscriptions"]) if r["only_subscriptions"] is not None else None
            owed = tuple(s for s in by_user.get(r["user_id"], []) if only is None or s.id in only)
            jobs.append(PushJob(user_id=r["user_id"], room_id=r["room_id"], count=r["count"], last_seq=r["last_seq"],
                                attempts=r["attempts"], room_kind=r["room_kind"], room_name=r["room_name"],
                                sender_id=r["last_sender"], sender_name=r["sender_name"], body=r["body"],
                                message_kind=r["message_kind"], subscriptions=owed))
        return jobs

    @bridged
    async def finish_push_job(self, job: PushJob, failures: list[SendFailure], retry_in: float | None,
                              gave_up: bool) -> None:
        """Record how a claimed job went.

        Gone subscriptions are deleted, refusals and give-ups logged in push_failures. With `retry_in` the
        job is due again then, owed only to the subscriptions that failed (all of them if messages came in
        meanwhile). Otherwise it is done: deleted, or, if messages came in meanwhile, left with those.
        A job claimed again by another node since (its lease ran out) is that node's to finish.
        """
        key = (job.user_id, job.room_id, job.attempts)
        async with self.pool.acquire() as con, con.transaction():
            gone = [f.subscription.id for f in failures if f.outcome == "gone"]
            if gone:
                await con.execute("DELETE FROM push_subscriptions WHERE id = ANY($1::bigint[])", gone)
            failing = [f for f in failures if f.outcome != "gone"]
            if failing:
                await con.execute(
                    "UPDATE push_subscriptions s SET last_failure_at = now(), last_error = v.error"
                    " FROM unnest($1::bigint[], $2::text[]) AS v(id, error) WHERE s.id = v.id",
                    [f.subscription.id for f in failing], [f.error for f in failing])
            logged = [(f, "gave_up" if f.outcome == "retry" else f.outcome) for f in failures
                      if f.outcome != "retry" or gave_up]
            if logged:
                await con.executemany(
                    "INSERT INTO push_failures (user_id, room_id, endpoint, outcome, status, error, attempts)"
                    " VALUES ($1, $2, $3, $4, $5, $6, $7)",
                    [(job.user_id, job.room_id, f.subscription.endpoint, outcome, f.status, f.error, job.attempts)
                     for f, outcome in logged])
            if retry_in is not None:
                retry = [f for f in failures if f.outcome == "retry"]
                await con.execute(
                    "UPDATE push_outbox SET next_attempt_at = now() + make_interval(secs => $4), last_error = $5,"
                    " only_subscriptions = CASE WHEN last_seq = $6 THEN $7::bigint[] END"
                    " WHERE user_id = $1 AND room_id = $2 AND attempts = $3",
                    *key, retry_in, retry[0].error if retry else None, job.last_seq,
                    [f.subscription.id for f in retry])
                return
            await con.execute("DELETE FROM push_outbox WHERE user_id = $1 AND room_id = $2 AND attempts = $3"
                              " AND last_seq = $4", *key, job.last_seq)
            await con.execute(
                "UPDATE push_outbox SET count = count - $4, attempts = 0, next_attempt_at = now(),"
                " only_subscriptions = NULL, last_error = NULL"
                " WHERE user_id = $1 AND room_id = $2 AND attempts = $3 AND last_seq > $5 AND count > $4",
                *key, job.count, job.last_seq)
