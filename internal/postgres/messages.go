package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"sort"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/wagate-dev/wagate/internal/gateway"
)

// Messages is the message store: chats, messages, their fate, and
// Idempotency-Key results. Every write records its webhook events through
// RecordEvent in the same transaction (the event types and payloads are in
// internal/gateway/events.go).
//
// Its files, one per concept: messages.go (reading and inserting
// messages), chats.go, cursor.go (page cursors), groupcommit.go
// (StoreInbound: batches of concurrent callers in one transaction),
// aliases.go (folding LID rows into the phone-number chat), changes.go
// (edits, revokes, reactions, chat flags, receipts), retention.go and
// idempotency.go.
type Messages struct {
	pool *pgxpool.Pool

	// merged remembers (session, alias JID) pairs already folded into their
	// canonical chat, so the hot inbound path skips the check.
	mergedMu sync.Mutex
	merged   map[aliasKey]struct{}

	// Group commit (see StoreInbound).
	groupMu    sync.Mutex
	queue      []*pendingBatch
	committers int
}

var (
	_ gateway.MessageStore     = (*Messages)(nil)
	_ gateway.IdempotencyStore = (*Messages)(nil)
)

// NewMessages returns the message store on pool.
func NewMessages(pool *pgxpool.Pool) *Messages {
	return &Messages{pool: pool, merged: map[aliasKey]struct{}{}}
}

const messageColumns = `chat_jid, id, sender, from_me, ts, type, text, quoted_id, edited_text, edited_at,
	revoked, starred, pinned_until, reactions, mime_type, media_type, media_direct_path, media_key,
	media_file_sha256, media_enc_sha256, media_length, media_file_name, sender_lid, to_lid, content`

type reactionJSON struct {
	Emoji string    `json:"emoji"`
	TS    time.Time `json:"ts"`
}

func scanMessage(row pgx.Row, canonical string) (*gateway.Message, error) {
	var m gateway.Message
	var typ string
	var editedText *string
	var editedAt *time.Time
	var reactions []byte
	var mediaType, directPath, fileName *string
	var mediaKey, fileSHA, encSHA []byte
	var length *int64
	var content []byte
	if err := row.Scan(&m.ChatJID, &m.ID, &m.Sender, &m.FromMe, &m.Timestamp, &typ, &m.OriginalText, &m.QuotedID,
		&editedText, &editedAt, &m.Revoked, &m.Starred, &m.PinnedUntil, &reactions, &m.MimeType, &mediaType,
		&directPath, &mediaKey, &fileSHA, &encSHA, &length, &fileName, &m.SenderLID, &m.ToLID, &content); err != nil {
		return nil, err
	}
	if len(content) > 0 {
		if err := json.Unmarshal(content, &m.MessageContent); err != nil {
			return nil, err
		}
	}
	if directPath != nil && mediaType != nil {
		m.Media = &gateway.MediaRef{Type: gateway.MessageType(*mediaType), DirectPath: *directPath,
			MediaKey: mediaKey, FileSHA256: fileSHA, FileEncSHA256: encSHA}
		if length != nil && *length > 0 {
			m.Media.FileLength = uint64(*length)
		}
		if m.MimeType != nil {
			m.Media.MimeType = *m.MimeType
		}
		if fileName != nil {
			m.Media.FileName = *fileName
		}
	}
	if canonical != "" {
		m.ChatJID = canonical
	}
	m.Type = gateway.MessageType(typ)
	m.Timestamp = m.Timestamp.UTC()
	m.Text = m.OriginalText
	if editedAt != nil {
		m.Edited = true
		m.EditedAt = editedAt.UTC()
		if editedText != nil {
			m.Text = editedText
		}
	}
	if m.PinnedUntil != nil {
		if m.PinnedUntil.Before(time.Now()) {
			m.PinnedUntil = nil
		} else {
			u := m.PinnedUntil.UTC()
			m.PinnedUntil = &u
		}
	}
	m.Reactions = []gateway.Reaction{}
	if len(reactions) > 2 {
		var rs map[string]reactionJSON
		if err := json.Unmarshal(reactions, &rs); err != nil {
			return nil, err
		}
		for sender, r := range rs {
			m.Reactions = append(m.Reactions, gateway.Reaction{Sender: sender, Emoji: r.Emoji, Timestamp: r.TS.UTC()})
		}
		sort.Slice(m.Reactions, func(i, j int) bool {
			if !m.Reactions[i].Timestamp.Equal(m.Reactions[j].Timestamp) {
				return m.Reactions[i].Timestamp.Before(m.Reactions[j].Timestamp)
			}
			return m.Reactions[i].Sender < m.Reactions[j].Sender
		})
	}
	return &m, nil
}

func notFoundMessage() error { return gateway.E(gateway.CodeNotFound, gateway.MsgMessageNotFound) }

// GetMessage implements gateway.MessageStore.
func (s *Messages) GetMessage(ctx context.Context, sid uuid.UUID, chat gateway.ChatRef, id string) (*gateway.Message, error) {
	m, err := getMessage(ctx, s.pool, sid, chat, id, false)
	if err != nil {
		return nil, err
	}
	if err := loadDelivery(ctx, s.pool, sid, chat, m); err != nil { // receipts.go
		return nil, err
	}
	return m, loadTally(ctx, s.pool, sid, m) // polls.go
}

func getMessage(ctx context.Context, q Querier, sid uuid.UUID, chat gateway.ChatRef, id string, lock bool) (*gateway.Message, error) {
	sql := `SELECT ` + messageColumns + ` FROM messages WHERE session_id = $1 AND chat_jid = ANY($2) AND id = $3 LIMIT 1`
	if lock {
		sql += ` FOR UPDATE`
	}
	m, err := scanMessage(q.QueryRow(ctx, sql, sid, chat.All(), id), chat.JID)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, notFoundMessage()
	}
	if err != nil {
		return nil, interpretError(err, "", "")
	}
	return m, nil
}

// FindMessage implements gateway.MessageStore.
func (s *Messages) FindMessage(ctx context.Context, sid uuid.UUID, id string) (*gateway.Message, error) {
	m, err := scanMessage(s.pool.QueryRow(ctx,
		`SELECT `+messageColumns+` FROM messages WHERE session_id = $1 AND id = $2 ORDER BY ts DESC LIMIT 1`, sid, id), "")
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, notFoundMessage()
	}
	if err != nil {
		return nil, interpretError(err, "", "")
	}
	return m, nil
}

// ListMessages implements gateway.MessageStore: newest first.
func (s *Messages) ListMessages(ctx context.Context, sid uuid.UUID, chat gateway.ChatRef, p gateway.Page) ([]gateway.Message, string, error) {
	cur, err := decodeCursor(p.Cursor)
	if err != nil {
		return nil, "", err
	}
	args := []any{sid, chat.All(), p.Limit + 1}
	sql := `SELECT ` + messageColumns + ` FROM messages WHERE session_id = $1 AND chat_jid = ANY($2)`
	if cur != nil {
		sql += ` AND (ts, id) < ($4, $5)`
		args = append(args, cur.T, cur.ID)
	}
	sql += ` ORDER BY ts DESC, id DESC LIMIT $3`
	rows, err := s.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, "", interpretError(err, "", "")
	}
	defer rows.Close()
	out := []gateway.Message{}
	for rows.Next() {
		m, err := scanMessage(rows, chat.JID)
		if err != nil {
			return nil, "", interpretError(err, "", "")
		}
		out = append(out, *m)
	}
	if err := rows.Err(); err != nil {
		return nil, "", interpretError(err, "", "")
	}
	next := ""
	if len(out) > p.Limit {
		out = out[:p.Limit]
		last := out[len(out)-1]
		next = encodeCursor(last.Timestamp, last.ID)
	}
	return out, next, nil
}

// SaveSent implements gateway.MessageStore.
func (s *Messages) SaveSent(ctx context.Context, sid uuid.UUID, m gateway.Message) error {
	return s.StoreInbound(ctx, sid, gateway.InboundBatch{Messages: []gateway.Message{m}})
}

// insertMessagesSQL inserts a batch of messages (skipping ones already
// stored) and moves each chat's last message forward, in one statement. It
// returns the (chat, id) pairs actually inserted.
const insertMessagesSQL = `
WITH d AS (
	SELECT * FROM unnest($2::text[], $3::text[], $4::text[], $5::boolean[], $6::timestamptz[],
		$7::text[], $8::text[], $9::text[], $11::text[], $12::text[], $13::text[], $14::bytea[],
		$15::bytea[], $16::bytea[], $17::bigint[], $18::text[], $19::text[], $20::text[], $21::text[])
		AS d(chat_jid, id, sender, from_me, ts, type, text, quoted_id, mime_type, media_type, media_direct_path,
			media_key, media_file_sha256, media_enc_sha256, media_length, media_file_name, sender_lid, to_lid, content)
), ins AS (
	INSERT INTO messages (session_id, chat_jid, id, sender, from_me, ts, type, text, quoted_id, history,
		mime_type, media_type, media_direct_path, media_key, media_file_sha256, media_enc_sha256, media_length,
		media_file_name, sender_lid, to_lid, content)
	SELECT $1, chat_jid, id, sender, from_me, ts, type, text, quoted_id, $10,
		mime_type, media_type, media_direct_path, media_key, media_file_sha256, media_enc_sha256, media_length,
		media_file_name, sender_lid, to_lid, content::jsonb FROM d
	ON CONFLICT (session_id, chat_jid, id) DO NOTHING
	RETURNING chat_jid, id, sender, from_me, ts
), agg AS (
	SELECT DISTINCT ON (chat_jid) chat_jid, id, sender, from_me, ts,
		count(*) FILTER (WHERE NOT from_me) OVER (PARTITION BY chat_jid) AS incoming,
		bool_or(from_me) OVER (PARTITION BY chat_jid) AS any_own
	FROM ins ORDER BY chat_jid, ts DESC, id DESC
), up AS (
	INSERT INTO chats AS c (session_id, jid, last_message_id, last_message_from_me, last_message_sender,
		last_message_at, unread_count)
	SELECT $1, chat_jid, id, from_me, sender, ts, CASE WHEN $10 THEN 0 ELSE incoming END FROM agg
	ON CONFLICT (session_id, jid) DO UPDATE SET
		deleted = c.deleted AND $10,
		last_message_id = CASE WHEN c.last_message_at IS NULL OR EXCLUDED.last_message_at >= c.last_message_at
			THEN EXCLUDED.last_message_id ELSE c.last_message_id END,
		last_message_from_me = CASE WHEN c.last_message_at IS NULL OR EXCLUDED.last_message_at >= c.last_message_at
			THEN EXCLUDED.last_message_from_me ELSE c.last_message_from_me END,
		last_message_sender = CASE WHEN c.last_message_at IS NULL OR EXCLUDED.last_message_at >= c.last_message_at
			THEN EXCLUDED.last_message_sender ELSE c.last_message_sender END,
		last_message_at = GREATEST(c.last_message_at, EXCLUDED.last_message_at),
		unread_count = CASE WHEN $10 THEN c.unread_count
			WHEN EXCLUDED.last_message_from_me THEN 0
			ELSE c.unread_count + EXCLUDED.unread_count END,
		updated_at = now()
)
SELECT chat_jid, id FROM ins`

func insertMessages(ctx context.Context, tx pgx.Tx, sid uuid.UUID, b gateway.InboundBatch) error {
	n := len(b.Messages)
	if n == 0 {
		return nil
	}
	chats := make([]string, n)
	ids := make([]string, n)
	senders := make([]string, n)
	fromMe := make([]bool, n)
	ts := make([]time.Time, n)
	types := make([]string, n)
	texts := make([]*string, n)
	quoted := make([]*string, n)
	mimes := make([]*string, n)
	mediaTypes := make([]*string, n)
	paths := make([]*string, n)
	keys := make([][]byte, n)
	fileSHAs := make([][]byte, n)
	encSHAs := make([][]byte, n)
	lengths := make([]*int64, n)
	names := make([]*string, n)
	lids := make([]*string, n)
	toLids := make([]*string, n)
	contents := make([]*string, n)
	for i, m := range b.Messages {
		lids[i], toLids[i] = m.SenderLID, m.ToLID
		if !m.MessageContent.IsZero() {
			c := m.MessageContent
			if c.Poll != nil { // the tally is read, never stored
				p := *c.Poll
				p.Options = make([]gateway.PollOption, len(c.Poll.Options))
				for j, o := range c.Poll.Options {
					p.Options[j] = gateway.PollOption{Name: o.Name}
				}
				c.Poll = &p
			}
			raw, err := json.Marshal(c)
			if err != nil {
				return err
			}
			js := string(raw)
			contents[i] = &js
		}
		chats[i], ids[i], senders[i], fromMe[i], ts[i] = m.ChatJID, m.ID, m.Sender, m.FromMe, m.Timestamp
		types[i], texts[i], quoted[i], mimes[i] = string(m.Type), m.Text, m.QuotedID, m.MimeType
		if types[i] == "" {
			types[i] = string(gateway.TypeOther)
		}
		if md := m.Media; md != nil && md.DirectPath != "" {
			mt, dp := string(md.Type), md.DirectPath
			paths[i], mediaTypes[i] = &dp, &mt
			keys[i], fileSHAs[i], encSHAs[i] = md.MediaKey, md.FileSHA256, md.FileEncSHA256
			if md.FileLength > 0 {
				l := int64(md.FileLength)
				lengths[i] = &l
			}
			if md.FileName != "" {
				name := md.FileName
				names[i] = &name
			}
		}
	}
	rows, err := tx.Query(ctx, insertMessagesSQL, sid, chats, ids, senders, fromMe, ts, types, texts, quoted, b.HistorySync,
		mimes, mediaTypes, paths, keys, fileSHAs, encSHAs, lengths, names, lids, toLids, contents)
	if err != nil {
		return err
	}
	inserted := map[[2]string]bool{}
	for rows.Next() {
		var chat, id string
		if err := rows.Scan(&chat, &id); err != nil {
			rows.Close()
			return err
		}
		inserted[[2]string{chat, id}] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	if b.HistorySync {
		return nil // history is not news: no webhook events
	}
	for _, m := range b.Messages {
		if !inserted[[2]string{m.ChatJID, m.ID}] {
			continue
		}
		delete(inserted, [2]string{m.ChatJID, m.ID}) // a duplicate within the batch records once
		typ := gateway.EventMessage
		if m.FromMe {
			typ = gateway.EventMessageSent
		}
		if m.Reactions == nil {
			m.Reactions = []gateway.Reaction{}
		}
		if _, err := RecordEvent(ctx, tx, sid, typ, m); err != nil {
			return err
		}
	}
	return nil
}

var _ gateway.MediaPathStore = (*Messages)(nil)

// SetMediaPath implements gateway.MediaPathStore: the direct path of a
// media message the phone uploaded again (expired media recovery).
func (m *Messages) SetMediaPath(ctx context.Context, sid uuid.UUID, chat gateway.ChatRef, id, directPath string) error {
	_, err := m.pool.Exec(ctx, `UPDATE messages SET media_direct_path = $4
		WHERE session_id = $1 AND chat_jid = ANY($2) AND id = $3 AND NOT revoked AND media_direct_path IS NOT NULL`,
		sid, chat.All(), id, directPath)
	return err
}
