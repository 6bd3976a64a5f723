-- 0070 (issue 12): what messages of the kinds beyond text carry: file
-- name and size, duration, dimensions, voice-note and GIF flags, location,
-- vCards, the poll's question, options and selectable count. One JSON
-- document (gateway.MessageContent, the openapi Message fields of the same
-- names) rather than a column per field: every field belongs to one or two
-- kinds, none is filtered or sorted on. NULL for text messages and for
-- messages stored before this migration. Nullable without a default:
-- rewrites nothing.
ALTER TABLE messages ADD COLUMN content jsonb;

-- Poll votes (issue 12): each voter's current vote on a poll, decrypted
-- with the poll's message secret (whatsmeow's message-secret store keeps
-- it for polls sent and received). A later vote by the same voter replaces
-- the earlier one (a vote that selects nothing retracts it, kept as an
-- empty selection). option_hashes are the SHA-256 of the selected option
-- names as WhatsApp sends them; names are resolved against the poll's
-- options when read. Keyed by the poll's message id (not its chat, which a
-- LID-to-phone fold may rename); rows go with the session.
CREATE TABLE poll_votes (
    session_id     uuid NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    poll_id        text NOT NULL,
    voter          text NOT NULL,
    option_hashes  bytea[] NOT NULL,
    ts             timestamptz NOT NULL,
    first_voted_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (session_id, poll_id, voter)
);
