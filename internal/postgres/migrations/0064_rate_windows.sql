-- Issue 18 item 5: the cluster-wide budget of the general and the
-- session-creation rate limits. One row per (class, bucket): the current
-- window (started in database time by its first claim) and how much of its
-- budget the nodes have claimed. Nodes admit requests from local buckets
-- and claim chunks here (one UPDATE per chunk, never one per request).
CREATE TABLE wagate_rate_windows (
    class        text NOT NULL,
    bucket       text NOT NULL,
    window_start timestamptz NOT NULL,
    window_ms    bigint NOT NULL CHECK (window_ms > 0),
    used         integer NOT NULL CHECK (used >= 0),
    granted      integer NOT NULL CHECK (granted >= 0),
    PRIMARY KEY (class, bucket)
);
-- Rows are few (two per key at most) and rewritten in place; a key's rows
-- outlive it harmlessly (its next window would start afresh).
