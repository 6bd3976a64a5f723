package gateway

import (
	"context"

	"github.com/google/uuid"
)

// SessionInput is the body of a session creation.
type SessionInput struct {
	Name       string
	WebhookURL *string
	Metadata   map[string]any
	// Proxy is the session's proxy URL (nil or "": direct), validated
	// with ParseProxyURL and stored before the first connection.
	Proxy *string
}

// CreatedSession is a new session with its session key, shown only once.
type CreatedSession struct {
	Session  Session
	Key      string // raw wask_ key
	Settings SessionSettings
}

// SessionQR is a session's current QR code.
type SessionQR struct {
	Code  string       // raw QR string
	State SessionState // the session's state right after, "" when unknown
}

// SessionService is the domain service behind the sessions tag
// (implemented by internal/sessions): session records with their keys, and
// the WhatsApp side through the SessionRuntime. The caller is the
// Principal in ctx (the HTTP layer has authenticated it and checked that it
// may act on the session of id). Errors are *Error values with the exact
// texts of the contract.
type SessionService interface {
	// Create stores a session with a fresh session key for the caller
	// (owned by a managed caller, within its maxSessions), then starts it;
	// a failed start is in the session's state, not an error.
	Create(ctx context.Context, in SessionInput) (CreatedSession, error)
	// List returns every session for admin callers, a managed caller's
	// own otherwise.
	List(ctx context.Context) ([]Session, error)
	// Get returns one session with its live status.
	Get(ctx context.Context, id uuid.UUID) (Session, error)
	// Delete removes the WhatsApp side (logging out when linked), then
	// the records.
	Delete(ctx context.Context, id uuid.UUID) error
	// Start, Stop, Restart and Logout act on the WhatsApp side and return
	// the session's fresh status.
	Start(ctx context.Context, id uuid.UUID) (Session, error)
	Stop(ctx context.Context, id uuid.UUID) (Session, error)
	Restart(ctx context.Context, id uuid.UUID) (Session, error)
	Logout(ctx context.Context, id uuid.UUID) (Session, error)
	// QR returns the current QR code; CodeConflict MsgQRNotAvailable
	// before there is one.
	QR(ctx context.Context, id uuid.UUID) (SessionQR, error)
	// PairCode asks WhatsApp for a pairing code for phone ("XXXX-XXXX").
	PairCode(ctx context.Context, id uuid.UUID, phone string) (string, error)
}

// APIKeyInput is the body of a managed key creation.
type APIKeyInput struct {
	Name        string
	Type        string // "standard" when empty
	IsAdmin     bool
	Limits      Limits
	MaxSessions *int
	Metadata    map[string]any
}

// TrialKeyInput is the body of a trial key creation.
type TrialKeyInput struct {
	Name           string
	TrialDays      int
	AllowedNumbers []string // with or without a leading +
	Messages       *int     // sends per minute per session (10 when nil)
	MaxSessions    *int     // 1 when nil
}

// CreatedAPIKey is a new managed key with its raw key, shown only once.
type CreatedAPIKey struct {
	Key APIKey
	Raw string // wamk_ for admin keys, wask_ otherwise
}

// Trial key presets (the product's "Trial" row).
const (
	TrialGeneral     = 50 // requests per minute
	TrialSessions    = 2  // session creations per hour
	TrialMessages    = 10 // sends per minute per session, unless given
	TrialMaxSessions = 1  // unless given
)

// KeyService is the domain service behind the admin tag (implemented by
// internal/sessions): managed and trial API keys.
type KeyService interface {
	CreateKey(ctx context.Context, in APIKeyInput) (CreatedAPIKey, error)
	// CreateTrialKey creates a key that expires after in.TrialDays and may
	// only message in.AllowedNumbers.
	CreateTrialKey(ctx context.Context, in TrialKeyInput) (CreatedAPIKey, error)
	// ListKeys returns the managed keys that are not revoked.
	ListKeys(ctx context.Context) ([]APIKey, error)
	// RevokeKey revokes a managed key; CodeNotFound MsgAPIKeyNotFound when
	// absent or already revoked. Sessions it created stay.
	RevokeKey(ctx context.Context, id string) error
}
