-- Web Push (issue 5): browser subscriptions, the per-membership high-water mark of what was notified,
-- the outbox of pending pushes (one collapsed job per user and room) and a log of failed deliveries.

-- A browser's PushSubscription. The endpoint is a capability URL of one browser profile: it belongs to
-- whoever subscribed it last (a browser that changes hands moves its endpoint to the new account).
CREATE TABLE push_subscriptions (
    id              bigserial PRIMARY KEY,
    user_id         bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    endpoint        text NOT NULL UNIQUE CHECK (char_length(endpoint) <= 2048),
    p256dh          text NOT NULL,          -- base64url, a 65-byte uncompressed P-256 point
    auth            text NOT NULL,          -- base64url, 16 bytes
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),   -- last (re)subscription
    last_failure_at timestamptz,
    last_error      text
);
CREATE INDEX push_subscriptions_user ON push_subscriptions (user_id, updated_at);

-- Up to which seq a membership has been considered for push (notified, or passed over: system
-- messages, own messages, messages older than the look-back). Its own table, not a room_members
-- column, so the scan never takes row locks on the rows the CursorWriter updates on every ack.
CREATE TABLE push_marks (
    room_id  bigint NOT NULL,
    user_id  bigint NOT NULL,
    push_seq bigint NOT NULL,
    PRIMARY KEY (room_id, user_id),
    FOREIGN KEY (room_id, user_id) REFERENCES room_members (room_id, user_id) ON DELETE CASCADE
);

-- Pending pushes, collapsed: one row per (user, room) that accumulates until it is sent.
CREATE TABLE push_outbox (
    user_id            bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    room_id            bigint NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    count              integer NOT NULL CHECK (count > 0),    -- new messages since the last push
    last_seq           bigint NOT NULL,                       -- the latest of them
    last_sender        bigint REFERENCES users (id) ON DELETE SET NULL,
    only_subscriptions bigint[],            -- a retry owed to these subscriptions only; NULL: all of them
    attempts           integer NOT NULL DEFAULT 0,            -- sends started (a claim counts one)
    next_attempt_at    timestamptz NOT NULL DEFAULT now(),    -- due; while claimed: the claim's expiry
    last_error         text,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, room_id)
);
CREATE INDEX push_outbox_due ON push_outbox (next_attempt_at);

-- Deliveries that ended badly: the subscription was gone (404/410), the push service refused the
-- push (another 4xx), or the retries ran out. Rows older than 30 days are pruned by the sender.
CREATE TABLE push_failures (
    id       bigserial PRIMARY KEY,
    at       timestamptz NOT NULL DEFAULT now(),
    user_id  bigint REFERENCES users (id) ON DELETE CASCADE,
    room_id  bigint,
    endpoint text NOT NULL,
    outcome  text NOT NULL CHECK (outcome IN ('gone', 'rejected', 'gave_up')),
    status   integer,                       -- the HTTP status; NULL for a network error or a timeout
    error    text NOT NULL,
    attempts integer NOT NULL
);
CREATE INDEX push_failures_at ON push_failures (at);
CREATE INDEX push_failures_user ON push_failures (user_id, at);
