-- 0010: the message store: chats, messages and their fate, idempotency keys.

-- One row per chat and session. jid is the canonical chat JID: the phone
-- JID when the number is known, else the LID or group JID. Deleted chats
-- keep their row (a new message brings them back) but lose their messages.
CREATE TABLE chats (
    session_id            uuid NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    jid                   text NOT NULL,
    name                  text,
    archived              boolean NOT NULL DEFAULT false,
    marked_unread         boolean NOT NULL DEFAULT false,
    deleted               boolean NOT NULL DEFAULT false,
    unread_count          integer NOT NULL DEFAULT 0,
    last_message_id       text,
    last_message_from_me  boolean,
    last_message_sender   text,
    last_message_at       timestamptz,
    updated_at            timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (session_id, jid)
);

CREATE INDEX chats_recent ON chats (session_id, last_message_at DESC NULLS LAST, jid DESC) WHERE NOT deleted;

-- One row per message. (session, chat, id) absorbs redeliveries.
-- reactions maps sender JID -> {"emoji": ..., "ts": ...}.
-- status: 0 sent/received, 1 delivered, 2 read, 3 played (own messages).
CREATE TABLE messages (
    session_id    uuid NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    chat_jid      text NOT NULL,
    id            text NOT NULL,
    sender        text NOT NULL,
    from_me       boolean NOT NULL,
    ts            timestamptz NOT NULL,
    type          text NOT NULL,
    text          text,
    quoted_id     text,
    edited_text   text,
    edited_at     timestamptz,
    revoked       boolean NOT NULL DEFAULT false,
    starred       boolean NOT NULL DEFAULT false,
    pinned_until  timestamptz,
    reactions     jsonb NOT NULL DEFAULT '{}',
    status        smallint NOT NULL DEFAULT 0,
    history       boolean NOT NULL DEFAULT false,
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (session_id, chat_jid, id)
);

CREATE INDEX messages_chat_recent ON messages (session_id, chat_jid, ts DESC, id DESC);
CREATE INDEX messages_id ON messages (session_id, id);
CREATE INDEX messages_ts ON messages (ts);

-- Idempotency-Key results per session, kept 24 hours. response is NULL
-- while the first request is still running.
CREATE TABLE idempotency_keys (
    session_id   uuid NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    key          text NOT NULL,
    fingerprint  text NOT NULL,
    response     jsonb,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (session_id, key)
);

CREATE INDEX idempotency_keys_created_at ON idempotency_keys (created_at);
