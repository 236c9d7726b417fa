-- Distribution keys (issue 20): every unique key and foreign key of a sharded table includes its distribution
-- column, so the schema runs unchanged on a Postgres sharded by room_id (Citus-style). persistence/distribution.py
-- classifies every table; tests/test_schema_shapes.py checks the rules on the migrated schema. Existing rows are
-- converted in place; nothing changes for users.

-- One direct room per pair. The rule was rooms.direct_key UNIQUE, a unique key without the room id; it moves to
-- a lookup keyed by the pair and distributed by its lower user id (get_or_create_direct claims the pair's row
-- before it creates the room, so two concurrent creators of one pair get one room). rooms.direct_key stays as
-- the room's record of its pair (the CHECK ties it to kind). No foreign key to rooms: rooms are sharded by room,
-- this table by user, and rooms are never deleted.
CREATE TABLE direct_rooms (
    user_low  bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    user_high bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    room_id   bigint NOT NULL,
    PRIMARY KEY (user_low, user_high),
    CHECK (user_low <= user_high)
);
INSERT INTO direct_rooms (user_low, user_high, room_id)
SELECT split_part(direct_key, ':', 1)::bigint, split_part(direct_key, ':', 2)::bigint, id
  FROM rooms WHERE direct_key IS NOT NULL;
ALTER TABLE rooms DROP CONSTRAINT rooms_direct_key_key;

-- Invite links: keyed (room_id, code) in their room, and a code -> room lookup (distributed by code) for the
-- join and the preview, which know only the code: they find the room here first, then the link in the room
-- (the join under the link's row lock in the room's commit, as before). Codes stay globally unique (this
-- table's key) and existing links keep working.
CREATE TABLE invite_codes (
    code    text PRIMARY KEY,
    room_id bigint NOT NULL
);
INSERT INTO invite_codes (code, room_id) SELECT code, room_id FROM invite_links;

ALTER TABLE invite_joins DROP CONSTRAINT invite_joins_code_fkey;
ALTER TABLE invite_joins DROP CONSTRAINT invite_joins_pkey;
ALTER TABLE invite_links DROP CONSTRAINT invite_links_pkey;
ALTER TABLE invite_links ADD PRIMARY KEY (room_id, code);
DROP INDEX invite_links_room;   -- the primary key leads with room_id now
ALTER TABLE invite_joins ADD PRIMARY KEY (room_id, code, user_id, seq);
ALTER TABLE invite_joins ADD CONSTRAINT invite_joins_link_fkey
    FOREIGN KEY (room_id, code) REFERENCES invite_links (room_id, code) ON DELETE CASCADE;

-- To-device messages are sharded by their device: the retry key (a retried send_to_device stores nothing twice)
-- includes it. A part of one send goes to one device, so a retry conflicts exactly as before.
ALTER TABLE to_device DROP CONSTRAINT to_device_sender_device_txn_part_key;
ALTER TABLE to_device ADD CONSTRAINT to_device_once UNIQUE (device_id, sender_device, txn, part);

-- Every per-room table's primary key leads with room_id, like the others (a room's rows together in the index;
-- Citus itself needs only inclusion). media_refs and push_outbox had it further back; downloads and the media
-- collector look media_refs up by item, so that gets its own index.
ALTER TABLE media_refs DROP CONSTRAINT media_refs_pkey;
ALTER TABLE media_refs ADD PRIMARY KEY (room_id, seq, media_id);
CREATE INDEX media_refs_media ON media_refs (media_id);
ALTER TABLE push_outbox DROP CONSTRAINT push_outbox_pkey;
ALTER TABLE push_outbox ADD PRIMARY KEY (room_id, user_id);
