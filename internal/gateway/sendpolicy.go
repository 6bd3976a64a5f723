package gateway

import (
	"context"
	"time"

	"github.com/google/uuid"
)

// Exact texts of the send policy (trial keys, docs/api.md "Trial keys").
const (
	// MsgRecipientNotAllowed refuses a send to a chat outside the allowed
	// numbers of the trial key that created the session, whichever key
	// made the request.
	MsgRecipientNotAllowed = "This session was created by a trial key, which may only send to its allowed numbers"
	// MsgTrialExpired refuses every send of a session whose trial key has
	// expired (the trial key itself and the session's own key are already
	// refused at authentication with MsgInvalidAPIKey).
	MsgTrialExpired = "This session was created by a trial key that has expired"
)

// SendRestrictions are the limits on whom a session may message: the
// allowed numbers and the expiry of the managed key that created it (a
// trial key). They belong to the session, not to the caller, so they bind
// every key used on the session (its own key, the creating key, an admin
// key). The zero value restricts nothing (sessions created by the master
// key or by an unrestricted managed key).
type SendRestrictions struct {
	// AllowedNumbers, when not empty, are the only phone numbers (digits,
	// no "+") the session may message.
	AllowedNumbers []string
	// ExpiresAt, when set, is when the creating key stops working; from
	// then on the session may message nobody.
	ExpiresAt *time.Time
}

// Restricted reports whether r limits anything.
func (r SendRestrictions) Restricted() bool {
	return len(r.AllowedNumbers) > 0 || r.ExpiresAt != nil
}

// SendRestrictionStore reads the send restrictions of a session
// (implemented by internal/postgres from the session's owner key).
type SendRestrictionStore interface {
	// SendRestrictions returns CodeNotFound with MsgSessionNotFound when
	// the session does not exist.
	SendRestrictions(ctx context.Context, sessionID uuid.UUID) (SendRestrictions, error)
}
