-- 0050: the event stream (GET /sessions/{id}/events/stream, docs/events.md).
--
-- Event ids are random, and events committed concurrently are inserted in
-- one order and committed in another, so neither the id nor an insertion
-- sequence can be the stream's order: a reader that has seen position 7
-- could later find a 6 that committed late, and a cursor would skip it.
-- The stream's order is pos, assigned after commit by the sequencer
-- (postgres.SequenceEvents): one transaction at a time (an advisory lock)
-- numbers the committed events that have none, max(pos)+1 onwards, in
-- insertion order. Every event is numbered once and a number is visible only
-- after every lower one is, so "every event after position p" never
-- changes once read.
--   seq  insertion order (identity), the sequencer's order within a batch
--   pos  the stream position, NULL until sequenced
ALTER TABLE events ADD COLUMN seq bigint GENERATED ALWAYS AS IDENTITY;
ALTER TABLE events ADD COLUMN pos bigint;

WITH o AS (SELECT id, row_number() OVER (ORDER BY created_at, seq) AS p FROM events)
UPDATE events e SET pos = o.p FROM o WHERE e.id = o.id;

CREATE UNIQUE INDEX events_pos ON events (pos);
CREATE INDEX events_session_pos ON events (session_id, pos);
CREATE INDEX events_unsequenced ON events (seq) WHERE pos IS NULL;

-- Wake the sequencers when events commit (delivered at commit, once per
-- transaction for the same payload); the sequencer announces the positions
-- it assigned on the same channel ('pos'), which wakes the streams.
CREATE FUNCTION wagate_notify_events() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('wagate_events', 'new');
    RETURN NULL;
END;
$$;

CREATE TRIGGER events_notify_stream AFTER INSERT ON events
    FOR EACH STATEMENT EXECUTE FUNCTION wagate_notify_events();
