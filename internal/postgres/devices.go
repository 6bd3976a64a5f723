package postgres

import (
	"context"
	"errors"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/wagate-dev/wagate/internal/gateway"
)

var _ gateway.DeviceStore = (*DeviceStore)(nil)

// DeviceStore implements gateway.DeviceStore on the session_devices table
// (migration 0030).
type DeviceStore struct{ pool *pgxpool.Pool }

// NewDeviceStore returns a DeviceStore on pool.
func NewDeviceStore(pool *pgxpool.Pool) *DeviceStore { return &DeviceStore{pool: pool} }

const (
	linkDeviceSQL = `
		INSERT INTO session_devices (session_id, device_jid)
		VALUES ($1, $2)
		ON CONFLICT (session_id) DO UPDATE SET device_jid = excluded.device_jid, linked_at = now()`
	unlinkDeviceSQL       = `DELETE FROM session_devices WHERE session_id = $1`
	deviceJIDSQL          = `SELECT device_jid FROM session_devices WHERE session_id = $1`
	restorableSessionsSQL = `
		SELECT s.id, COALESCE(d.device_jid, '')
		FROM sessions s
		LEFT JOIN session_devices d ON d.session_id = s.id
		WHERE s.state NOT IN ('stopped', 'logged_out', 'failed')
		ORDER BY s.created_at`
)

// LinkDevice implements gateway.DeviceStore.
func (s *DeviceStore) LinkDevice(ctx context.Context, sessionID uuid.UUID, deviceJID string) error {
	_, err := s.pool.Exec(ctx, linkDeviceSQL, sessionID, deviceJID)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23503" { // foreign_key_violation: no such session
		return gateway.Wrap(gateway.CodeNotFound, gateway.MsgSessionNotFound, err)
	}
	return interpretError(err, "", "Device already linked to another session")
}

// UnlinkDevice implements gateway.DeviceStore.
func (s *DeviceStore) UnlinkDevice(ctx context.Context, sessionID uuid.UUID) error {
	_, err := s.pool.Exec(ctx, unlinkDeviceSQL, sessionID)
	return interpretError(err, "", "")
}

// DeviceJID implements gateway.DeviceStore.
func (s *DeviceStore) DeviceJID(ctx context.Context, sessionID uuid.UUID) (string, error) {
	var jid string
	err := s.pool.QueryRow(ctx, deviceJIDSQL, sessionID).Scan(&jid)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	return jid, interpretError(err, "", "")
}

// RestorableSessions implements gateway.DeviceStore: every session not
// stopped, logged out or failed, with its device when linked.
func (s *DeviceStore) RestorableSessions(ctx context.Context) ([]gateway.RestorableSession, error) {
	rows, err := s.pool.Query(ctx, restorableSessionsSQL)
	if err != nil {
		return nil, interpretError(err, "", "")
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (gateway.RestorableSession, error) {
		var rs gateway.RestorableSession
		err := r.Scan(&rs.ID, &rs.DeviceJID)
		return rs, err
	})
	return out, interpretError(err, "", "")
}
