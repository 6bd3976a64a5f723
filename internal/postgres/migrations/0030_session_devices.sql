-- 0030: the link from a session to its whatsmeow companion device (keys live in whatsmeow's own tables).

CREATE TABLE session_devices (
    session_id  uuid PRIMARY KEY REFERENCES sessions (id) ON DELETE CASCADE,
    device_jid  text NOT NULL UNIQUE,               -- whatsmeow_device.jid, e.g. 15550001111:7@s.whatsapp.net
    linked_at   timestamptz NOT NULL DEFAULT now()
);
