-- History as it was (issue 16): former members see each message as it stood at their removal, and
-- history_visibility applies as it was when each message was sent.

-- Every version a message had before an edit or delete: one row per change, written in the same statement
-- that changes the message (persistence/messages.py `_apply`). A reader whose membership ended at left_seq
-- L gets, for a message changed after L, the row of the first change after L (the message as it stood at
-- L); everyone else reads `messages` alone. Changes made before this migration kept no old version.
CREATE TABLE message_edits (
    room_id   bigint NOT NULL,
    seq       bigint NOT NULL,       -- the message that was changed
    edit_seq  bigint NOT NULL,       -- the message_edited / message_deleted event that changed it
    body      text,                  -- the message just before that change
    edited_at timestamptz,
    deleted   boolean NOT NULL,
    media     jsonb,
    PRIMARY KEY (room_id, seq, edit_seq),
    FOREIGN KEY (room_id, seq) REFERENCES messages (room_id, seq) ON DELETE CASCADE
);

-- The room's history_visibility by seq: each row holds from its seq on (the room_updated message that set
-- it; 1 for the value the room was created with). Written when a room is created and when an update sets
-- history_visibility: rare, so the send path stays as it was. protocol/history.py applies it.
CREATE TABLE room_visibility (
    room_id    bigint NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    from_seq   bigint NOT NULL CHECK (from_seq >= 1),
    visibility text NOT NULL CHECK (visibility IN ('shared', 'joined')),
    PRIMARY KEY (room_id, from_seq)
);

-- Existing rooms: every update of the setting is in the room's seq. Before the first one the value is
-- not recorded anywhere (an update may repeat the value), so it is taken as `joined`, which shows less;
-- a room never updated has had its current value all along.
INSERT INTO room_visibility (room_id, from_seq, visibility)
SELECT room_id, seq, event->>'history_visibility' FROM messages
 WHERE kind = 'system' AND event->>'type' = 'room_updated' AND event->>'history_visibility' IN ('shared', 'joined');
INSERT INTO room_visibility (room_id, from_seq, visibility)
SELECT r.id, 1, CASE WHEN EXISTS (SELECT 1 FROM room_visibility v WHERE v.room_id = r.id)
                     THEN 'joined' ELSE r.history_visibility END
  FROM rooms r
    ON CONFLICT (room_id, from_seq) DO NOTHING;

-- The same rule in SQL, for the media download check (persistence/media.py): the setting when `seq` was sent.
CREATE FUNCTION history_visibility_at(room bigint, seq bigint) RETURNS text
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT COALESCE((SELECT v.visibility FROM room_visibility v WHERE v.room_id = room AND v.from_seq <= seq
                            ORDER BY v.from_seq DESC LIMIT 1), 'joined') $$;
