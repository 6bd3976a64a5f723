package gateway

import (
	"context"
	"time"

	"github.com/google/uuid"
)

// Texts of the conversation, contact-directory and call operations
// (docs/chat-management.md, docs/contacts.md).
const (
	MsgChatMarkedRead   = "Chat marked as read"
	MsgChatNotFound     = "Chat not found"
	MsgReadOwnMessage   = "messageId must name a received message, not an own one"
	MsgTypingSent       = "Typing state sent"
	MsgSubscribed       = "Subscribed to presence"
	MsgCallRejected     = "Call rejected"
	MsgCallNotFound     = "Call not found"
	MsgNoPNForLID       = "No phone number is known for this LID"
	MsgNotOnWhatsApp    = "Not on WhatsApp"
	MsgTooManyNumbers   = "numbers must hold 1 to 50 phone numbers"
	MsgBadPresenceState = `state must be "available" or "unavailable"`
	MsgBadTypingState   = `state must be "composing", "recording" or "paused"`
	MsgNoPushName       = "The account has no push name yet; WhatsApp needs one before presence can be sent"
)

// MaxCheckNumbers is the most numbers one check may ask about.
const MaxCheckNumbers = 50

// MaxReadReceipts is the most messages one mark-read names.
const MaxReadReceipts = 100

// Presence states (own presence and presence events).
const (
	PresenceAvailable   = "available"
	PresenceUnavailable = "unavailable"
)

// Typing states (chat presence).
const (
	TypingComposing = "composing"
	TypingRecording = "recording"
	TypingPaused    = "paused"
)

// ReadReceiptSender sends read receipts (implemented by internal/whatsapp).
type ReadReceiptSender interface {
	// MarkRead sends one read receipt naming ids, all sent by sender (for
	// groups the participant; for 1:1 chats the chat itself), in chat.
	MarkRead(ctx context.Context, sessionID uuid.UUID, chat, sender string, ids []string, at time.Time) error
}

// PresenceSender sends the account's presence and chat states and asks for
// contacts' presence (implemented by internal/whatsapp).
type PresenceSender interface {
	// SendPresence announces the account available or unavailable;
	// CodeConflict MsgNoPushName when WhatsApp has no name for it yet.
	SendPresence(ctx context.Context, sessionID uuid.UUID, available bool) error
	// SendChatState shows state (TypingComposing, TypingRecording,
	// TypingPaused) in chat.
	SendChatState(ctx context.Context, sessionID uuid.UUID, chat, state string) error
	// SubscribePresence asks for jid's presence updates.
	SubscribePresence(ctx context.Context, sessionID uuid.UUID, jid string) error
}

// Contact is one entry of the account's contact directory.
type Contact struct {
	JID          string
	LID          *string
	Name         *string // address-book name
	PushName     *string
	BusinessName *string
}

// NumberCheck is the answer for one number of a check.
type NumberCheck struct {
	Number     string // as given
	OnWhatsApp bool
	JID        *string
	LID        *string
}

// LIDMapping is both addresses of a user.
type LIDMapping struct {
	PN  string // phone JID
	LID string // LID JID
}

// ContactDirectory reads the account's contacts and asks WhatsApp about
// numbers (implemented by internal/whatsapp).
type ContactDirectory interface {
	// Contacts lists the contacts whatsmeow keeps for the session (app
	// state, push names, history), with their LIDs where known.
	Contacts(ctx context.Context, sessionID uuid.UUID) ([]Contact, error)
	// CheckNumbers asks WhatsApp about phones (digits, country code
	// first), answering in the same order.
	CheckNumbers(ctx context.Context, sessionID uuid.UUID, phones []string) ([]NumberCheck, error)
	// LIDForPN returns the LID of a phone JID ("" when unknown); ask
	// queries WhatsApp when the store does not know it.
	LIDForPN(ctx context.Context, sessionID uuid.UUID, pn string, ask bool) (string, error)
	// PNForLID returns the phone JID of a LID ("" when unknown).
	PNForLID(ctx context.Context, sessionID uuid.UUID, lid string) (string, error)
}

// CallRejecter rejects calls (implemented by internal/whatsapp).
type CallRejecter interface {
	// RejectCall rejects a call this session was offered and that is still
	// ringing; CodeNotFound MsgCallNotFound otherwise.
	RejectCall(ctx context.Context, sessionID uuid.UUID, callID string) error
}

// RingingCalls keeps the calls offered to sessions that still ring, in
// PostgreSQL (implemented by internal/postgres), so that a reject works
// after a restart and on whichever node runs the session. Calls offered
// before staleBefore count as ended.
type RingingCalls interface {
	// PutRingingCall records an offer (caller: the calling JID as the
	// offer named it) and sweeps the session's stale calls.
	PutRingingCall(ctx context.Context, sid uuid.UUID, callID, caller string, offeredAt, staleBefore time.Time) error
	// TakeRingingCall removes a ringing call and returns its caller; ok
	// is false when the call is unknown, ended or stale.
	TakeRingingCall(ctx context.Context, sid uuid.UUID, callID string, staleBefore time.Time) (caller string, offeredAt time.Time, ok bool, err error)
	// DropRingingCall forgets a call that ended (accepted, terminated).
	DropRingingCall(ctx context.Context, sid uuid.UUID, callID string) error
}

// ConversationService is the domain service behind the presence and calls
// tags and the contact directory (implemented by internal/conversation).
type ConversationService interface {
	// MarkRead sends read receipts for the chat's received messages up to
	// messageID ("" for every unread one) and returns the chat JID and the
	// ids named.
	MarkRead(ctx context.Context, sid uuid.UUID, chatID, messageID string) (string, []string, error)
	SetPresence(ctx context.Context, sid uuid.UUID, state string) error
	SetTyping(ctx context.Context, sid uuid.UUID, chatID, state string) (string, error)
	SubscribePresence(ctx context.Context, sid uuid.UUID, jid string) (string, error)
	ListContacts(ctx context.Context, sid uuid.UUID) ([]Contact, error)
	CheckNumbers(ctx context.Context, sid uuid.UUID, numbers []string) ([]NumberCheck, error)
	LookupLID(ctx context.Context, sid uuid.UUID, jid string) (LIDMapping, error)
	RejectCall(ctx context.Context, sid uuid.UUID, callID string) error
}

// EventRecorder records a webhook event that changes no stored state
// (presence, typing, calls), with its deliveries, in one transaction
// (implemented by internal/postgres).
type EventRecorder interface {
	RecordEvent(ctx context.Context, sessionID uuid.UUID, typ string, data any) error
}

// Conversation webhook event types and payloads.
const (
	EventPresence = "presence" // PresenceEvent
	EventTyping   = "typing"   // TypingEvent
	EventCall     = "call"     // CallEvent
)

// PresenceEvent is the payload of presence (openapi PresenceEvent).
type PresenceEvent struct {
	JID      string     `json:"jid"`
	LID      *string    `json:"lid,omitempty"`
	State    string     `json:"state"`
	LastSeen *time.Time `json:"lastSeen,omitempty"`
}

// TypingEvent is the payload of typing (openapi TypingEvent).
type TypingEvent struct {
	ChatJID string `json:"chatJid"`
	Sender  string `json:"sender"`
	State   string `json:"state"`
}

// Call statuses (CallEvent.Status).
const (
	CallOffer     = "offer"
	CallAccept    = "accept"
	CallTerminate = "terminate"
	CallRejected  = "rejected"
)

// CallEvent is the payload of call (openapi CallEvent).
type CallEvent struct {
	CallID    string    `json:"callId"`
	From      string    `json:"from"`
	LID       *string   `json:"lid,omitempty"`
	Status    string    `json:"status"`
	Reason    *string   `json:"reason,omitempty"`
	IsGroup   bool      `json:"isGroup"`
	Timestamp time.Time `json:"timestamp"`
}

// CallPolicySource tells the WhatsApp adapter what to do with an offered
// call: reject it at once (the session's rejectCalls setting) and the text
// to send the caller ("" for none).
type CallPolicySource interface {
	CallPolicy(ctx context.Context, sessionID uuid.UUID) (reject bool, text string, err error)
}

// SessionSettings are a session's behaviour settings (PATCH /sessions/{id}).
type SessionSettings struct {
	RejectCalls        bool
	RejectCallsMessage *string
	// Proxy is the full proxy URL with credentials ("" for none); only
	// MaskProxyURL(Proxy) leaves the server.
	Proxy string
}

// SessionSettingsPatch changes settings; nil fields keep their value, an
// empty RejectCallsMessage removes the text.
type SessionSettingsPatch struct {
	RejectCalls        *bool
	RejectCallsMessage *string
	// Proxy: nil keeps it, "" removes it, else a URL (ParseProxyURL).
	Proxy *string
}

// SessionSettingsStore persists session settings (implemented by
// internal/postgres).
type SessionSettingsStore interface {
	// GetSettings returns the settings (the defaults when never set).
	GetSettings(ctx context.Context, sessionID uuid.UUID) (SessionSettings, error)
	// UpdateSettings applies p and returns the result; CodeNotFound
	// MsgSessionNotFound when the session does not exist.
	UpdateSettings(ctx context.Context, sessionID uuid.UUID, p SessionSettingsPatch) (SessionSettings, error)
}

// SessionSettingsService changes session settings (implemented by
// internal/sessions); the caller may act on the session (checked by the
// HTTP layer).
type SessionSettingsService interface {
	UpdateSettings(ctx context.Context, sessionID uuid.UUID, p SessionSettingsPatch) (SessionSettings, error)
}

// MaxRejectCallsMessage is the longest rejectCallsMessage, in characters.
const MaxRejectCallsMessage = 4096

// SandboxCall is a simulated call as the caller sees it.
type SandboxCall struct {
	ID, From, To, State string
	RejectedBy          *string
}

// SandboxCalls is the sandbox's call control (implemented by
// internal/sandbox next to gateway.Sandbox).
type SandboxCalls interface {
	// Call makes the contact from call the session's account; it returns
	// the call id.
	Call(ctx context.Context, sessionID uuid.UUID, from string) (string, error)
	// CallState returns the call; CodeNotFound MsgCallNotFound if unknown.
	CallState(ctx context.Context, callID string) (SandboxCall, error)
}

// SandboxReceipt is a receipt a simulated contact's device got for a
// message it sent: the type ("delivered", "read", "played", ...) and the
// account's device that sent it.
type SandboxReceipt struct {
	MessageID, Type, Device string
}

// SandboxChatState is a chat state a simulated contact received: the
// sending account (phone JID), its device and the state (composing,
// recording, paused).
type SandboxChatState struct {
	From, Device, State string
}

// SandboxPresence is a presence announcement (available, unavailable) of
// an account, as its contacts see it.
type SandboxPresence struct {
	From, Device, Type string
}

// SandboxContactView is what a simulated contact saw of the accounts it
// talks with, oldest first.
type SandboxContactView struct {
	Receipts   []SandboxReceipt
	ChatStates []SandboxChatState
	Presences  []SandboxPresence
}

// SandboxConversation is the sandbox's view of conversation state at the
// contacts and the session phone's address book (implemented by
// internal/sandbox next to gateway.Sandbox).
type SandboxConversation interface {
	// ContactView returns what the contact of phone saw.
	ContactView(ctx context.Context, phone string) (SandboxContactView, error)
	// SaveContact makes the session's phone save the contact phone under
	// fullName (firstName: "" = its first word) and sync it as app state;
	// it returns the contact's JID and the first name used.
	SaveContact(ctx context.Context, sessionID uuid.UUID, phone, fullName, firstName string) (string, string, error)
}
