-- 0021: indexes for the retention of events (WAGATE_EVENT_RETENTION): old
-- events are found by age, and deleting one cascades to its deliveries
-- (found by event id) and their attempts.

CREATE INDEX events_created_at ON events (created_at);
CREATE INDEX webhook_deliveries_event_id ON webhook_deliveries (event_id);
