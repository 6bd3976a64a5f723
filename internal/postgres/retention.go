package postgres

import (
	"context"
	"time"

	"github.com/wagate-dev/wagate/internal/gateway"
)

// deleteBatch bounds one retention DELETE so that it never holds locks on
// a huge number of rows.
const deleteBatch = 5000

// DeleteExpired implements gateway.MessageStore: messages older than
// before (none when before is zero), the poll votes of polls already
// deleted, and idempotency keys older than gateway.IdempotencyTTL.
func (s *Messages) DeleteExpired(ctx context.Context, before time.Time) (int64, error) {
	if _, err := s.pool.Exec(ctx, `DELETE FROM idempotency_keys WHERE created_at < $1`,
		time.Now().Add(-gateway.IdempotencyTTL)); err != nil {
		return 0, interpretError(err, "", "")
	}
	if before.IsZero() {
		return 0, nil
	}
	// Votes last changed before the cutoff on polls no longer stored (a
	// previous run deleted them): nothing can show them any more.
	if _, err := s.pool.Exec(ctx, `DELETE FROM poll_votes v WHERE v.ts < $1
		AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.session_id = v.session_id AND m.id = v.poll_id)`, before); err != nil {
		return 0, interpretError(err, "", "")
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
