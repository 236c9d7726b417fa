-- Sessions (issue 16): a device is one signed-in client (one login or signup). Access tokens name it (`dev`),
-- and hello, `auth` and every HTTP request check that it is still live: revoking it (logout, refresh-token
-- reuse, "log out other devices", a password change, account deletion, an admin's disable) ends its access
-- tokens at once, not when they expire.
CREATE TABLE devices (
    id           uuid PRIMARY KEY,
    user_id      bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz NOT NULL DEFAULT now(),   -- hello, auth, refresh, HTTP (at most once a minute)
    revoked_at   timestamptz
);
CREATE INDEX devices_user ON devices (user_id) WHERE revoked_at IS NULL;

-- Devices signed in before this migration: live while one of their refresh tokens is.
INSERT INTO devices (id, user_id, name, created_at, last_seen_at, revoked_at)
SELECT device_id, min(user_id), min(device_name), min(created_at), max(created_at),
       CASE WHEN bool_or(revoked_at IS NULL AND expires_at > now()) THEN NULL ELSE now() END
FROM refresh_tokens GROUP BY device_id;

ALTER TABLE refresh_tokens ADD CONSTRAINT refresh_tokens_device_fk
    FOREIGN KEY (device_id) REFERENCES devices (id) ON DELETE CASCADE;

-- A deleted account keeps its row (its messages name it as their sender) under a placeholder name.
ALTER TABLE users ADD COLUMN deleted_at timestamptz;
