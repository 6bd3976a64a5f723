package gateway

import (
	"context"
	"time"

	"github.com/google/uuid"
)

// Sandbox is the control plane of sandbox mode: it drives the simulated
// WhatsApp (internal/wasim) that every session is connected to. Its views
// come from what travelled over the protocol and was decrypted by the
// simulated devices, never from wagate's own database. Only present in
// sandbox mode; the HTTP layer answers 404 otherwise.
type Sandbox interface {
	// Link makes the simulated phone of phone link the session: it scans
	// the session's current QR (method "qr") or requests a pairing code and
	// types it (method "code"). It returns the account JID
	// ("15550001111@s.whatsapp.net") and the companion device JID once the
	// session is connected. CodeConflict when the session is already linked.
	Link(ctx context.Context, sessionID uuid.UUID, phone, method string) (jid, deviceJID string, err error)
	// Inbound makes the contact from (phone or JID) send text to the
	// session's account; it returns the message id.
	Inbound(ctx context.Context, sessionID uuid.UUID, from, text string) (string, error)
	// History makes the session's phone deliver a history sync with these
	// messages; it returns their ids (generated where not given).
	History(ctx context.Context, sessionID uuid.UUID, msgs []SandboxHistoryMessage) ([]string, error)
	// PhoneView returns the session phone's view from decoded app state.
	PhoneView(ctx context.Context, sessionID uuid.UUID) (SandboxPhoneView, error)
	// ContactMessages returns what the contact's device received and
	// decrypted, in order.
	ContactMessages(ctx context.Context, phone string) ([]SandboxReceived, error)
}

// SandboxHistoryMessage is one old message for Sandbox.History.
type SandboxHistoryMessage struct {
	Chat      string // the other party: phone number or JID
	FromMe    bool
	Text      string
	Timestamp time.Time
	ID        string // optional
}

// SandboxPhoneView is the simulated phone's app-state view.
type SandboxPhoneView struct {
	JID     string
	Chats   []SandboxChat
	Starred []SandboxStarred
}

// SandboxChat is one chat as the phone's app state describes it.
type SandboxChat struct {
	JID          string
	Archived     bool
	MarkedUnread bool
	Deleted      bool
	Pinned       bool
}

// SandboxStarred is a starred message in the phone's app state.
type SandboxStarred struct {
	Chat   string
	ID     string
	FromMe bool
}

// SandboxReceived is one message a simulated contact decrypted.
type SandboxReceived struct {
	ID       string
	From     string
	Kind     string // text, edit, revoke, reaction, pin, unpin, image, other
	Text     string
	TargetID string
	// Emoji is set for reactions only: the emoji, or "" when the reaction
	// was removed (a removal is a reaction with an empty text).
	Emoji              *string
	PinDurationSeconds int
	Timestamp          time.Time
}
