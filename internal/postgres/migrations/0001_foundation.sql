-- 0001: sessions, session keys, the admin key, managed API keys and events.

CREATE TABLE api_keys (
    id                  text PRIMARY KEY,            -- key_<16 hex>
    key_hash            bytea NOT NULL UNIQUE,       -- SHA-256 of the raw key
    name                text NOT NULL,
    type                text NOT NULL DEFAULT 'standard',
    is_admin            boolean NOT NULL DEFAULT false,
    rate_limit_general  integer,                     -- NULL: server default
    rate_limit_messages integer,
    rate_limit_sessions integer,
    max_sessions        integer,                     -- NULL or 0: no cap
    expires_at          timestamptz,                 -- trial keys
    allowed_numbers     text[] NOT NULL DEFAULT '{}',
    metadata            jsonb NOT NULL DEFAULT '{}',
    created_at          timestamptz NOT NULL DEFAULT now(),
    revoked_at          timestamptz
);

CREATE TABLE sessions (
    id            uuid PRIMARY KEY,
    name          text NOT NULL UNIQUE,
    state         text NOT NULL DEFAULT 'starting',
    webhook_url   text,
    metadata      jsonb NOT NULL DEFAULT '{}',
    owner_key_id  text REFERENCES api_keys (id),     -- NULL: created with the master key
    jid           text,
    phone         text,
    push_name     text,
    connected_at  timestamptz,
    last_seen_at  timestamptz,
    last_error    text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX sessions_owner_key_id ON sessions (owner_key_id) WHERE owner_key_id IS NOT NULL;

CREATE TABLE session_keys (
    session_id  uuid PRIMARY KEY REFERENCES sessions (id) ON DELETE CASCADE,
    key_hash    bytea NOT NULL UNIQUE,              -- SHA-256 of the raw wask_ key
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- The generated master admin key; at most one row. Unused while
-- WAGATE_ADMIN_KEY is set.
CREATE TABLE admin_key (
    id          smallint PRIMARY KEY DEFAULT 1 CHECK (id = 1),
    key_hash    bytea NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- Every domain event (session.state, message.*, chat.*); the single source
-- for webhook deliveries. Inserted only by RecordEvent.
CREATE TABLE events (
    id          text PRIMARY KEY,                   -- evt_<uuid>
    session_id  uuid NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    type        text NOT NULL,
    data        jsonb NOT NULL DEFAULT '{}',
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX events_session_id_created_at ON events (session_id, created_at);
