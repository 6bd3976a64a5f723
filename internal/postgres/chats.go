package postgres

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/wagate-dev/wagate/internal/gateway"
)

const chatColumns = `jid, name, archived, marked_unread, deleted, unread_count, last_message_id,
	last_message_from_me, last_message_sender, last_message_at`

func scanChat(row pgx.Row) (*gateway.Chat, error) {
	var c gateway.Chat
	var lastID, lastSender *string
	var lastFromMe *bool
	if err := row.Scan(&c.JID, &c.Name, &c.Archived, &c.MarkedUnread, &c.Deleted, &c.UnreadCount,
		&lastID, &lastFromMe, &lastSender, &c.LastMessageAt); err != nil {
		return nil, err
	}
	if c.LastMessageAt != nil {
		t := c.LastMessageAt.UTC()
		c.LastMessageAt = &t
	}
	if lastID != nil {
		k := &gateway.MessageKey{ChatJID: c.JID, ID: *lastID}
		if lastFromMe != nil {
			k.FromMe = *lastFromMe
		}
		if lastSender != nil {
			k.Sender = *lastSender
		}
		c.LastMessage = k
	}
	return &c, nil
}

// GetChat implements gateway.MessageStore. When the chat still has rows
// under several of its JIDs (not merged yet), they are combined.
func (s *Messages) GetChat(ctx context.Context, sid uuid.UUID, chat gateway.ChatRef) (*gateway.Chat, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+chatColumns+` FROM chats WHERE session_id = $1 AND jid = ANY($2)`, sid, chat.All())
	if err != nil {
		return nil, interpretError(err, "", "")
	}
	defer rows.Close()
	out := &gateway.Chat{JID: chat.JID}
	found := false
	for rows.Next() {
		c, err := scanChat(rows)
		if err != nil {
			return nil, interpretError(err, "", "")
		}
		if !found || c.JID == chat.JID {
			name := out.Name
			*out = *c
			if out.Name == nil {
				out.Name = name
			}
		}
		found = true
		if c.LastMessageAt != nil && (out.LastMessageAt == nil || c.LastMessageAt.After(*out.LastMessageAt)) {
			out.LastMessageAt, out.LastMessage = c.LastMessageAt, c.LastMessage
		}
	}
	if err := rows.Err(); err != nil {
		return nil, interpretError(err, "", "")
	}
	out.JID = chat.JID
	if out.LastMessage != nil {
		out.LastMessage.ChatJID = chat.JID
	}
	return out, nil
}

// ListChats implements gateway.MessageStore: chats that are not deleted,
// most recent message first (chats without messages last).
func (s *Messages) ListChats(ctx context.Context, sid uuid.UUID, f gateway.ChatFilter, p gateway.Page) ([]gateway.Chat, string, error) {
	cur, err := decodeCursor(p.Cursor)
	if err != nil {
		return nil, "", err
	}
	args := []any{sid, p.Limit + 1}
	sql := `SELECT ` + chatColumns + ` FROM chats WHERE session_id = $1 AND NOT deleted`
	if f.Archived != nil {
		args = append(args, *f.Archived)
		sql += ` AND archived = $3`
	}
	if f.Unread != nil {
		args = append(args, *f.Unread)
		sql += ` AND (marked_unread OR unread_count > 0) = $` + strconv.Itoa(len(args))
	}
	if cur != nil && cur.Null {
		args = append(args, cur.ID)
		sql += ` AND last_message_at IS NULL AND jid < $` + strconv.Itoa(len(args))
	} else if cur != nil {
		args = append(args, cur.T, cur.ID)
		sql += ` AND (last_message_at IS NULL OR (last_message_at, jid) < ($` + strconv.Itoa(len(args)-1) + `, $` + strconv.Itoa(len(args)) + `))`
	}
	sql += ` ORDER BY last_message_at DESC NULLS LAST, jid DESC LIMIT $2`
	rows, err := s.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, "", interpretError(err, "", "")
	}
	defer rows.Close()
	out := []gateway.Chat{}
	for rows.Next() {
		c, err := scanChat(rows)
		if err != nil {
			return nil, "", interpretError(err, "", "")
		}
		out = append(out, *c)
	}
	if err := rows.Err(); err != nil {
		return nil, "", interpretError(err, "", "")
	}
	next := ""
	if len(out) > p.Limit {
		out = out[:p.Limit]
		last := out[len(out)-1]
		t := time.Time{} // zero: no messages (NULL), sorted last
		if last.LastMessageAt != nil {
			t = *last.LastMessageAt
		}
		next = encodeCursor(t, last.JID)
	}
	return out, next, nil
}

// setChatFlag sets a boolean column of a chat (creating the chat) and
// reports whether it changed.
func setChatFlag(ctx context.Context, tx pgx.Tx, sid uuid.UUID, jid, column string, v bool) (bool, error) {
	var old *bool
	err := tx.QueryRow(ctx, `SELECT `+column+` FROM chats WHERE session_id = $1 AND jid = $2 FOR UPDATE`, sid, jid).Scan(&old)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return false, err
	}
	if old != nil && *old == v {
		return false, nil
	}
	_, err = tx.Exec(ctx, `INSERT INTO chats (session_id, jid, `+column+`) VALUES ($1, $2, $3)
		ON CONFLICT (session_id, jid) DO UPDATE SET `+column+` = EXCLUDED.`+column+`, updated_at = now()`, sid, jid, v)
	if err != nil {
		return false, err
	}
	// A new chat row with the default value is not a change.
	return old != nil || v, nil
}
