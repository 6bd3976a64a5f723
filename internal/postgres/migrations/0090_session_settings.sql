-- 0090 (issue 15): per-session settings that change how the WhatsApp side
-- behaves. A session without a row has the defaults.
CREATE TABLE session_settings (
    session_id            uuid PRIMARY KEY REFERENCES sessions (id) ON DELETE CASCADE,
    reject_calls          boolean NOT NULL DEFAULT false,
    reject_calls_message  text,
    updated_at            timestamptz NOT NULL DEFAULT now()
);
