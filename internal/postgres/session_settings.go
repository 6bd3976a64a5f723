package postgres

import (
	"context"
	"errors"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/wagate-dev/wagate/internal/gateway"
)

// SessionSettings stores session settings (migration 0090):
// gateway.SessionSettingsStore.
type SessionSettings struct{ pool *pgxpool.Pool }

// NewSessionSettings returns the settings store on pool.
func NewSessionSettings(pool *pgxpool.Pool) *SessionSettings { return &SessionSettings{pool: pool} }

var _ gateway.SessionSettingsStore = (*SessionSettings)(nil)

// GetSettings implements gateway.SessionSettingsStore.
func (s *SessionSettings) GetSettings(ctx context.Context, sid uuid.UUID) (gateway.SessionSettings, error) {
	var out gateway.SessionSettings
	err := s.pool.QueryRow(ctx, `SELECT reject_calls, reject_calls_message, COALESCE(proxy_url, '') FROM session_settings WHERE session_id = $1`, sid).
		Scan(&out.RejectCalls, &out.RejectCallsMessage, &out.Proxy)
	if errors.Is(err, pgx.ErrNoRows) {
		return gateway.SessionSettings{}, nil
	}
	return out, interpretError(err, "", "")
}

// UpdateSettings implements gateway.SessionSettingsStore.
func (s *SessionSettings) UpdateSettings(ctx context.Context, sid uuid.UUID, p gateway.SessionSettingsPatch) (gateway.SessionSettings, error) {
	var out gateway.SessionSettings
	clearMsg := p.RejectCallsMessage != nil && *p.RejectCallsMessage == ""
	err := s.pool.QueryRow(ctx, `
		INSERT INTO session_settings AS st (session_id, reject_calls, reject_calls_message, proxy_url)
		SELECT id, COALESCE($2, false), NULLIF($3, ''), NULLIF($5, '') FROM sessions WHERE id = $1
		ON CONFLICT (session_id) DO UPDATE SET
			reject_calls = COALESCE($2, st.reject_calls),
			reject_calls_message = CASE WHEN $4 THEN NULL ELSE COALESCE($3, st.reject_calls_message) END,
			proxy_url = CASE WHEN $5::text IS NULL THEN st.proxy_url ELSE NULLIF($5, '') END,
			updated_at = now()
		RETURNING reject_calls, reject_calls_message, COALESCE(proxy_url, '')`, sid, p.RejectCalls, p.RejectCallsMessage, clearMsg, p.Proxy).
		Scan(&out.RejectCalls, &out.RejectCallsMessage, &out.Proxy)
	return out, interpretError(err, gateway.MsgSessionNotFound, "")
}
