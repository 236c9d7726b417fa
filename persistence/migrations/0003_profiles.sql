-- Profiles (issue 4): display name, about, avatar and last seen, each with its own visibility, and an
-- index for searching users by username prefix. Independent of 0002: either may be applied first.

CREATE TABLE profiles (
    user_id      bigint PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    display_name text CHECK (char_length(display_name) BETWEEN 1 AND 64),   -- NULL: not set ("" clears)
    about        text CHECK (char_length(about) BETWEEN 1 AND 500),
    avatar       text CHECK (char_length(avatar) BETWEEN 1 AND 256),        -- a URL now, a media id later
    last_seen    timestamptz,                                              -- the last disconnect stored
    -- who may see each field; NULL means the server's default (protocol/people.py DEFAULT_VISIBILITY)
    show_display_name text CHECK (show_display_name IN ('everyone', 'contacts', 'nobody')),
    show_about        text CHECK (show_about IN ('everyone', 'contacts', 'nobody')),
    show_avatar       text CHECK (show_avatar IN ('everyone', 'contacts', 'nobody')),
    show_last_seen    text CHECK (show_last_seen IN ('everyone', 'contacts', 'nobody'))
);

-- search_users: the first n usernames from the prefix on, `WHERE lower(username) COLLATE "C" >= prefix
-- ORDER BY lower(username) COLLATE "C" LIMIT n`, then LIKE 'prefix%'. A "C" collation btree gives both the
-- range and the order, so a scan reads n entries however broad the prefix (text_pattern_ops would give
-- the range only, and a broad prefix would then sort every match to return 20).
CREATE INDEX users_username_prefix ON users ((lower(username)) COLLATE "C");
