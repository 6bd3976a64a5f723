package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/wagate-dev/wagate/internal/gateway"
)

// RingingCalls stores the calls that still ring (migration 0093):
// gateway.RingingCalls.
type RingingCalls struct{ pool *pgxpool.Pool }

// NewRingingCalls returns the ringing-call store on pool.
func NewRingingCalls(pool *pgxpool.Pool) *RingingCalls { return &RingingCalls{pool: pool} }

var _ gateway.RingingCalls = (*RingingCalls)(nil)

// PutRingingCall implements gateway.RingingCalls; it also sweeps the
// session's calls offered before staleBefore.
func (s *RingingCalls) PutRingingCall(ctx context.Context, sid uuid.UUID, callID, caller string, offeredAt, staleBefore time.Time) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM ringing_calls WHERE session_id = $1 AND offered_at < $2`, sid, staleBefore); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO ringing_calls (session_id, call_id, caller, offered_at) VALUES ($1, $2, $3, $4)
			ON CONFLICT (session_id, call_id) DO UPDATE SET caller = EXCLUDED.caller, offered_at = EXCLUDED.offered_at`,
			sid, callID, caller, offeredAt)
		return err
	})
}

// TakeRingingCall implements gateway.RingingCalls.
func (s *RingingCalls) TakeRingingCall(ctx context.Context, sid uuid.UUID, callID string, staleBefore time.Time) (string, time.Time, bool, error) {
	var caller string
	var at time.Time
	err := s.pool.QueryRow(ctx, `DELETE FROM ringing_calls WHERE session_id = $1 AND call_id = $2 RETURNING caller, offered_at`, sid, callID).Scan(&caller, &at)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", time.Time{}, false, nil
	}
	if err != nil {
		return "", time.Time{}, false, err
	}
	if at.Before(staleBefore) {
		return "", time.Time{}, false, nil // rang out long ago
	}
	return caller, at, true, nil
}

// DropRingingCall implements gateway.RingingCalls.
func (s *RingingCalls) DropRingingCall(ctx context.Context, sid uuid.UUID, callID string) error {
	_, err := s.pool.Exec(ctx, `DELETE FROM ringing_calls WHERE session_id = $1 AND call_id = $2`, sid, callID)
	return err
}
