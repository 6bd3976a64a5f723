package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/wagate-dev/wagate/internal/gateway"
)

// ApplyChanges implements gateway.MessageStore.
func (s *Messages) ApplyChanges(ctx context.Context, sid uuid.UUID, changes []gateway.InboundChange) error {
	return s.StoreInbound(ctx, sid, gateway.InboundBatch{Changes: changes})
}

func receiptLevel(t gateway.ReceiptType) int {
	switch t {
	case gateway.ReceiptDelivered:
		return 1
	case gateway.ReceiptRead:
		return 2
	case gateway.ReceiptPlayed:
		return 3
	}
	return 0
}

// applyChange stores one change and records its event when it changed
// something (so redelivered changes record nothing).
func applyChange(ctx context.Context, tx pgx.Tx, sid uuid.UUID, c *gateway.InboundChange) error {
	jids := c.Chat.All()
	ts := c.Timestamp
	if ts.IsZero() {
		ts = time.Now()
	}
	// updated runs a message UPDATE … RETURNING messageColumns; it reports
	// the updated message, or nil when nothing changed.
	updated := func(sql string, args ...any) (*gateway.Message, error) {
		m, err := scanMessage(tx.QueryRow(ctx, sql+` RETURNING `+messageColumns, args...), c.Chat.JID)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, nil
		}
		return m, err
	}
	exists := func() (bool, error) {
		var ok bool
		err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM messages WHERE session_id = $1 AND chat_jid = ANY($2) AND id = $3)`,
			sid, jids, c.TargetID).Scan(&ok)
		return ok, err
	}
	// messageEvent records typ with m, or with a stub when the target is
	// not stored at all.
	messageEvent := func(typ string, m *gateway.Message, stub gateway.MessageStubEvent) error {
		if m != nil {
			_, err := RecordEvent(ctx, tx, sid, typ, m)
			return err
		}
		ok, err := exists()
		if err != nil || ok {
			return err // stored but unchanged: a redelivery, no event
		}
		stub.ID, stub.ChatJID, stub.Timestamp = c.TargetID, c.Chat.JID, ts
		_, err = RecordEvent(ctx, tx, sid, typ, stub)
		return err
	}

	switch c.Kind {
	case gateway.ChangeEdit:
		m, err := updated(`UPDATE messages SET edited_text = $4, edited_at = $5
			WHERE session_id = $1 AND chat_jid = ANY($2) AND id = $3 AND NOT revoked
			AND (edited_at IS NULL OR edited_at < $5)`, sid, jids, c.TargetID, c.Text, ts)
		if err != nil {
			return err
		}
		text := c.Text
		return messageEvent(gateway.EventMessageEdited, m, gateway.MessageStubEvent{Sender: c.Sender, Text: &text})

	case gateway.ChangeRevoke:
		m, err := updated(`UPDATE messages SET revoked = true, text = NULL, edited_text = NULL, reactions = '{}', pinned_until = NULL, content = NULL,
				media_direct_path = NULL, media_key = NULL, media_file_sha256 = NULL, media_enc_sha256 = NULL
			WHERE session_id = $1 AND chat_jid = ANY($2) AND id = $3 AND NOT revoked`, sid, jids, c.TargetID)
		if err != nil {
			return err
		}
		return messageEvent(gateway.EventMessageRevoked, m, gateway.MessageStubEvent{Sender: c.Sender, Revoked: true})

	case gateway.ChangeReaction:
		m, err := updated(`UPDATE messages SET reactions = CASE WHEN $5 = '' THEN reactions - $4::text
				ELSE jsonb_set(reactions, ARRAY[$4::text], jsonb_build_object('emoji', $5::text, 'ts', $6::timestamptz)) END
			WHERE session_id = $1 AND chat_jid = ANY($2) AND id = $3 AND NOT revoked
			AND CASE WHEN $5 = '' THEN reactions ? $4::text ELSE (reactions -> $4::text ->> 'emoji') IS DISTINCT FROM $5 END
			AND COALESCE((reactions -> $4::text ->> 'ts')::timestamptz, '-infinity') <= $6`,
			sid, jids, c.TargetID, c.Sender, c.Emoji, ts)
		if err != nil {
			return err
		}
		return messageEvent(gateway.EventMessageReaction, m, gateway.MessageStubEvent{
			Reaction: &gateway.Reaction{Sender: c.Sender, Emoji: c.Emoji, Timestamp: ts},
		})

	case gateway.ChangePin:
		_, err := tx.Exec(ctx, `UPDATE messages SET pinned_until = $4
			WHERE session_id = $1 AND chat_jid = ANY($2) AND id = $3 AND pinned_until IS DISTINCT FROM $4`,
			sid, jids, c.TargetID, c.Until)
		return err

	case gateway.ChangeStar:
		_, err := tx.Exec(ctx, `UPDATE messages SET starred = $4
			WHERE session_id = $1 AND chat_jid = ANY($2) AND id = $3 AND starred <> $4`,
			sid, jids, c.TargetID, c.Flag)
		return err

	case gateway.ChangeArchive:
		changed, err := setChatFlag(ctx, tx, sid, c.Chat.JID, "archived", c.Flag)
		if err != nil || !changed {
			return err
		}
		typ := gateway.EventChatUnarchived
		if c.Flag {
			typ = gateway.EventChatArchived
		}
		_, err = RecordEvent(ctx, tx, sid, typ, gateway.ChatEvent{JID: c.Chat.JID})
		return err

	case gateway.ChangeMarkUnread:
		if !c.Flag {
			_, err := tx.Exec(ctx, `INSERT INTO chats (session_id, jid) VALUES ($1, $2)
				ON CONFLICT (session_id, jid) DO UPDATE SET marked_unread = false, unread_count = 0, updated_at = now()
				WHERE chats.marked_unread OR chats.unread_count > 0`, sid, c.Chat.JID)
			return err
		}
		changed, err := setChatFlag(ctx, tx, sid, c.Chat.JID, "marked_unread", true)
		if err != nil || !changed {
			return err
		}
		_, err = RecordEvent(ctx, tx, sid, gateway.EventChatMarkedUnread, gateway.ChatEvent{JID: c.Chat.JID})
		return err

	case gateway.ChangeDeleteChat:
		if _, err := tx.Exec(ctx, `DELETE FROM messages WHERE session_id = $1 AND chat_jid = ANY($2) AND ts <= $3`,
			sid, jids, ts); err != nil {
			return err
		}
		var wasDeleted *bool
		err := tx.QueryRow(ctx, `SELECT deleted FROM chats WHERE session_id = $1 AND jid = $2 FOR UPDATE`, sid, c.Chat.JID).Scan(&wasDeleted)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO chats (session_id, jid, deleted) VALUES ($1, $2, true)
			ON CONFLICT (session_id, jid) DO UPDATE SET deleted = true, archived = false, marked_unread = false,
				unread_count = 0, last_message_id = NULL, last_message_from_me = NULL, last_message_sender = NULL,
				last_message_at = NULL, updated_at = now()`, sid, c.Chat.JID); err != nil {
			return err
		}
		if wasDeleted != nil && *wasDeleted {
			return nil
		}
		_, err = RecordEvent(ctx, tx, sid, gateway.EventChatDeleted, gateway.ChatEvent{JID: c.Chat.JID})
		return err

	case gateway.ChangeReceipt:
		level := receiptLevel(c.Receipt)
		if level == 0 || len(c.TargetIDs) == 0 {
			return nil
		}
		progressed, err := recordReceipts(ctx, tx, sid, jids, *c, level) // receipts.go
		if err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `UPDATE messages SET status = $4
			WHERE session_id = $1 AND chat_jid = ANY($2) AND id = ANY($3) AND from_me AND status < $4
			RETURNING id`, sid, jids, c.TargetIDs, level)
		if err != nil {
			return err
		}
		var changed []string
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return err
			}
			changed = append(changed, id)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if changed = mergeIDs(changed, progressed); len(changed) == 0 {
			return nil
		}
		_, err = RecordEvent(ctx, tx, sid, gateway.EventMessageReceipt,
			gateway.ReceiptEvent{MessageIDs: changed, ChatJID: c.Chat.JID, Type: string(c.Receipt), Recipient: c.Sender})
		return err

	case gateway.ChangePollVote:
		return applyPollVote(ctx, tx, sid, c, ts) // polls.go
	}
	return gateway.Errorf(gateway.CodeInternal, "unknown change kind %q", c.Kind)
}
