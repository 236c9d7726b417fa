-- Core schema: users, refresh tokens, rooms, memberships with cursors, messages keyed by (room_id, seq).

CREATE TABLE users (
    id            bigserial PRIMARY KEY,
    username      text NOT NULL,
    email         text NOT NULL,
    password_hash text NOT NULL,
    disabled      boolean NOT NULL DEFAULT false,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_username_key ON users (lower(username));
CREATE UNIQUE INDEX users_email_key ON users (lower(email));

-- One row per issued refresh token; a device keeps its device_id across rotations.
CREATE TABLE refresh_tokens (
    token_hash  bytea PRIMARY KEY,          -- sha256 of the token; the token itself is never stored
    user_id     bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    device_id   uuid NOT NULL,
    device_name text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    revoked_at  timestamptz
);
CREATE INDEX refresh_tokens_device ON refresh_tokens (device_id);

CREATE TABLE rooms (
    id                 bigserial PRIMARY KEY,
    kind               text NOT NULL CHECK (kind IN ('direct', 'group')),
    name               text,
    direct_key         text UNIQUE,     -- 'low_id:high_id' for direct rooms: one room per pair
    history_visibility text NOT NULL DEFAULT 'shared' CHECK (history_visibility IN ('shared', 'joined')),
    last_seq           bigint NOT NULL DEFAULT 0,
    created_by         bigint REFERENCES users (id),
    created_at         timestamptz NOT NULL DEFAULT now(),
    CHECK ((kind = 'direct') = (direct_key IS NOT NULL))
);

-- Delivery state without a row per (message, recipient): cumulative cursors per membership.
CREATE TABLE room_members (
    room_id       bigint NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    user_id       bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role          text NOT NULL DEFAULT 'member' CHECK (role IN ('owner', 'admin', 'member')),
    joined_seq    bigint NOT NULL,      -- seq of the system message that added the member
    left_seq      bigint,               -- seq of the system message that removed them (owed up to it)
    delivered_seq bigint NOT NULL DEFAULT 0,
    read_seq      bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (room_id, user_id),
    CHECK (left_seq IS NULL OR left_seq >= joined_seq)
);
CREATE INDEX room_members_user ON room_members (user_id);

CREATE TABLE messages (
    room_id    bigint NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    seq        bigint NOT NULL,
    sender_id  bigint REFERENCES users (id),
    client_id  uuid,
    kind       text NOT NULL DEFAULT 'text' CHECK (kind IN ('text', 'system')),
    body       text,
    event      jsonb,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (room_id, seq),
    UNIQUE (room_id, sender_id, client_id)
);
