-- Admin console (issue 8): the server-wide admin role. Granted with `chatctl grant-admin USERNAME`.
ALTER TABLE users ADD COLUMN is_admin boolean NOT NULL DEFAULT false;
