-- Issue 15: own messages in 1:1 chats carry the recipient's LID where it
-- was known when they were sent (toLid on send answers, message.sent
-- events and stored messages), besides the phone-number chat JID.
ALTER TABLE messages ADD COLUMN IF NOT EXISTS to_lid text;
