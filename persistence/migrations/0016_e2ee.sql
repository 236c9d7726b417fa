-- End-to-end encryption (issue 19): the server stores public keys, to-device ciphertext and backup
-- ciphertext; nothing here decrypts anything (docs/e2ee.md, docs/protocol.md §12).

-- A device's published identity (Curve25519) and signing (Ed25519) keys: set once, never changed.
CREATE TABLE device_keys (
    device_id    uuid PRIMARY KEY REFERENCES devices (id) ON DELETE CASCADE,
    user_id      bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    identity_key text NOT NULL,
    signing_key  text NOT NULL,
    signature    text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX device_keys_user ON device_keys (user_id);

-- One-time keys (each claimed once: DELETE ... RETURNING under SKIP LOCKED) and the fallback key
-- (is_fallback: at most one per device, given out when the one-time keys ran out).
CREATE TABLE one_time_keys (
    device_id   uuid NOT NULL REFERENCES device_keys (device_id) ON DELETE CASCADE,
    key_id      text NOT NULL,
    is_fallback boolean NOT NULL DEFAULT false,
    key         text NOT NULL,
    signature   text NOT NULL,
    PRIMARY KEY (device_id, is_fallback, key_id)
);
CREATE UNIQUE INDEX one_time_keys_one_fallback ON one_time_keys (device_id) WHERE is_fallback;

-- To-device messages: kept until their device acks them (ack_to_device deletes id <= upto), delivered
-- in id order. (sender_device, txn, part) makes a retried send_to_device store nothing twice (part: the
-- message's index in its send_to_device).
CREATE TABLE to_device (
    id            bigserial,
    device_id     uuid NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
    user_id       bigint NOT NULL,     -- the recipient (devices.user_id), for the gap watch
    sender_id     bigint NOT NULL,
    sender_device uuid NOT NULL,
    txn           uuid NOT NULL,
    part          int NOT NULL,
    body          text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (device_id, id),
    UNIQUE (sender_device, txn, part)
);
CREATE INDEX to_device_user ON to_device (user_id);

-- Encrypted rooms: once on, never off. Messages of kind 'encrypted' carry their Megolm header here
-- ({algorithm, ciphertext, session_id, sender_key, device}); their body is ''.
ALTER TABLE rooms ADD COLUMN encrypted boolean NOT NULL DEFAULT false;
ALTER TABLE messages ADD COLUMN encrypted jsonb;
ALTER TABLE message_edits ADD COLUMN encrypted jsonb;
ALTER TABLE messages DROP CONSTRAINT messages_kind_check;
ALTER TABLE messages ADD CONSTRAINT messages_kind_check
    CHECK (kind IN ('text', 'image', 'video', 'audio', 'file', 'system', 'encrypted'));
ALTER TABLE messages DROP CONSTRAINT messages_media_kind;
ALTER TABLE messages ADD CONSTRAINT messages_media_kind
    CHECK ((media IS NOT NULL) = (kind IN ('image', 'video', 'audio', 'file')) OR deleted OR kind = 'encrypted');
ALTER TABLE messages ADD CONSTRAINT messages_encrypted_kind
    CHECK ((encrypted IS NOT NULL) = (kind = 'encrypted') OR deleted);

-- Key backup: one current backup per user; its entries are ciphertext under the user's recovery key.
CREATE TABLE key_backups (
    user_id    bigint PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    version    bigint NOT NULL,
    auth       text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE key_backup_entries (
    user_id    bigint NOT NULL REFERENCES key_backups (user_id) ON DELETE CASCADE,
    room_id    bigint NOT NULL,
    session_id text NOT NULL,
    data       text NOT NULL,
    PRIMARY KEY (user_id, room_id, session_id)
);
CREATE SEQUENCE key_backup_versions;
