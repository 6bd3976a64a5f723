package gateway

import (
	"context"

	"github.com/google/uuid"
)

// RestorableSession is a session that should run after a restart: it was
// not stopped, logged out or failed when the process went down.
type RestorableSession struct {
	ID uuid.UUID
	// DeviceJID is the linked companion device ("15550001111:7@s.whatsapp.net"),
	// or "" when the session was never linked.
	DeviceJID string
}

// DeviceStore links sessions to their WhatsApp companion devices (the
// device keys themselves live in whatsmeow's own tables). Implemented by
// internal/postgres; used by internal/whatsapp.
type DeviceStore interface {
	// LinkDevice records that the session is linked as deviceJID, replacing
	// any earlier link. CodeNotFound when the session does not exist.
	LinkDevice(ctx context.Context, sessionID uuid.UUID, deviceJID string) error
	// UnlinkDevice forgets the session's device link; no error when none.
	UnlinkDevice(ctx context.Context, sessionID uuid.UUID) error
	// DeviceJID returns the session's linked device JID, or "" when none.
	DeviceJID(ctx context.Context, sessionID uuid.UUID) (string, error)
	// RestorableSessions lists the sessions to bring back at start-up.
	RestorableSessions(ctx context.Context) ([]RestorableSession, error)
}
