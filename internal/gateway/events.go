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
	EventPollVote         = "poll.vote"          // PollVoteEvent
	EventChatArchived     = "chat.archived"      // ChatEvent
	EventChatUnarchived   = "chat.unarchived"    // ChatEvent
	EventChatMarkedUnread = "chat.marked_unread" // ChatEvent
	EventChatDeleted      = "chat.deleted"       // ChatEvent

	EventGroupCreated      = "group.created"      // GroupEvent with Group: the account created a group
	EventGroupJoined       = "group.joined"       // GroupEvent with Group: the account was added or joined by link
	EventGroupLeft         = "group.left"         // GroupEvent: the account left or was removed
	EventGroupParticipants = "group.participants" // GroupEvent with Action and Participants: others joined, left, were promoted or demoted
	EventGroupUpdated      = "group.updated"      // GroupEvent with the changed settings (subject, description, announce, locked)
)

// GroupEvent is the payload of the group.* events. Actor is who made the
// change (phone JID where known), absent when WhatsApp does not say.
type GroupEvent struct {
	GroupID      string    `json:"groupId"`
	Actor        string    `json:"actor,omitempty"`
	Group        *Group    `json:"group,omitempty"`        // created, joined
	Action       string    `json:"action,omitempty"`       // participants: add, remove, promote, demote
	Participants []string  `json:"participants,omitempty"` // participants, left
	Reason       string    `json:"reason,omitempty"`       // joined/participants: "invite" for a join by link
	Subject      *string   `json:"subject,omitempty"`
	Description  *string   `json:"description,omitempty"`
	Announce     *bool     `json:"announce,omitempty"`
	Locked       *bool     `json:"locked,omitempty"`
	Timestamp    time.Time `json:"timestamp"`
}

// Event is a webhook event a batch records as it is (group events).
type Event struct {
	Type string
	Data any
}

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

// PollVoteEvent is the payload of poll.vote: a voter's vote on a poll,
// new, changed or retracted (SelectedOptions empty); Poll is the poll
// with its tally after the vote (absent when the poll is not stored).
type PollVoteEvent struct {
	PollMessageID   string       `json:"pollMessageId"`
	ChatJID         string       `json:"chatJid"`
	Voter           string       `json:"voter"`
	SelectedOptions []string     `json:"selectedOptions"`
	Poll            *MessagePoll `json:"poll,omitempty"`
	Timestamp       time.Time    `json:"timestamp"`
}
