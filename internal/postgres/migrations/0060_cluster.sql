-- Issue 18: the nodes of a cluster and the session leases.
-- A node row is written at start (register), renewed by the heartbeat and
-- marked dead when the node leaves; `instance` tells two processes that
-- claim one id apart. A lease says which node runs a session's WhatsApp
-- client: owner, a fencing epoch that grows with every new owner, and an
-- expiry in database time.
CREATE TABLE wagate_nodes (
    id           text PRIMARY KEY,
    instance     uuid NOT NULL,
    url          text NOT NULL,
    capacity     integer NOT NULL DEFAULT 1 CHECK (capacity > 0),
    version      text NOT NULL,
    state        text NOT NULL CHECK (state IN ('alive', 'draining', 'dead')),
    started_at   timestamptz NOT NULL DEFAULT now(),
    heartbeat_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE wagate_leases (
    session_id uuid PRIMARY KEY REFERENCES sessions (id) ON DELETE CASCADE,
    owner      text NOT NULL,
    epoch      bigint NOT NULL CHECK (epoch > 0),
    expires_at timestamptz NOT NULL
);
CREATE INDEX wagate_leases_owner ON wagate_leases (owner, expires_at);
