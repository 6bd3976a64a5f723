package gateway

import (
	"context"
	"time"

	"github.com/google/uuid"
)

// InboundMessage is a message that arrived on a session's WhatsApp account
// (sent by a contact, or by the account itself from another device). It is
// deliberately small; the message store extends it as it needs more.
type InboundMessage struct {
	ID        string    // WhatsApp message id
	Chat      string    // chat JID, e.g. "15550001111@s.whatsapp.net" or a group JID
	Sender    string    // sender JID (phone or LID form, as WhatsApp addressed it)
	FromMe    bool      // sent by the session's own account
	Timestamp time.Time // server timestamp
	PushName  string    // sender's display name, if WhatsApp sent one
	Type      string    // WhatsApp's stanza type: "text", "media", "reaction", "poll", ...
	Text      string    // plain text body, when the message has one
}

// InboundSink receives inbound WhatsApp messages (implemented by the message
// store). The whatsapp adapter acknowledges a message to WhatsApp only after
// HandleMessage returned nil, so an implementation must persist before it
// returns; any error makes WhatsApp deliver the message again later.
type InboundSink interface {
	HandleMessage(ctx context.Context, sessionID uuid.UUID, m *InboundMessage) error
}
