package gateway

import (
	"context"

	"github.com/google/uuid"
)

// ContentKind is the kind of a send that carries no file: a location,
// contact cards or a poll.
type ContentKind string

// Content kinds; their values are the message types they make.
const (
	ContentLocation ContentKind = ContentKind(TypeLocation)
	ContentContact  ContentKind = ContentKind(TypeContact)
	ContentPoll     ContentKind = ContentKind(TypePoll)
)

// Location is a point on the map.
type Location struct {
	Latitude, Longitude float64 // degrees
	Name, Address       string
}

// ContactCard is one contact of a contact send: a name and its phone
// numbers (made into a vCard).
type ContactCard struct {
	Name   string
	Phones []string
}

// VCard is one contact of an outgoing contact message.
type VCard struct {
	Name  string // display name
	VCard string
}

// Poll is a poll to send.
type Poll struct {
	Question string
	Options  []string
	// SelectableCount is how many options a voter may pick (0: any).
	SelectableCount int
}

// ContentSend is the body of a location, contact or poll send.
type ContentSend struct {
	Kind     ContentKind
	Location *Location
	Contacts []ContactCard // or VCard
	VCard    string
	Poll     *Poll
	QuotedID string
	Mentions []string // raw client strings (phone numbers or JIDs)
}

// OutgoingContent is a location, contact or poll message to send, already
// checked.
type OutgoingContent struct {
	Chat     ChatRef
	Kind     ContentKind
	Location *Location
	VCards   []VCard
	Poll     *Poll
	Quoted   *Message
	Mentions []string // user JIDs
}

// ContentSender sends messages without a file (implemented by
// internal/messaging).
type ContentSender interface {
	// SendContent sends a location, contact cards or a poll, and stores
	// the message; the send policy applies as for every send.
	SendContent(ctx context.Context, sid uuid.UUID, to string, c ContentSend) (*Message, error)
}

// ContentRuntime sends messages without a file on a session's connection
// (implemented by internal/whatsapp).
type ContentRuntime interface {
	SendContent(ctx context.Context, sessionID uuid.UUID, m OutgoingContent) (SentMessage, error)
	// Forward sends a stored text, media, location or contact message
	// again, marked as forwarded.
	Forward(ctx context.Context, sessionID uuid.UUID, m OutgoingForward) (SentMessage, error)
}

// Texts of forwarding.
const (
	MsgForwardKind    = "Only text, media, location and contact messages can be forwarded"
	MsgForwardRevoked = "A deleted message cannot be forwarded"
	// MsgForwardPoll (422): WhatsApp forwards no polls; a poll's votes are
	// encrypted with its own message secret, so a copy would be a new poll.
	MsgForwardPoll = "A poll cannot be forwarded (WhatsApp does not forward polls); send a new poll with /send/poll"
)

// OutgoingForward is a stored message to send again, marked as forwarded
// (media by its stored reference, without downloading the file).
type OutgoingForward struct {
	Chat    ChatRef
	Message *Message
	// Content is set for a location or contact message: the stored
	// content made into its message again (Chat, Quoted and Mentions
	// unused).
	Content *OutgoingContent
}

// Forwarder forwards stored messages (implemented by internal/messaging).
type Forwarder interface {
	// ForwardMessage sends messageID of chatID to `to` as a forwarded
	// message, through the send path of every send.
	ForwardMessage(ctx context.Context, sid uuid.UUID, chatID, messageID, to string) (*Message, error)
}
