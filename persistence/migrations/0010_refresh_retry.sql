-- A spent refresh token names its successor, so a client whose refresh reply was lost can retry with the
-- spent token for a short while (persistence/accounts.py rotate_refresh_token) without that counting as
-- reuse of a stolen copy.
ALTER TABLE refresh_tokens ADD COLUMN IF NOT EXISTS replaced_by bytea;
