-- 0045: tell every node when what authenticates and authorizes a request
-- changes, so that their in-memory caches (internal/authcache) drop it.
-- pg_notify runs in the transaction of the change and is delivered at its
-- commit (never for a rolled-back change). Payloads on channel wagate_auth:
--   new                    a key was created (drop cached misses)
--   key:<api key id>       a managed key changed, was revoked or deleted
--   session_key:<uuid>     a session's key changed or was deleted
--   session:<uuid>         a session row changed (state, owner, ...)
--   session_deleted:<uuid> a session was deleted

CREATE FUNCTION wagate_notify_auth() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' AND TG_TABLE_NAME IN ('api_keys', 'session_keys') THEN
        PERFORM pg_notify('wagate_auth', 'new');
        RETURN NULL;
    END IF;
    IF TG_TABLE_NAME = 'api_keys' THEN
        PERFORM pg_notify('wagate_auth', 'key:' || OLD.id);
    ELSIF TG_TABLE_NAME = 'session_keys' THEN
        PERFORM pg_notify('wagate_auth', 'session_key:' || OLD.session_id::text);
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM pg_notify('wagate_auth', 'session_deleted:' || OLD.id::text);
    ELSE
        PERFORM pg_notify('wagate_auth', 'session:' || OLD.id::text);
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER api_keys_notify_auth AFTER INSERT OR UPDATE OR DELETE ON api_keys
    FOR EACH ROW EXECUTE FUNCTION wagate_notify_auth();
CREATE TRIGGER session_keys_notify_auth AFTER INSERT OR UPDATE OR DELETE ON session_keys
    FOR EACH ROW EXECUTE FUNCTION wagate_notify_auth();
CREATE TRIGGER sessions_notify_auth AFTER UPDATE OR DELETE ON sessions
    FOR EACH ROW EXECUTE FUNCTION wagate_notify_auth();
