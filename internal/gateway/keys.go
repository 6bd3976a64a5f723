package gateway

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Key prefixes. Admin keys (the master key and managed keys with admin rights)
// start with AdminKeyPrefix, session keys and other managed keys with
// SessionKeyPrefix.
const (
	AdminKeyPrefix   = "wamk_"
	SessionKeyPrefix = "wask_"
	// APIKeyIDPrefix starts the id of every managed API key ("key_" + 16 hex).
	APIKeyIDPrefix = "key_"
	// MasterKeyID is the key id of the master admin key in logs and rate-limit
	// buckets.
	MasterKeyID = "master"
)

// Exact warnings returned with keys that are shown only once.
const (
	MsgSessionKeyWarning = "IMPORTANT: Save this API key securely! It will NOT be shown again."
	MsgAPIKeyWarning     = "IMPORTANT: Save this API key securely! The raw key will NOT be shown again."
	MsgAPIKeyNotFound    = "API key not found"
	MsgMaxSessions       = "Maximum number of sessions reached for this API key"
)

// KeyHash is the SHA-256 of a raw key. Only hashes are stored.
type KeyHash [sha256.Size]byte

// HashKey returns the SHA-256 of a raw key.
func HashKey(raw string) KeyHash { return sha256.Sum256([]byte(raw)) }

// Equal compares two hashes in constant time.
func (h KeyHash) Equal(o KeyHash) bool { return subtle.ConstantTimeCompare(h[:], o[:]) == 1 }

// NewKey returns prefix followed by 48 lowercase hex characters (24 random
// bytes), the format of every wagate key.
func NewKey(prefix string) (string, error) {
	var b [24]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", Wrap(CodeInternal, MsgInternal, err)
	}
	return prefix + hex.EncodeToString(b[:]), nil
}

// NewAPIKeyID returns a managed key id: "key_" + 16 hex characters.
func NewAPIKeyID() (string, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", Wrap(CodeInternal, MsgInternal, err)
	}
	return APIKeyIDPrefix + hex.EncodeToString(b[:]), nil
}

// ValidKeyFormat reports whether raw looks like a wagate key (prefix and 48
// lowercase hex characters), so that obviously bad keys never reach storage.
func ValidKeyFormat(raw string) bool {
	if !strings.HasPrefix(raw, AdminKeyPrefix) && !strings.HasPrefix(raw, SessionKeyPrefix) {
		return false
	}
	body := raw[len(AdminKeyPrefix):]
	if len(body) != 48 {
		return false
	}
	for _, c := range body {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// KeyKind says what kind of key authenticated a request.
type KeyKind string

// Key kinds.
const (
	KindMaster  KeyKind = "master"  // the master admin key (WAGATE_ADMIN_KEY or generated at first start)
	KindManaged KeyKind = "managed" // a key minted by POST /admin/api-keys (or /trial)
	KindSession KeyKind = "session" // a session key, returned once by POST /sessions/create
)

// Limits are a managed key's own rate limits. Nil fields use the server's
// configured defaults; 0 turns that limit off.
type Limits struct {
	General  *int // requests per minute per key
	Messages *int // sends per minute per session
	Sessions *int // session creations per hour per key
}

// Principal is the authenticated caller of a request.
type Principal struct {
	Kind  KeyKind
	KeyID string // MasterKeyID, a managed key id ("key_..."), or "session:<uuid>"
	// IsAdmin is true for the master key and for managed keys created with
	// isAdmin: they may act on every session and on admin operations.
	IsAdmin bool
	// SessionID is the session of a session key.
	SessionID uuid.UUID
	// OwnerKeyID is, for a session key, the managed key that created the
	// session (nil when the master key did).
	OwnerKeyID *string
	// Limits are the managed key's own limits; for a session key, those of
	// the managed key that created its session.
	Limits Limits
	// MaxSessions caps the sessions a managed key may own (nil or 0: no cap).
	MaxSessions *int
	// AllowedNumbers, when not empty, are the only recipients a trial key (and
	// the sessions it created) may message.
	AllowedNumbers []string
	// ExpiresAt is when a trial key stops working.
	ExpiresAt *time.Time
}

// CanAccess reports whether p may act on session s: admins on every session,
// session keys on their own, managed keys on the sessions they created.
func (p *Principal) CanAccess(s *Session) bool {
	switch {
	case p.IsAdmin:
		return true
	case p.Kind == KindSession:
		return p.SessionID == s.ID
	case p.Kind == KindManaged:
		return s.OwnerKeyID != nil && *s.OwnerKeyID == p.KeyID
	}
	return false
}

type principalKey struct{}

// WithPrincipal returns ctx carrying p.
func WithPrincipal(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFrom returns the principal that the auth middleware put in ctx, or
// nil on open operations.
func PrincipalFrom(ctx context.Context) *Principal {
	p, _ := ctx.Value(principalKey{}).(*Principal)
	return p
}

// APIKey is a managed API key as listed by the admin API (never the raw key).
type APIKey struct {
	ID             string
	Name           string
	Type           string
	IsAdmin        bool
	Limits         Limits
	MaxSessions    *int
	ExpiresAt      *time.Time
	AllowedNumbers []string
	Metadata       map[string]any
	CreatedAt      time.Time
}

// KeyStore resolves presented keys and keeps managed API keys.
type KeyStore interface {
	// LookupKey resolves the hash of a presented session or managed key.
	// Returns CodeUnauthorized with MsgInvalidAPIKey when no live key (not
	// revoked, not expired) has that hash.
	LookupKey(ctx context.Context, hash KeyHash) (*Principal, error)
	// CreateAPIKey stores k (its ID and CreatedAt are filled in) with the
	// hash of its raw key.
	CreateAPIKey(ctx context.Context, k APIKey, hash KeyHash) (APIKey, error)
	// ListAPIKeys returns every managed key that is not revoked, oldest first.
	ListAPIKeys(ctx context.Context) ([]APIKey, error)
	// RevokeAPIKey revokes a managed key. Returns CodeNotFound with
	// MsgAPIKeyNotFound when it does not exist or is already revoked.
	RevokeAPIKey(ctx context.Context, id string) error
}

// NewSession is what SessionStore.CreateSession stores.
type NewSession struct {
	Name       string
	WebhookURL *string
	Metadata   map[string]any
	// OwnerKeyID is the managed key creating the session (nil: master key).
	OwnerKeyID *string
	// MaxSessions, when > 0, caps how many sessions OwnerKeyID may own.
	MaxSessions int
	// KeyHash is the hash of the session key returned once to the caller.
	KeyHash KeyHash
	// ProxyURL is the normalised proxy URL ("" for none), stored in the
	// session's settings in the same transaction as the session.
	ProxyURL string
}

// SessionStore keeps session records.
type SessionStore interface {
	// CreateSession stores a session in state starting with its key hash.
	// Returns CodeConflict with MsgSessionNameTaken for a duplicate name and
	// CodeForbidden with MsgMaxSessions when the owner's cap is reached.
	CreateSession(ctx context.Context, s NewSession) (Session, error)
	// GetSession returns CodeNotFound with MsgSessionNotFound when absent.
	GetSession(ctx context.Context, id uuid.UUID) (Session, error)
	// ListSessions returns all sessions (ownerKeyID nil) or those created by
	// one managed key, oldest first.
	ListSessions(ctx context.Context, ownerKeyID *string) ([]Session, error)
	// DeleteSession deletes the session and everything stored for it.
	// Returns CodeNotFound with MsgSessionNotFound when absent.
	DeleteSession(ctx context.Context, id uuid.UUID) error
}

// ReadinessChecker reports whether the process can serve traffic.
type ReadinessChecker interface {
	// Ready returns one entry per check ("ok" or a short reason) and a
	// CodeUnavailable error when any check fails.
	Ready(ctx context.Context) (map[string]string, error)
}
