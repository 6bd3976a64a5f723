package gateway

import (
	"context"
	"time"

	"github.com/google/uuid"
)

// SessionState is the lifecycle state of a session, as documented in
// openapi.yaml (SessionState).
type SessionState string

// Session states.
const (
	StateStarting     SessionState = "starting"     // connecting, no QR yet
	StateQRReady      SessionState = "qr_ready"     // a QR code waits to be scanned
	StatePairing      SessionState = "pairing"      // pairing code issued / phone completing the link
	StateConnected    SessionState = "connected"    // linked and online
	StateDisconnected SessionState = "disconnected" // linked, reconnecting with backoff
	StateLoggedOut    SessionState = "logged_out"   // unlinked on the phone or by logout
	StateStopped      SessionState = "stopped"      // stopped through the API
	StateFailed       SessionState = "failed"       // cannot continue; see LastError
)

// Session is a session record with its live status fields.
type Session struct {
	ID          uuid.UUID
	Name        string
	State       SessionState
	CreatedAt   time.Time
	WebhookURL  *string
	Metadata    map[string]any
	OwnerKeyID  *string // managed key that created it; nil for the master admin key
	JID         *string // linked account JID (phone form)
	Phone       *string
	PushName    *string
	ConnectedAt *time.Time
	LastSeenAt  *time.Time
	LastError   *string
}

// StatusUpdate is a change of a session's live status. Nil fields are left
// as they are; State is always written.
type StatusUpdate struct {
	State       SessionState
	JID         *string
	Phone       *string
	PushName    *string
	ConnectedAt *time.Time
	LastSeenAt  *time.Time
	LastError   *string // "" clears
}

// SessionStatusStore persists the live status of sessions. The whatsapp
// adapter calls it on every state change; implementations also record the
// change as an event (session.state) in the same transaction.
type SessionStatusStore interface {
	// UpdateStatus writes u and records a session.state event. Returns
	// CodeNotFound when the session does not exist (any more).
	UpdateStatus(ctx context.Context, id uuid.UUID, u StatusUpdate) error
	// TouchLastSeen records that WhatsApp answered on the session's
	// connection; cheap, no event.
	TouchLastSeen(ctx context.Context, id uuid.UUID, at time.Time) error
}

// SessionRuntime drives the WhatsApp side of sessions (implemented by
// internal/whatsapp). Every method returns *Error values with the exact texts
// above (e.g. CodeConflict + MsgNotAuthenticated, CodeUnavailable +
// MsgStillConnecting).
type SessionRuntime interface {
	// Start connects the session: a linked session reconnects without a QR,
	// an unlinked one starts producing QR codes. Idempotent.
	Start(ctx context.Context, id uuid.UUID) error
	// Stop disconnects and keeps the link.
	Stop(ctx context.Context, id uuid.UUID) error
	// Logout unlinks the device on WhatsApp and forgets its keys.
	Logout(ctx context.Context, id uuid.UUID) error
	// Remove logs out when linked and deletes every WhatsApp datum of the
	// session (device, keys); the caller deletes the session row.
	Remove(ctx context.Context, id uuid.UUID) error
	// QR returns the current raw QR string; CodeConflict with
	// MsgQRNotAvailable(state) before one exists.
	QR(ctx context.Context, id uuid.UUID) (string, error)
	// PairCode asks WhatsApp for a pairing code for phone ("XXXX-XXXX").
	PairCode(ctx context.Context, id uuid.UUID, phone string) (string, error)
}
