-- Issue 15: calls offered to a session that still ring, shared by every
-- node and kept across restarts, so POST /sessions/{id}/calls/{callId}/reject
-- works on whichever node runs the session when the reject comes. A row
-- goes when the call is rejected, accepted or ends; rows older than the
-- longest ring (whatsapp.maxRinging) count as ended and are swept.
CREATE TABLE IF NOT EXISTS ringing_calls (
	session_id uuid NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
	call_id text NOT NULL,
	caller text NOT NULL,
	offered_at timestamptz NOT NULL,
	PRIMARY KEY (session_id, call_id)
);
CREATE INDEX IF NOT EXISTS ringing_calls_offered_at ON ringing_calls (offered_at);
