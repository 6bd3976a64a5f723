package postgres

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/wagate-dev/wagate/internal/gateway"
)

// Messages is the message store: chats, messages, their fate, and
// Idempotency-Key results. Every write records its webhook events through
// RecordEvent in the same transaction.
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

type aliasKey struct {
	sid   uuid.UUID
	alias string
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
	media_file_sha256, media_enc_sha256, media_length, media_file_name`

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
	if err := row.Scan(&m.ChatJID, &m.ID, &m.Sender, &m.FromMe, &m.Timestamp, &typ, &m.OriginalText, &m.QuotedID,
		&editedText, &editedAt, &m.Revoked, &m.Starred, &m.PinnedUntil, &reactions, &m.MimeType, &mediaType,
		&directPath, &mediaKey, &fileSHA, &encSHA, &length, &fileName); err != nil {
		return nil, err
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
	return getMessage(ctx, s.pool, sid, chat, id, false)
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

// cursor is the opaque position of a page: a time and a tie-breaking id.
type cursor struct {
	T    time.Time `json:"t"`
	ID   string    `json:"i"`
	Null bool      `json:"n,omitempty"` // the time is NULL (chats without messages)
}

func encodeCursor(t time.Time, id string) string {
	b, _ := json.Marshal(cursor{T: t, ID: id, Null: t.IsZero()})
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(s string) (*cursor, error) {
	if s == "" {
		return nil, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	var c cursor
	if err == nil {
		err = json.Unmarshal(b, &c)
	}
	if err != nil || c.ID == "" {
		return nil, gateway.E(gateway.CodeInvalid, "Invalid cursor: pass the nextCursor of the previous page")
	}
	return &c, nil
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

// SaveSent implements gateway.MessageStore.
func (s *Messages) SaveSent(ctx context.Context, sid uuid.UUID, m gateway.Message) error {
	return s.StoreInbound(ctx, sid, gateway.InboundBatch{Messages: []gateway.Message{m}})
}

// ApplyChanges implements gateway.MessageStore.
func (s *Messages) ApplyChanges(ctx context.Context, sid uuid.UUID, changes []gateway.InboundChange) error {
	return s.StoreInbound(ctx, sid, gateway.InboundBatch{Changes: changes})
}

// StoreInbound implements gateway.MessageSink: messages, changes and chat
// names of one batch, and their events, in one transaction. Messages
// already stored are skipped (no second event); changes that change
// nothing record no event.
//
// Group commit: batches of concurrent callers (many sessions receiving at
// once) are committed together, up to maxGroup per transaction and
// maxCommitters transactions at a time, with no added delay: whoever finds
// no free committer waits while the running ones take its batch along.
// Each caller still returns only after its own batch is committed. When a
// combined transaction fails, its batches are retried one by one, so one
// bad batch never fails another.
func (s *Messages) StoreInbound(ctx context.Context, sid uuid.UUID, b gateway.InboundBatch) error {
	p := &pendingBatch{sid: sid, b: b, done: make(chan error, 1)}
	s.groupMu.Lock()
	s.queue = append(s.queue, p)
	lead := s.committers < maxCommitters
	if lead {
		s.committers++
	}
	s.groupMu.Unlock()
	if lead {
		s.commitQueued()
	}
	select {
	case err := <-p.done:
		return err
	case <-ctx.Done():
		// The batch may still commit; a redelivery is absorbed then.
		return ctx.Err()
	}
}

// Group-commit limits.
const (
	maxCommitters = 4
	maxGroup      = 64
	commitTimeout = 30 * time.Second
)

type pendingBatch struct {
	sid  uuid.UUID
	b    gateway.InboundBatch
	done chan error
}

// commitQueued commits queued batches until the queue is empty.
func (s *Messages) commitQueued() {
	for {
		s.groupMu.Lock()
		n := min(len(s.queue), maxGroup)
		if n == 0 {
			s.committers--
			s.groupMu.Unlock()
			return
		}
		group := append([]*pendingBatch(nil), s.queue[:n]...)
		s.queue = s.queue[n:]
		s.groupMu.Unlock()
		s.commitGroup(group)
	}
}

func (s *Messages) commitGroup(group []*pendingBatch) {
	ctx, cancel := context.WithTimeout(context.Background(), commitTimeout)
	defer cancel()
	var keys [][]aliasKey
	err := InTx(ctx, s.pool, func(tx pgx.Tx) error {
		keys = keys[:0]
		for _, p := range group {
			k, err := s.storeTx(ctx, tx, p.sid, p.b)
			if err != nil {
				return err
			}
			keys = append(keys, k)
		}
		return nil
	})
	if err == nil {
		for i, p := range group {
			s.afterCommit(p.sid, p.b, keys[i])
			p.done <- nil
		}
		return
	}
	if len(group) == 1 {
		group[0].done <- err
		return
	}
	for _, p := range group {
		s.commitGroup([]*pendingBatch{p})
	}
}

func (s *Messages) storeTx(ctx context.Context, tx pgx.Tx, sid uuid.UUID, b gateway.InboundBatch) ([]aliasKey, error) {
	var mergedNow []aliasKey
	seen := map[string]bool{}
	for _, ref := range refsOf(b) {
		if len(ref.Alts) == 0 || seen[ref.JID] {
			continue
		}
		seen[ref.JID] = true
		keys, err := s.mergeAliases(ctx, tx, sid, ref)
		if err != nil {
			return nil, err
		}
		mergedNow = append(mergedNow, keys...)
	}
	if err := insertMessages(ctx, tx, sid, b); err != nil {
		return nil, err
	}
	for i := range b.Changes {
		if err := applyChange(ctx, tx, sid, &b.Changes[i]); err != nil {
			return nil, err
		}
	}
	for jid, name := range b.ChatNames {
		if _, err := tx.Exec(ctx, `INSERT INTO chats (session_id, jid, name) VALUES ($1, $2, $3)
			ON CONFLICT (session_id, jid) DO UPDATE SET name = EXCLUDED.name, updated_at = now()
			WHERE chats.name IS DISTINCT FROM EXCLUDED.name`, sid, jid, name); err != nil {
			return nil, err
		}
	}
	return mergedNow, nil
}

func (s *Messages) afterCommit(sid uuid.UUID, b gateway.InboundBatch, mergedNow []aliasKey) {
	s.mergedMu.Lock()
	defer s.mergedMu.Unlock()
	for _, k := range mergedNow {
		s.merged[k] = struct{}{}
	}
	// A message stored under an alias (its phone number was not known yet)
	// must be merged again once it is.
	for _, m := range b.Messages {
		if strings.HasSuffix(m.ChatJID, "@lid") {
			delete(s.merged, aliasKey{sid, m.ChatJID})
		}
	}
}

func refsOf(b gateway.InboundBatch) []gateway.ChatRef {
	out := append([]gateway.ChatRef(nil), b.Chats...)
	for _, c := range b.Changes {
		out = append(out, c.Chat)
	}
	return out
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
			OR EXISTS (SELECT 1 FROM messages WHERE session_id = $1 AND chat_jid = $2)`, sid, alias).Scan(&exists); err != nil {
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

// insertMessagesSQL inserts a batch of messages (skipping ones already
// stored) and moves each chat's last message forward, in one statement. It
// returns the (chat, id) pairs actually inserted.
const insertMessagesSQL = `
WITH d AS (
	SELECT * FROM unnest($2::text[], $3::text[], $4::text[], $5::boolean[], $6::timestamptz[],
		$7::text[], $8::text[], $9::text[], $11::text[], $12::text[], $13::text[], $14::bytea[],
		$15::bytea[], $16::bytea[], $17::bigint[], $18::text[])
		AS d(chat_jid, id, sender, from_me, ts, type, text, quoted_id, mime_type, media_type, media_direct_path,
			media_key, media_file_sha256, media_enc_sha256, media_length, media_file_name)
), ins AS (
	INSERT INTO messages (session_id, chat_jid, id, sender, from_me, ts, type, text, quoted_id, history,
		mime_type, media_type, media_direct_path, media_key, media_file_sha256, media_enc_sha256, media_length,
		media_file_name)
	SELECT $1, chat_jid, id, sender, from_me, ts, type, text, quoted_id, $10,
		mime_type, media_type, media_direct_path, media_key, media_file_sha256, media_enc_sha256, media_length,
		media_file_name FROM d
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
	for i, m := range b.Messages {
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
		mimes, mediaTypes, paths, keys, fileSHAs, encSHAs, lengths, names)
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

// targetStub is the event payload of a change whose target message is not
// in the store (older than retention, or sent before the session was
// linked).
type targetStub struct {
	ID        string            `json:"id"`
	ChatJID   string            `json:"chatJid"`
	Sender    string            `json:"sender,omitempty"`
	Text      *string           `json:"text,omitempty"`
	Reaction  *gateway.Reaction `json:"reaction,omitempty"`
	Revoked   bool              `json:"revoked,omitempty"`
	Known     bool              `json:"known"`
	Timestamp time.Time         `json:"timestamp"`
}

type chatEvent struct {
	JID string `json:"jid"`
}

type receiptEvent struct {
	MessageIDs []string `json:"messageIds"`
	ChatJID    string   `json:"chatJid"`
	Type       string   `json:"type"`
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
	messageEvent := func(typ string, m *gateway.Message, stub targetStub) error {
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
		return messageEvent(gateway.EventMessageEdited, m, targetStub{Sender: c.Sender, Text: &text})

	case gateway.ChangeRevoke:
		m, err := updated(`UPDATE messages SET revoked = true, text = NULL, edited_text = NULL, reactions = '{}', pinned_until = NULL,
				media_direct_path = NULL, media_key = NULL, media_file_sha256 = NULL, media_enc_sha256 = NULL
			WHERE session_id = $1 AND chat_jid = ANY($2) AND id = $3 AND NOT revoked`, sid, jids, c.TargetID)
		if err != nil {
			return err
		}
		return messageEvent(gateway.EventMessageRevoked, m, targetStub{Sender: c.Sender, Revoked: true})

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
		return messageEvent(gateway.EventMessageReaction, m, targetStub{
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
		_, err = RecordEvent(ctx, tx, sid, typ, chatEvent{JID: c.Chat.JID})
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
		_, err = RecordEvent(ctx, tx, sid, gateway.EventChatMarkedUnread, chatEvent{JID: c.Chat.JID})
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
		_, err = RecordEvent(ctx, tx, sid, gateway.EventChatDeleted, chatEvent{JID: c.Chat.JID})
		return err

	case gateway.ChangeReceipt:
		level := receiptLevel(c.Receipt)
		if level == 0 || len(c.TargetIDs) == 0 {
			return nil
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
		if err := rows.Err(); err != nil || len(changed) == 0 {
			return err
		}
		sort.Strings(changed)
		_, err = RecordEvent(ctx, tx, sid, gateway.EventMessageReceipt,
			receiptEvent{MessageIDs: changed, ChatJID: c.Chat.JID, Type: string(c.Receipt)})
		return err
	}
	return gateway.Errorf(gateway.CodeInternal, "unknown change kind %q", c.Kind)
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

// deleteBatch bounds one retention DELETE so that it never holds locks on
// a huge number of rows.
const deleteBatch = 5000

// DeleteExpired implements gateway.MessageStore: messages older than
// before (none when before is zero) and idempotency keys older than
// gateway.IdempotencyTTL.
func (s *Messages) DeleteExpired(ctx context.Context, before time.Time) (int64, error) {
	if _, err := s.pool.Exec(ctx, `DELETE FROM idempotency_keys WHERE created_at < $1`,
		time.Now().Add(-gateway.IdempotencyTTL)); err != nil {
		return 0, interpretError(err, "", "")
	}
	if before.IsZero() {
		return 0, nil
	}
	var total int64
	for {
		tag, err := s.pool.Exec(ctx, `DELETE FROM messages WHERE ctid = ANY (ARRAY(
			SELECT ctid FROM messages WHERE ts < $1 LIMIT $2))`, before, deleteBatch)
		if err != nil {
			return total, interpretError(err, "", "")
		}
		total += tag.RowsAffected()
		if tag.RowsAffected() < deleteBatch || ctx.Err() != nil {
			return total, ctx.Err()
		}
	}
}

// Claim implements gateway.IdempotencyStore.
func (s *Messages) Claim(ctx context.Context, sid uuid.UUID, key, fingerprint string, stale time.Duration) (gateway.IdempotencyState, []byte, error) {
	var state gateway.IdempotencyState
	var response []byte
	err := InTx(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `INSERT INTO idempotency_keys (session_id, key, fingerprint) VALUES ($1, $2, $3)
			ON CONFLICT (session_id, key) DO NOTHING`, sid, key, fingerprint)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 1 {
			state = gateway.IdemClaimed
			return nil
		}
		var fp string
		var created time.Time
		if err := tx.QueryRow(ctx, `SELECT fingerprint, response, created_at FROM idempotency_keys
			WHERE session_id = $1 AND key = $2 FOR UPDATE`, sid, key).Scan(&fp, &response, &created); err != nil {
			return err
		}
		age := time.Since(created)
		if age > gateway.IdempotencyTTL || (response == nil && age > stale) {
			// Expired, or abandoned by a holder that died: take it over.
			_, err := tx.Exec(ctx, `UPDATE idempotency_keys SET fingerprint = $3, response = NULL, created_at = now()
				WHERE session_id = $1 AND key = $2`, sid, key, fingerprint)
			response = nil
			state = gateway.IdemClaimed
			return err
		}
		switch {
		case fp != fingerprint:
			state, response = gateway.IdemMismatch, nil
		case response == nil:
			state = gateway.IdemPending
		default:
			state = gateway.IdemDone
		}
		return nil
	})
	return state, response, err
}

// Complete implements gateway.IdempotencyStore.
func (s *Messages) Complete(ctx context.Context, sid uuid.UUID, key string, response []byte) error {
	_, err := s.pool.Exec(ctx, `UPDATE idempotency_keys SET response = $3 WHERE session_id = $1 AND key = $2`, sid, key, response)
	return interpretError(err, "", "")
}

// Release implements gateway.IdempotencyStore.
func (s *Messages) Release(ctx context.Context, sid uuid.UUID, key string) error {
	_, err := s.pool.Exec(ctx, `DELETE FROM idempotency_keys WHERE session_id = $1 AND key = $2 AND response IS NULL`, sid, key)
	return interpretError(err, "", "")
}
