-- Media (issue 5): uploaded files, their thumbnails, and which messages reference them.

-- One row per upload. The bytes live in the blob store (media/storage.py), content-addressed by sha256:
-- identical uploads share one blob but each gets its own row and unguessable id.
CREATE TABLE media (
    id           text PRIMARY KEY,                         -- secrets.token_urlsafe(18): 144 bits
    uploader     bigint NOT NULL REFERENCES users (id),
    sha256       text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    mime         text NOT NULL,                            -- sniffed from the bytes, never the client's claim
    size         bigint NOT NULL CHECK (size >= 0),
    width        integer,                                  -- images whose header could be read
    height       integer,
    filename     text CHECK (char_length(filename) BETWEEN 1 AND 255),
    thumbnail_of text REFERENCES media (id) ON DELETE CASCADE,  -- set on a thumbnail: its original
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX media_thumbnail_of ON media (thumbnail_of) WHERE thumbnail_of IS NOT NULL;
CREATE INDEX media_sha256 ON media (sha256);   -- is a blob still used (for a later sweep)

-- Written in a room's commit transaction for every message that references a media item. A member of
-- the room who may see that seq may download the item (and its thumbnail).
CREATE TABLE media_refs (
    media_id text NOT NULL REFERENCES media (id) ON DELETE CASCADE,
    room_id  bigint NOT NULL,
    seq      bigint NOT NULL,
    PRIMARY KEY (media_id, room_id, seq)
);
