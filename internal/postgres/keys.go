package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/wagate-dev/wagate/internal/gateway"
)

// LookupKey implements gateway.KeyStore: session keys first, then managed
// keys. The stored hash is compared again in constant time after the
// indexed lookup.
func (s *Store) LookupKey(ctx context.Context, hash gateway.KeyHash) (*gateway.Principal, error) {
	invalid := gateway.E(gateway.CodeUnauthorized, gateway.MsgInvalidAPIKey)

	var (
		sessionID  uuid.UUID
		stored     []byte
		ownerID    *string
		general    *int
		messages   *int
		sessions   *int
		allowed    []string
		expiresAt  *time.Time
		ownerAlive *bool
	)
	err := s.pool.QueryRow(ctx, `
		SELECT sk.session_id, sk.key_hash, se.owner_key_id,
		       k.rate_limit_general, k.rate_limit_messages, k.rate_limit_sessions,
		       k.allowed_numbers, k.expires_at, (k.id IS NOT NULL AND k.revoked_at IS NULL)
		FROM session_keys sk
		JOIN sessions se ON se.id = sk.session_id
		LEFT JOIN api_keys k ON k.id = se.owner_key_id
		WHERE sk.key_hash = $1`, hash[:]).Scan(
		&sessionID, &stored, &ownerID, &general, &messages, &sessions, &allowed, &expiresAt, &ownerAlive)
	switch {
	case err == nil:
		if !hash.Equal(gateway.KeyHash(stored)) {
			return nil, invalid
		}
		p := &gateway.Principal{
			Kind:       gateway.KindSession,
			KeyID:      "session:" + sessionID.String(),
			SessionID:  sessionID,
			OwnerKeyID: ownerID,
		}
		if ownerID != nil {
			// A session inherits its creator's limits; a trial key's expiry
			// and recipient list bind its sessions too.
			if expiresAt != nil && !expiresAt.After(time.Now()) {
				return nil, invalid
			}
			p.Limits = gateway.Limits{General: general, Messages: messages, Sessions: sessions}
			p.AllowedNumbers = allowed
			p.ExpiresAt = expiresAt
		}
		return p, nil
	case !errors.Is(err, pgx.ErrNoRows):
		return nil, interpretError(err, "", "")
	}

	k, stored, err := s.getAPIKey(ctx, `key_hash = $1 AND revoked_at IS NULL`, hash[:])
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, invalid
	}
	if err != nil {
		return nil, interpretError(err, "", "")
	}
	if !hash.Equal(gateway.KeyHash(stored)) || (k.ExpiresAt != nil && !k.ExpiresAt.After(time.Now())) {
		return nil, invalid
	}
	return &gateway.Principal{
		Kind:           gateway.KindManaged,
		KeyID:          k.ID,
		IsAdmin:        k.IsAdmin,
		Limits:         k.Limits,
		MaxSessions:    k.MaxSessions,
		AllowedNumbers: k.AllowedNumbers,
		ExpiresAt:      k.ExpiresAt,
	}, nil
}

const apiKeyColumns = `id, key_hash, name, type, is_admin, rate_limit_general, rate_limit_messages,
	rate_limit_sessions, max_sessions, expires_at, allowed_numbers, metadata, created_at`

func scanAPIKey(row pgx.Row) (gateway.APIKey, []byte, error) {
	var k gateway.APIKey
	var hash, meta []byte
	err := row.Scan(&k.ID, &hash, &k.Name, &k.Type, &k.IsAdmin, &k.Limits.General, &k.Limits.Messages,
		&k.Limits.Sessions, &k.MaxSessions, &k.ExpiresAt, &k.AllowedNumbers, &meta, &k.CreatedAt)
	if err != nil {
		return k, nil, err
	}
	if len(meta) > 0 {
		if err := json.Unmarshal(meta, &k.Metadata); err != nil {
			return k, nil, err
		}
	}
	return k, hash, nil
}

func (s *Store) getAPIKey(ctx context.Context, where string, args ...any) (gateway.APIKey, []byte, error) {
	return scanAPIKey(s.pool.QueryRow(ctx, `SELECT `+apiKeyColumns+` FROM api_keys WHERE `+where, args...))
}

// CreateAPIKey implements gateway.KeyStore.
func (s *Store) CreateAPIKey(ctx context.Context, k gateway.APIKey, hash gateway.KeyHash) (gateway.APIKey, error) {
	if k.ID == "" {
		id, err := gateway.NewAPIKeyID()
		if err != nil {
			return k, err
		}
		k.ID = id
	}
	if k.Metadata == nil {
		k.Metadata = map[string]any{}
	}
	if k.AllowedNumbers == nil {
		k.AllowedNumbers = []string{}
	}
	meta, err := json.Marshal(k.Metadata)
	if err != nil {
		return k, gateway.Wrap(gateway.CodeInvalid, "metadata is not valid JSON", err)
	}
	out, _, err := scanAPIKey(s.pool.QueryRow(ctx, `
		INSERT INTO api_keys (id, key_hash, name, type, is_admin, rate_limit_general, rate_limit_messages,
			rate_limit_sessions, max_sessions, expires_at, allowed_numbers, metadata)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
		RETURNING `+apiKeyColumns,
		k.ID, hash[:], k.Name, k.Type, k.IsAdmin, k.Limits.General, k.Limits.Messages, k.Limits.Sessions,
		k.MaxSessions, k.ExpiresAt, k.AllowedNumbers, meta))
	return out, interpretError(err, "", "API key already exists")
}

// ListAPIKeys implements gateway.KeyStore.
func (s *Store) ListAPIKeys(ctx context.Context) ([]gateway.APIKey, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+apiKeyColumns+` FROM api_keys WHERE revoked_at IS NULL ORDER BY created_at, id`)
	if err != nil {
		return nil, interpretError(err, "", "")
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (gateway.APIKey, error) {
		k, _, err := scanAPIKey(r)
		return k, err
	})
	if out == nil {
		out = []gateway.APIKey{}
	}
	return out, interpretError(err, "", "")
}

// RevokeAPIKey implements gateway.KeyStore. The row stays (sessions keep
// their owner) but the key stops authenticating.
func (s *Store) RevokeAPIKey(ctx context.Context, id string) error {
	tag, err := s.pool.Exec(ctx, `UPDATE api_keys SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL`, id)
	if err != nil {
		return interpretError(err, "", "")
	}
	if tag.RowsAffected() == 0 {
		return gateway.E(gateway.CodeNotFound, gateway.MsgAPIKeyNotFound)
	}
	return nil
}

// EnsureAdminKey returns the hash of the stored master admin key, generating
// and storing one when none exists yet. raw is the new key when this call
// created it (print it once) and "" otherwise. Safe when several nodes start
// together: exactly one of them creates the key.
func (s *Store) EnsureAdminKey(ctx context.Context) (raw string, hash gateway.KeyHash, err error) {
	candidate, err := gateway.NewKey(gateway.AdminKeyPrefix)
	if err != nil {
		return "", hash, err
	}
	h := gateway.HashKey(candidate)
	var inserted bool
	var stored []byte
	err = s.pool.QueryRow(ctx, `
		WITH ins AS (
			INSERT INTO admin_key (id, key_hash) VALUES (1, $1)
			ON CONFLICT (id) DO NOTHING
			RETURNING key_hash
		)
		SELECT true, key_hash FROM ins
		UNION ALL
		SELECT false, key_hash FROM admin_key WHERE id = 1 AND NOT EXISTS (SELECT 1 FROM ins)`, h[:]).Scan(&inserted, &stored)
	if err != nil {
		return "", hash, interpretError(err, "", "")
	}
	copy(hash[:], stored)
	if inserted {
		return candidate, hash, nil
	}
	return "", hash, nil
}
