-- Avatars and room icons may be media ids (issue 4/5): downloads look them up by value.
CREATE INDEX profiles_avatar ON profiles (avatar) WHERE avatar IS NOT NULL;
CREATE INDEX rooms_icon ON rooms (icon) WHERE icon IS NOT NULL;
