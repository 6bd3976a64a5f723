package gateway

import "github.com/google/uuid"

// AuthChangeKind says what changed in an AuthChange.
type AuthChangeKind int

// Kinds of AuthChange.
const (
	// AuthKeyCreated: a managed or session key was created; keys cached as
	// unknown may exist now.
	AuthKeyCreated AuthChangeKind = iota + 1
	// AuthKeyChanged: managed key KeyID was revoked, changed (limits,
	// expiry, recipients) or deleted; so may be the session keys of the
	// sessions it owns.
	AuthKeyChanged
	// AuthSessionKeyChanged: the key of session SessionID changed or was
	// deleted.
	AuthSessionKeyChanged
	// AuthSessionChanged: session SessionID's record changed (e.g. its
	// live state).
	AuthSessionChanged
	// AuthSessionDeleted: session SessionID was deleted.
	AuthSessionDeleted
)

// AuthChange is one change that invalidates cached authentication or
// authorization data.
type AuthChange struct {
	Kind      AuthChangeKind
	KeyID     string    // AuthKeyChanged
	SessionID uuid.UUID // AuthSession*
}

// AuthChangeSink receives the changes committed by any node (the postgres
// adapter's LISTEN connection delivers them; internal/authcache consumes
// them).
type AuthChangeSink interface {
	// AuthChanged is called for each committed change, in commit order.
	AuthChanged(AuthChange)
	// AuthFeedUp is called each time the feed starts (again) to deliver
	// changes: changes made while it was down were not delivered, so
	// everything cached before must be dropped.
	AuthFeedUp()
	// AuthFeedDown is called when the feed stops delivering (connection
	// lost); until the next AuthFeedUp nothing cached can be trusted.
	AuthFeedDown()
}
