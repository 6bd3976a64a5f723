-- 0020: webhooks, their deliveries (one per event and webhook) and every delivery attempt.

CREATE TABLE webhooks (
    id               uuid PRIMARY KEY,
    session_id       uuid NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    url              text NOT NULL,
    events           text[] NOT NULL DEFAULT '{}',   -- empty: every event
    secret           text NOT NULL,
    enabled          boolean NOT NULL DEFAULT true,
    session_default  boolean NOT NULL DEFAULT false, -- made from sessions.webhook_url at creation
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX webhooks_session_id ON webhooks (session_id, created_at);
CREATE UNIQUE INDEX webhooks_session_default ON webhooks (session_id) WHERE session_default;

-- Inserted by RecordEvent in the event's transaction, with its job-queue job.
CREATE TABLE webhook_deliveries (
    id               bigserial PRIMARY KEY,
    session_id       uuid NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    webhook_id       uuid NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event_id         text NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    event_type       text NOT NULL,
    url              text NOT NULL,                  -- URL of the last attempt (the webhook's when queued)
    status           text NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending', 'succeeded', 'retrying', 'dead')),
    generation       integer NOT NULL DEFAULT 1,     -- bumped by redelivery; older jobs are stale
    attempts         integer NOT NULL DEFAULT 0,     -- across redeliveries
    last_status_code integer,
    last_latency_ms  integer,
    last_error       text,
    next_attempt_at  timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (webhook_id, event_id)
);

CREATE INDEX webhook_deliveries_session_id ON webhook_deliveries (session_id, id DESC);
CREATE INDEX webhook_deliveries_session_status ON webhook_deliveries (session_id, status, id DESC);

CREATE TABLE webhook_attempts (
    id           bigserial PRIMARY KEY,
    delivery_id  bigint NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    url          text NOT NULL,
    started_at   timestamptz NOT NULL,
    status_code  integer,                            -- NULL: no HTTP answer
    latency_ms   integer NOT NULL,
    error        text
);

CREATE INDEX webhook_attempts_delivery_id ON webhook_attempts (delivery_id, id);
