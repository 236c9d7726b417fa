-- Upload limits and media garbage collection (issue 16).

-- Bytes each user uploaded per UTC calendar day (CHAT_UPLOAD_BYTES_PER_DAY). An upload in progress
-- reserves what it is about to store and gives back what it did not; a refused upload gives back all.
CREATE TABLE upload_usage (
    user_id bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    day     date NOT NULL,
    bytes   bigint NOT NULL CHECK (bytes >= 0),
    PRIMARY KEY (user_id, day)
);

-- When an upload was last named as an avatar or a room icon: the collector's grace period starts
-- again then, so the profile or room that is about to reference it gets there first.
ALTER TABLE media ADD COLUMN picked_at timestamptz;
CREATE INDEX media_collectable ON media (created_at) WHERE thumbnail_of IS NULL;

-- Blobs the collector decided to delete (no media row has their sha256 any more), until they are gone
-- from the blob store. An upload of the same bytes meanwhile is refused (retry), never given a row
-- whose blob is about to vanish.
CREATE TABLE media_doomed_blobs (
    sha256 text PRIMARY KEY CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    since  timestamptz NOT NULL DEFAULT now()
);
