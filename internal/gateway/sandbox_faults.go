package gateway

import (
	"context"

	"github.com/google/uuid"
)

// SandboxFaults injects the simulated WhatsApp's failures (issue 14).
type SandboxFaults interface {
	// Fault injects a failure of kind (the SandboxFaultRequest kinds of
	// openapi.yaml: drop, silent, stream-error-ack, ping-error, replaced,
	// client-outdated, logout, ...) on the session's linked device.
	// CodeConflict when the session is not linked, CodeInvalid for an
	// unknown kind.
	Fault(ctx context.Context, sessionID uuid.UUID, kind string) error
}
