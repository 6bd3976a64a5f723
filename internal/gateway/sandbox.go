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
	SandboxFaults // sandbox_faults.go
	// Link makes the simulated phone of phone link the session: it scans
	// the session's current QR (method "qr") or requests a pairing code and
	// types it (method "code"). It returns the account JID
	// ("15550001111@s.whatsapp.net") and the companion device JID once the
	// session is connected. CodeConflict when the session is already linked.
	Link(ctx context.Context, sessionID uuid.UUID, phone, method string) (jid, deviceJID string, err error)
	// Inbound makes the contact from (phone or JID) send m to the
	// session's account; it returns the message id. CodeInvalid for a
	// message that cannot be sent (unknown type, missing media, bad
	// coordinates, a vote for a poll or option the contact does not know).
	Inbound(ctx context.Context, sessionID uuid.UUID, from string, m SandboxInboundMessage) (string, error)
	// History makes the session's phone deliver a history sync with these
	// messages; it returns their ids (generated where not given).
	History(ctx context.Context, sessionID uuid.UUID, msgs []SandboxHistoryMessage) ([]string, error)
	// PhoneView returns the session phone's view from decoded app state.
	PhoneView(ctx context.Context, sessionID uuid.UUID) (SandboxPhoneView, error)
	// Device returns the simulator's connection counts of the session's
	// linked device (GET /sandbox/sessions/{id}/device).
	Device(ctx context.Context, sessionID uuid.UUID) (SandboxDevice, error)
	// ContactMessages returns what the contact's device received and
	// decrypted, in order.
	ContactMessages(ctx context.Context, phone string) ([]SandboxReceived, error)

	// CreateGroup makes the simulated owner create a group with the
	// participants (phone numbers; the session's own may be one), LID
	// addressed when lid; it returns the group JID.
	CreateGroup(ctx context.Context, subject, owner string, participants []string, lid bool) (string, error)
	// GroupInbound makes the member from send text to the group; it
	// returns the message id. CodeForbidden MsgNotGroupMember when from is
	// not a member, CodeNotFound MsgGroupNotFound for an unknown group.
	GroupInbound(ctx context.Context, groupID, from, text string) (string, error)
	// GroupParticipants is a participant change by the member by
	// (CodeForbidden MsgNotGroupAdmin when by may not).
	GroupParticipants(ctx context.Context, groupID, action, by string, phones []string) ([]SandboxParticipantResult, error)
	// Group returns the simulator's view of the group.
	Group(ctx context.Context, groupID string) (SandboxGroup, error)
}

// SandboxGroup is the simulator's truth about a group.
type SandboxGroup struct {
	JID, Subject, Description, Creator string
	Announce, Locked                   bool
	AddressingMode, InviteCode         string
	Participants                       []SandboxGroupParticipant
}

// SandboxGroupParticipant is one member of a SandboxGroup.
type SandboxGroupParticipant struct {
	Phone, JID, LID, Role string
}

// SandboxParticipantResult is one participant of a simulated change: Error
// 0 on success, else WhatsApp's code.
type SandboxParticipantResult struct {
	Phone string
	Error int
}

// SandboxHistoryMessage is one old message for Sandbox.History.
type SandboxHistoryMessage struct {
	Chat      string // the other party: phone number or JID
	FromMe    bool
	Text      string
	Timestamp time.Time
	ID        string // optional
}

// SandboxDevice is the simulator's connection counts of a linked device.
type SandboxDevice struct {
	Connections int `json:"connections"` // live connections to the simulator now
	Replaced    int `json:"replaced"`    // connections replaced by a second login while live
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
	Chat     string // the group JID for group messages; "" for direct messages
	Kind     string // text, edit, revoke, reaction, pin, unpin, image, other
	Text     string
	TargetID string
	// Emoji is set for reactions only: the emoji, or "" when the reaction
	// was removed (a removal is a reaction with an empty text).
	Emoji              *string
	PinDurationSeconds int
	Timestamp          time.Time
	SandboxReceivedKind
}

// SandboxReceivedKind are the fields of the message kinds beyond text
// (media, location, contacts, polls) and the context every kind has.
type SandboxReceivedKind struct {
	MimeType string
	FileName string
	// SHA256 is the hex SHA-256 of the decrypted attachment.
	SHA256          string
	Caption         string
	PTT             bool
	GIF             bool
	Seconds         int // video, audio: the declared play time
	Latitude        *float64
	Longitude       *float64
	LocationName    string
	Address         string
	VCards          []string
	PollOptions     []string
	SelectableCount int
	SelectedOptions []string
	Forwarded       bool
	Mentions        []string
	QuotedID        string
	LinkTitle       string
	LinkDescription string
	LinkThumbnail   bool
}

// Sandbox inbound message types (openapi SandboxInboundRequest.type).
const (
	SandboxInboundText     = "text"
	SandboxInboundImage    = "image"
	SandboxInboundVideo    = "video"
	SandboxInboundAudio    = "audio"
	SandboxInboundDocument = "document"
	SandboxInboundSticker  = "sticker"
	SandboxInboundLocation = "location"
	SandboxInboundContact  = "contact"
	SandboxInboundPoll     = "poll"
	SandboxInboundPollVote = "pollVote"
)

// SandboxInboundMessage is what a simulated contact sends (the fields of
// its Type; the JSON form travels to a remote simulator).
type SandboxInboundMessage struct {
	Type     string `json:"type,omitempty"` // "" is text
	Text     string `json:"text,omitempty"`
	Media    []byte `json:"media,omitempty"`
	MimeType string `json:"mimeType,omitempty"`
	Caption  string `json:"caption,omitempty"`
	FileName string `json:"fileName,omitempty"`
	PTT      bool   `json:"ptt,omitempty"`
	GIF      bool   `json:"gif,omitempty"`

	Latitude  *float64 `json:"latitude,omitempty"`
	Longitude *float64 `json:"longitude,omitempty"`
	Name      string   `json:"name,omitempty"`
	Address   string   `json:"address,omitempty"`

	// VCards with their display names (Names[i] names VCards[i]).
	VCards []string `json:"vcards,omitempty"`
	Names  []string `json:"names,omitempty"`
	// Contacts are made into vCards (after VCards) by the sandbox.
	Contacts []ContactCard `json:"-"`

	Question        string   `json:"question,omitempty"`
	Options         []string `json:"options,omitempty"` // poll options, or a vote's selection
	SelectableCount int      `json:"selectableCount,omitempty"`
	TargetID        string   `json:"targetId,omitempty"` // pollVote: the poll
}
