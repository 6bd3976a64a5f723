-- 0091 (issues 13, 15): the sender's LID next to its phone JID, where
-- known (group members addressed by LID, LID-addressed DMs).
ALTER TABLE messages ADD COLUMN sender_lid text;
