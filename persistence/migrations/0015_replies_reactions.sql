-- Replies and reactions (issue 17).

-- A reply names the message it answers by seq, in the same room; checked when it is stored
-- (persistence/seqplan.py): the target existed, was no system message and was not deleted.
ALTER TABLE messages ADD COLUMN reply_to bigint CHECK (reply_to >= 1 AND reply_to < seq);

-- A message's reactions, aggregated: [{"emoji": "👍", "users": [3, 5]}, ...] in the order each emoji was
-- first used (NULL: none). Each `react` / `unreact` is a reaction_added / reaction_removed system message
-- in the room's seq, like an edit, and rewrites this column in the same commit; the version it replaces
-- goes to message_edits with the other versioned columns, so a former member sees the reactions as they
-- stood at their removal (persistence/versions.py).
ALTER TABLE messages ADD COLUMN reactions jsonb;
ALTER TABLE message_edits ADD COLUMN reactions jsonb;
