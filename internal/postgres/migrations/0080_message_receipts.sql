-- Delivery truth (issue 14): the receipts of own messages per recipient
-- (a DM has one recipient, a group one per member that reported), so a
-- group message's delivery and read state is known member by member.
-- status: 1 delivered, 2 read, 3 played (as messages.status); it only
-- moves forward. messages.status stays the message's best progress.
CREATE TABLE message_receipts (
    session_id  uuid NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    chat_jid    text NOT NULL,
    message_id  text NOT NULL,
    recipient   text NOT NULL,
    status      smallint NOT NULL,
    at          timestamptz NOT NULL,
    PRIMARY KEY (session_id, chat_jid, message_id, recipient)
);
