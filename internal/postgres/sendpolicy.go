package postgres

import (
	"context"
	"errors"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/wagate-dev/wagate/internal/gateway"
)

var _ gateway.SendRestrictionStore = (*Store)(nil)

// SendRestrictions implements gateway.SendRestrictionStore: the allowed
// numbers and expiry of the key that created the session. A revoked owner
// key still restricts the sessions it created.
func (s *Store) SendRestrictions(ctx context.Context, id uuid.UUID) (gateway.SendRestrictions, error) {
	var r gateway.SendRestrictions
	err := s.pool.QueryRow(ctx, `
		SELECT k.allowed_numbers, k.expires_at
		FROM sessions se LEFT JOIN api_keys k ON k.id = se.owner_key_id
		WHERE se.id = $1`, id).Scan(&r.AllowedNumbers, &r.ExpiresAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return r, gateway.E(gateway.CodeNotFound, gateway.MsgSessionNotFound)
	}
	if err != nil {
		return r, interpretError(err, "", "")
	}
	return r, nil
}
