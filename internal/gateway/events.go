package gateway

import "time"

// Webhook event types (openapi EventType) and their payloads. The stores
// record them with the change that caused them, in the same transaction
// (postgres.RecordEvent); the webhook service delivers them. A payload is
// the data field of the delivered event.
const (
	EventSessionState     = "session.state"      // SessionStateEvent
	EventMessage          = "message"            // a Message that arrived from a contact
	EventMessageSent      = "message.sent"       // a Message the account sent (API or another device)
	EventMessageReceipt   = "message.receipt"    // own messages delivered/read/played: ReceiptEvent
	EventMessageEdited    = "message.edited"     // a Message with its new text, or a MessageStubEvent
	EventMessageRevoked   = "message.revoked"    // a Message, revoked, or a MessageStubEvent
	EventMessageReaction  = "message.reaction"   // a Message with its reactions, or a MessageStubEvent
	EventChatArchived     = "chat.archived"      // ChatEvent
	EventChatUnarchived   = "chat.unarchived"    // ChatEvent
	EventChatMarkedUnread = "chat.marked_unread" // ChatEvent
	EventChatDeleted      = "chat.deleted"       // ChatEvent
)

// SessionStateEvent is the payload of session.state.
type SessionStateEvent struct {
	State         string  `json:"state"`
	PreviousState string  `json:"previousState"`
	JID           *string `json:"jid,omitempty"`
	LastError     *string `json:"lastError,omitempty"`
}

// MessageStubEvent is the payload of a message change (edit, revoke,
// reaction) whose target message is not in the store (older than
// retention, or sent before the session was linked): what the change says
// about it, with Known false.
type MessageStubEvent struct {
	ID        string    `json:"id"`
	ChatJID   string    `json:"chatJid"`
	Sender    string    `json:"sender,omitempty"`
	Text      *string   `json:"text,omitempty"`
	Reaction  *Reaction `json:"reaction,omitempty"`
	Revoked   bool      `json:"revoked,omitempty"`
	Known     bool      `json:"known"`
	Timestamp time.Time `json:"timestamp"`
}

// ChatEvent is the payload of the chat.* events.
type ChatEvent struct {
	JID string `json:"jid"`
}

// ReceiptEvent is the payload of message.receipt.
type ReceiptEvent struct {
	MessageIDs []string `json:"messageIds"`
	ChatJID    string   `json:"chatJid"`
	Type       string   `json:"type"`
	// Recipient is who reported it (a group member, or the DM's contact).
	Recipient string `json:"recipient,omitempty"`
}
