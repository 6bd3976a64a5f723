package postgres

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/wagate-dev/wagate/internal/gateway"
)

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
