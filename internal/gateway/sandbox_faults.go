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
	// ExpireMedia drops the file of media message messageID (sent by a
	// simulated contact) from the simulated media server until the phone
	// uploads it again; phoneOffline, when set, makes the session's phone
	// stop (true) or resume answering media retry requests. CodeNotFound
	// MsgSandboxNoMedia for a message the simulator sent no media for.
	ExpireMedia(ctx context.Context, sessionID uuid.UUID, messageID string, phoneOffline *bool) error
}

// MsgSandboxNoMedia is the text of ExpireMedia for an unknown message.
const MsgSandboxNoMedia = "The simulated WhatsApp has no media for this message"
