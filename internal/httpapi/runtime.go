package httpapi

import (
	"context"

	"github.com/google/uuid"

	"github.com/wagate-dev/wagate/internal/gateway"
)

// errNotImplemented is the answer of every planned operation.
var errNotImplemented = gateway.E(gateway.CodeNotImplemented, gateway.MsgNotImplemented)

// NopRuntime is the gateway.SessionRuntime used until the WhatsApp runtime
// is wired: sessions stay in their stored state, QR answers 409 with the
// session's state, pairing and start/stop/logout answer 501, and Remove
// succeeds (there is nothing to remove).
type NopRuntime struct {
	Sessions gateway.SessionStore
}

var _ gateway.SessionRuntime = NopRuntime{}

// Start answers 501.
func (NopRuntime) Start(context.Context, uuid.UUID) error { return errNotImplemented }

// Stop answers 501.
func (NopRuntime) Stop(context.Context, uuid.UUID) error { return errNotImplemented }

// Logout answers 501.
func (NopRuntime) Logout(context.Context, uuid.UUID) error { return errNotImplemented }

// Remove succeeds: no WhatsApp data exists without a runtime.
func (NopRuntime) Remove(context.Context, uuid.UUID) error { return nil }

// QR answers 409 with MsgQRNotAvailable of the session's state.
func (r NopRuntime) QR(ctx context.Context, id uuid.UUID) (string, error) {
	s, err := r.Sessions.GetSession(ctx, id)
	if err != nil {
		return "", err
	}
	return "", gateway.E(gateway.CodeConflict, gateway.MsgQRNotAvailable(s.State))
}

// PairCode answers 501.
func (NopRuntime) PairCode(context.Context, uuid.UUID, string) (string, error) {
	return "", errNotImplemented
}
