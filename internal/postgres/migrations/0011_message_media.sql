-- 0011: what downloading a media message's file needs (GET
-- /sessions/{id}/chats/{chatId}/messages/{messageId}/media), for received
-- and sent media alike. All nullable: NULL for messages without a file and
-- for media messages stored before this migration. Adding nullable columns
-- without defaults rewrites nothing.
ALTER TABLE messages
    ADD COLUMN mime_type          text,   -- also shown as Message.mimeType
    ADD COLUMN media_type         text,   -- image, video, audio, document, sticker
    ADD COLUMN media_direct_path  text,
    ADD COLUMN media_key          bytea,
    ADD COLUMN media_file_sha256  bytea,
    ADD COLUMN media_enc_sha256   bytea,
    ADD COLUMN media_length       bigint,
    ADD COLUMN media_file_name    text;
