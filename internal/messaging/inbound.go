package messaging

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/wagate-dev/wagate/internal/gateway"
)

var _ gateway.MessageSink = (*Service)(nil)

// cutoff returns the oldest timestamp a message may have to be stored:
// Retention applies to everything, HistorySyncDays to history sync.
func (s *Service) cutoff(history bool) time.Time {
	now := s.now()
	var c time.Time
	if s.opts.Retention > 0 {
		c = now.Add(-s.opts.Retention)
	}
	if history && s.opts.HistorySyncDays > 0 {
		h := now.AddDate(0, 0, -s.opts.HistorySyncDays)
		if h.After(c) {
			c = h
		}
	}
	return c
}

// StoreInbound implements gateway.MessageSink: it drops messages older than
// the cutoffs and stores the rest, with their webhook events, in one
// transaction. An error means nothing was stored and the caller must not
// acknowledge.
func (s *Service) StoreInbound(ctx context.Context, sid uuid.UUID, b gateway.InboundBatch) error {
	if c := s.cutoff(b.HistorySync); !c.IsZero() {
		kept := b.Messages[:0:0]
		for _, m := range b.Messages {
			if !m.Timestamp.Before(c) {
				kept = append(kept, m)
			}
		}
		b.Messages = kept
	}
	if len(b.Messages) == 0 && len(b.Changes) == 0 && len(b.ChatNames) == 0 {
		return nil
	}
	if err := s.store.StoreInbound(ctx, sid, b); err != nil {
		return err
	}
	if s.opts.Observer != nil && !b.HistorySync {
		for _, m := range b.Messages {
			if !m.FromMe {
				s.opts.Observer.MessageReceived()
			}
		}
	}
	return nil
}

// RunRetention removes expired messages and idempotency keys every
// interval until ctx ends. Without a Retention it still expires
// idempotency keys.
func (s *Service) RunRetention(ctx context.Context, interval time.Duration) {
	if interval <= 0 {
		interval = time.Hour
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		s.CleanupOnce(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// CleanupOnce runs one retention pass.
func (s *Service) CleanupOnce(ctx context.Context) {
	before := time.Time{}
	if s.opts.Retention > 0 {
		before = s.now().Add(-s.opts.Retention)
	}
	n, err := s.store.DeleteExpired(ctx, before)
	if err != nil {
		s.log.Error().Err(err).Msg("retention cleanup failed")
		return
	}
	if n > 0 {
		s.log.Info().Int64("deleted", n).Msg("retention cleanup removed expired messages")
	}
}
