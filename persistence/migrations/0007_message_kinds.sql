-- Message kinds (issue 5): image, video, audio and file messages carry their media item's metadata,
-- copied at send time from the media row (plus the sender's duration / video size), so a message reads
-- without a join. media_refs (0005) gets its row in the same commit.
ALTER TABLE messages DROP CONSTRAINT messages_kind_check;
ALTER TABLE messages ADD CONSTRAINT messages_kind_check
    CHECK (kind IN ('text', 'image', 'video', 'audio', 'file', 'system'));
ALTER TABLE messages ADD COLUMN media jsonb;
ALTER TABLE messages ADD CONSTRAINT messages_media_kind
    CHECK ((media IS NOT NULL) = (kind IN ('image', 'video', 'audio', 'file')) OR deleted);
