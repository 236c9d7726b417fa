-- Room administration (issue 4): settings, bans, and edits/deletes of messages.

ALTER TABLE rooms
    ADD COLUMN description text,
    ADD COLUMN icon        text;

-- A banned user cannot be added back or join by invite until unbanned. Not a membership row: a ban
-- can come before anyone joins, and the removal it caused stays in room_members (left_seq).
CREATE TABLE room_bans (
    room_id   bigint NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    user_id   bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    banned_by bigint REFERENCES users (id),
    banned_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (room_id, user_id)
);

-- The current version of a message: an edit replaces body and sets edited_at, a delete clears body.
-- Each change is also a system message in the room's seq, so clients that were away catch up.
ALTER TABLE messages
    ADD COLUMN edited_at timestamptz,
    ADD COLUMN deleted   boolean NOT NULL DEFAULT false;

-- Read receipts can be turned off per user: their reads are then not reported, and they see none.
ALTER TABLE users ADD COLUMN read_receipts boolean NOT NULL DEFAULT true;

-- Invite links: an unguessable code (>= 128 bits, URL-safe) that adds whoever uses it to the room.
CREATE TABLE invite_links (
    code       text PRIMARY KEY,
    room_id    bigint NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    created_by bigint NOT NULL REFERENCES users (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz,              -- NULL: never
    max_uses   integer CHECK (max_uses IS NULL OR max_uses >= 1),
    use_count  integer NOT NULL DEFAULT 0,
    revoked_at timestamptz,
    CHECK (max_uses IS NULL OR use_count <= max_uses)
);
CREATE INDEX invite_links_room ON invite_links (room_id);

-- Who joined through which link (the audit admins list; a leaked link's joiners can be removed).
CREATE TABLE invite_joins (
    code      text NOT NULL REFERENCES invite_links (code) ON DELETE CASCADE,
    room_id   bigint NOT NULL,
    user_id   bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    seq       bigint NOT NULL,           -- the member_joined system message
    joined_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (code, user_id, seq)
);
CREATE INDEX invite_joins_room ON invite_joins (room_id, joined_at);
