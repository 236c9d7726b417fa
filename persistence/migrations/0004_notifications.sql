-- In-app notifications and push: per-member mute, @mentions, per-room private previews.

ALTER TABLE room_members ADD COLUMN muted boolean NOT NULL DEFAULT false;

-- Which messages @mention whom (parsed by the server when the message is stored); a member's mention
-- count is the number of these after their read_seq.
CREATE TABLE mentions (
    room_id bigint NOT NULL,
    user_id bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    seq     bigint NOT NULL,
    PRIMARY KEY (room_id, user_id, seq),
    FOREIGN KEY (room_id, seq) REFERENCES messages (room_id, seq) ON DELETE CASCADE
);

-- A room whose push notifications carry no message preview (only "new message in <room>").
ALTER TABLE rooms ADD COLUMN private_preview boolean NOT NULL DEFAULT false;
