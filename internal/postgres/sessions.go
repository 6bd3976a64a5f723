package postgres

import (
	"context"
	"encoding/json"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/wagate-dev/wagate/internal/gateway"
)

// Store implements internal/gateway's storage ports on one pool.
type Store struct {
	pool   *pgxpool.Pool
	status statusBatcher
}

// NewStore returns a Store on pool.
func NewStore(pool *pgxpool.Pool) *Store { return &Store{pool: pool} }

// Pool returns the store's pool (for wiring other adapters on the same pool).
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

var (
	_ gateway.SessionStore       = (*Store)(nil)
	_ gateway.SessionStatusStore = (*Store)(nil)
	_ gateway.KeyStore           = (*Store)(nil)
	_ gateway.ReadinessChecker   = (*Store)(nil)
)

const sessionColumns = `id, name, state, webhook_url, metadata, owner_key_id, jid, phone,
	push_name, connected_at, last_seen_at, last_error, created_at`

func scanSession(row pgx.Row) (gateway.Session, error) {
	var s gateway.Session
	var state string
	var meta []byte
	err := row.Scan(&s.ID, &s.Name, &state, &s.WebhookURL, &meta, &s.OwnerKeyID, &s.JID, &s.Phone,
		&s.PushName, &s.ConnectedAt, &s.LastSeenAt, &s.LastError, &s.CreatedAt)
	if err != nil {
		return s, err
	}
	s.State = gateway.SessionState(state)
	if len(meta) > 0 {
		if err := json.Unmarshal(meta, &s.Metadata); err != nil {
			return s, err
		}
	}
	return s, nil
}

// CreateSession implements gateway.SessionStore.
func (s *Store) CreateSession(ctx context.Context, n gateway.NewSession) (gateway.Session, error) {
	meta := n.Metadata
	if meta == nil {
		meta = map[string]any{}
	}
	metaJSON, err := json.Marshal(meta)
	if err != nil {
		return gateway.Session{}, gateway.Wrap(gateway.CodeInvalid, "metadata is not valid JSON", err)
	}
	var out gateway.Session
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if n.OwnerKeyID != nil && n.MaxSessions > 0 {
			// Lock the owner's key row so that concurrent creations count
			// each other.
			if _, err := tx.Exec(ctx, `SELECT 1 FROM api_keys WHERE id = $1 FOR UPDATE`, *n.OwnerKeyID); err != nil {
				return err
			}
			var count int
			if err := tx.QueryRow(ctx, `SELECT count(*) FROM sessions WHERE owner_key_id = $1`, *n.OwnerKeyID).Scan(&count); err != nil {
				return err
			}
			if count >= n.MaxSessions {
				return gateway.E(gateway.CodeForbidden, gateway.MsgMaxSessions)
			}
		}
		row := tx.QueryRow(ctx, `
			INSERT INTO sessions (id, name, state, webhook_url, metadata, owner_key_id)
			VALUES ($1, $2, $3, $4, $5, $6)
			RETURNING `+sessionColumns,
			uuid.New(), n.Name, string(gateway.StateStarting), n.WebhookURL, metaJSON, n.OwnerKeyID)
		var err error
		if out, err = scanSession(row); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO session_keys (session_id, key_hash) VALUES ($1, $2)`, out.ID, n.KeyHash[:])
		if err == nil && n.WebhookURL != nil && *n.WebhookURL != "" {
			err = createSessionWebhook(ctx, tx, out.ID, *n.WebhookURL)
		}
		if err == nil && n.ProxyURL != "" {
			// Stored with the session, so the very first connection (the QR
			// login) already goes through the proxy.
			_, err = tx.Exec(ctx, `INSERT INTO session_settings (session_id, proxy_url) VALUES ($1, $2)`, out.ID, n.ProxyURL)
		}
		return err
	})
	return out, interpretError(err, gateway.MsgSessionNotFound, gateway.MsgSessionNameTaken)
}

// GetSession implements gateway.SessionStore.
func (s *Store) GetSession(ctx context.Context, id uuid.UUID) (gateway.Session, error) {
	out, err := scanSession(s.pool.QueryRow(ctx, `SELECT `+sessionColumns+` FROM sessions WHERE id = $1`, id))
	return out, interpretError(err, gateway.MsgSessionNotFound, "")
}

// ListSessions implements gateway.SessionStore.
func (s *Store) ListSessions(ctx context.Context, ownerKeyID *string) ([]gateway.Session, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT `+sessionColumns+` FROM sessions
		WHERE $1::text IS NULL OR owner_key_id = $1
		ORDER BY created_at, id`, ownerKeyID)
	if err != nil {
		return nil, interpretError(err, "", "")
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (gateway.Session, error) { return scanSession(r) })
	if out == nil {
		out = []gateway.Session{}
	}
	return out, interpretError(err, "", "")
}

// DeleteSession implements gateway.SessionStore. Keys and events go with
// the session (ON DELETE CASCADE).
func (s *Store) DeleteSession(ctx context.Context, id uuid.UUID) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM sessions WHERE id = $1`, id)
	if err != nil {
		return interpretError(err, "", "")
	}
	if tag.RowsAffected() == 0 {
		return gateway.E(gateway.CodeNotFound, gateway.MsgSessionNotFound)
	}
	return nil
}

// TouchLastSeen implements gateway.SessionStatusStore.
func (s *Store) TouchLastSeen(ctx context.Context, id uuid.UUID, at time.Time) error {
	tag, err := s.pool.Exec(ctx, `UPDATE sessions SET last_seen_at = $2 WHERE id = $1`, id, at)
	if err != nil {
		return interpretError(err, "", "")
	}
	if tag.RowsAffected() == 0 {
		return gateway.E(gateway.CodeNotFound, gateway.MsgSessionNotFound)
	}
	return nil
}

// Ready implements gateway.ReadinessChecker: the database answers and every
// embedded migration is applied.
func (s *Store) Ready(ctx context.Context) (map[string]string, error) {
	checks := map[string]string{"database": "ok", "migrations": "ok"}
	if err := s.pool.Ping(ctx); err != nil {
		checks["database"] = "unreachable"
		checks["migrations"] = "unknown"
		return checks, &gateway.Error{Code: gateway.CodeUnavailable, Message: "Database unreachable", RetryAfter: gateway.DatabaseRetryAfter, Err: err}
	}
	pending, err := Pending(ctx, s.pool)
	if err != nil {
		checks["migrations"] = "unknown"
		return checks, gateway.Wrap(gateway.CodeUnavailable, "Migration state unknown", err)
	}
	if len(pending) > 0 {
		checks["migrations"] = "pending"
		return checks, gateway.E(gateway.CodeUnavailable, "Database migrations pending")
	}
	return checks, nil
}

// CountSessionsByState returns how many sessions are in each state (for the
// sessions gauge of /metrics).
func (s *Store) CountSessionsByState(ctx context.Context) (map[string]int, error) {
	rows, err := s.pool.Query(ctx, `SELECT state, count(*) FROM sessions GROUP BY state`)
	if err != nil {
		return nil, err
	}
	out := map[string]int{}
	for rows.Next() {
		var state string
		var n int
		if err := rows.Scan(&state, &n); err != nil {
			rows.Close()
			return nil, err
		}
		out[state] = n
	}
	return out, rows.Err()
}
