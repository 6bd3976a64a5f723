package postgres

import (
	"context"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/wagate-dev/wagate/internal/gateway"
)

type aliasKey struct {
	sid   uuid.UUID
	alias string
}

// mergeAliases folds rows stored under ref's other JIDs (a LID seen before
// its phone number was known) into the canonical chat.
func (s *Messages) mergeAliases(ctx context.Context, tx pgx.Tx, sid uuid.UUID, ref gateway.ChatRef) ([]aliasKey, error) {
	var todo []string
	s.mergedMu.Lock()
	for _, a := range ref.Alts {
		if a == ref.JID {
			continue
		}
		if _, ok := s.merged[aliasKey{sid, a}]; !ok {
			todo = append(todo, a)
		}
	}
	s.mergedMu.Unlock()
	if len(todo) == 0 {
		return nil, nil
	}
	var keys []aliasKey
	for _, alias := range todo {
		keys = append(keys, aliasKey{sid, alias})
		var exists bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM chats WHERE session_id = $1 AND jid = $2)
			OR EXISTS (SELECT 1 FROM messages WHERE session_id = $1 AND chat_jid = $2)
			OR EXISTS (SELECT 1 FROM message_receipts WHERE session_id = $1 AND (chat_jid = $2 OR recipient = $2))`, sid, alias).Scan(&exists); err != nil {
			return nil, err
		}
		if !exists {
			continue
		}
		// Messages: move, dropping copies the canonical chat already has.
		if _, err := tx.Exec(ctx, `DELETE FROM messages a WHERE a.session_id = $1 AND a.chat_jid = $2
			AND EXISTS (SELECT 1 FROM messages c WHERE c.session_id = $1 AND c.chat_jid = $3 AND c.id = a.id)`,
			sid, alias, ref.JID); err != nil {
			return nil, err
		}
		if _, err := tx.Exec(ctx, `UPDATE messages SET chat_jid = $3 WHERE session_id = $1 AND chat_jid = $2`,
			sid, alias, ref.JID); err != nil {
			return nil, err
		}
		// Receipts: move the alias chat's rows, and name a DM's recipient
		// by the canonical JID too (a receipt from the LID before the
		// number was known is the same person's), keeping each
		// recipient's best progress.
		if err := foldReceipts(ctx, tx, sid, alias, ref.JID); err != nil {
			return nil, err
		}
		// Chats: make sure the canonical row exists, combine, drop the alias.
		if _, err := tx.Exec(ctx, `INSERT INTO chats (session_id, jid, name, archived, marked_unread, deleted,
				unread_count, last_message_id, last_message_from_me, last_message_sender, last_message_at)
			SELECT session_id, $3, name, archived, marked_unread, deleted, unread_count, last_message_id,
				last_message_from_me, last_message_sender, last_message_at
			FROM chats WHERE session_id = $1 AND jid = $2
			ON CONFLICT (session_id, jid) DO UPDATE SET
				name = COALESCE(chats.name, EXCLUDED.name),
				unread_count = chats.unread_count + EXCLUDED.unread_count,
				marked_unread = chats.marked_unread OR EXCLUDED.marked_unread,
				last_message_id = CASE WHEN chats.last_message_at IS NULL OR EXCLUDED.last_message_at > chats.last_message_at
					THEN EXCLUDED.last_message_id ELSE chats.last_message_id END,
				last_message_from_me = CASE WHEN chats.last_message_at IS NULL OR EXCLUDED.last_message_at > chats.last_message_at
					THEN EXCLUDED.last_message_from_me ELSE chats.last_message_from_me END,
				last_message_sender = CASE WHEN chats.last_message_at IS NULL OR EXCLUDED.last_message_at > chats.last_message_at
					THEN EXCLUDED.last_message_sender ELSE chats.last_message_sender END,
				last_message_at = GREATEST(chats.last_message_at, EXCLUDED.last_message_at),
				updated_at = now()`, sid, alias, ref.JID); err != nil {
			return nil, err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM chats WHERE session_id = $1 AND jid = $2`, sid, alias); err != nil {
			return nil, err
		}
	}
	return keys, nil
}

// MergeChat folds a chat's alias rows into its canonical JID outside an
// inbound batch (e.g. when the LID map learns a phone number).
func (s *Messages) MergeChat(ctx context.Context, sid uuid.UUID, ref gateway.ChatRef) error {
	var keys []aliasKey
	err := InTx(ctx, s.pool, func(tx pgx.Tx) error {
		var err error
		keys, err = s.mergeAliases(ctx, tx, sid, ref)
		return err
	})
	if err != nil {
		return err
	}
	s.mergedMu.Lock()
	for _, k := range keys {
		s.merged[k] = struct{}{}
	}
	s.mergedMu.Unlock()
	return nil
}

// foldReceipts moves the receipts stored under alias (as chat or as
// recipient) to canonical; where both exist the furthest status wins, with
// its time.
func foldReceipts(ctx context.Context, tx pgx.Tx, sid uuid.UUID, alias, canonical string) error {
	if _, err := tx.Exec(ctx, `INSERT INTO message_receipts (session_id, chat_jid, message_id, recipient, status, at)
		SELECT session_id, CASE WHEN chat_jid = $2 THEN $3 ELSE chat_jid END, message_id,
			CASE WHEN recipient = $2 THEN $3 ELSE recipient END, max(status),
			(array_agg(at ORDER BY status DESC, at))[1]
		FROM message_receipts WHERE session_id = $1 AND (chat_jid = $2 OR recipient = $2)
		GROUP BY 1, 2, 3, 4
		ON CONFLICT (session_id, chat_jid, message_id, recipient) DO UPDATE
			SET status = EXCLUDED.status, at = EXCLUDED.at
			WHERE message_receipts.status < EXCLUDED.status`, sid, alias, canonical); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, `DELETE FROM message_receipts WHERE session_id = $1 AND (chat_jid = $2 OR recipient = $2)`, sid, alias)
	return err
}
