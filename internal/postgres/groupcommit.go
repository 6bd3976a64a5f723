package postgres

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/wagate-dev/wagate/internal/gateway"
	"github.com/wagate-dev/wagate/internal/waid"
)

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
	for _, ev := range b.Events {
		if _, err := RecordEvent(ctx, tx, sid, ev.Type, ev.Data); err != nil {
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
		if waid.MayBeAlias(m.ChatJID) {
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
