-- A push subscription belongs to the signed-in device that made it (issue 16): signing that device out
-- (logout, "log out other devices", a password change, refresh-token reuse, account deletion) drops its
-- subscriptions in the same transaction, so a signed-out browser stops getting message previews.
-- Subscriptions made before this migration have no device until their browser renews them (the web
-- client does at every start); until then they stay until unsubscribed or the account is deleted.
ALTER TABLE push_subscriptions ADD COLUMN device_id uuid REFERENCES devices (id) ON DELETE CASCADE;
CREATE INDEX push_subscriptions_device ON push_subscriptions (device_id) WHERE device_id IS NOT NULL;

CREATE FUNCTION push_subscriptions_of_revoked_device() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM push_subscriptions WHERE device_id = NEW.id;
    RETURN NULL;
END $$;

CREATE TRIGGER devices_revoked_drop_push AFTER UPDATE OF revoked_at ON devices
    FOR EACH ROW WHEN (OLD.revoked_at IS NULL AND NEW.revoked_at IS NOT NULL)
    EXECUTE FUNCTION push_subscriptions_of_revoked_device();
