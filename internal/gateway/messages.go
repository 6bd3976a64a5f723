package gateway

import (
	"context"
	"time"

	"github.com/google/uuid"
)

// Exact texts of the message and chat operations (chat-management.md).
const (
	MsgChatDeleted       = "Chat deleted successfully"
	MsgChatArchived      = "Chat archived successfully"
	MsgChatUnarchived    = "Chat unarchived successfully"
	MsgChatMarkedUnread  = "Chat marked as unread"
	MsgMessageDeleted    = "Message deleted successfully"
	MsgMessageEdited     = "Message edited successfully"
	MsgMessagePinned     = "Message pinned successfully"
	MsgMessageUnpinned   = "Message unpinned successfully"
	MsgReactionSent      = "Reaction sent successfully"
	MsgMessageStarred    = "Message starred successfully"
	MsgContactBlocked    = "Contact blocked successfully"
	MsgContactUnblocked  = "Contact unblocked successfully"
	MsgTextRequired      = "text is required and must not be empty"
	MsgBadEmoji          = "emoji must be a single emoji, or an empty string to remove the reaction"
	MsgBadPinDuration    = "duration must be one of 24h, 7d, 30d"
	MsgQuotedNotFound    = "Quoted message not found"
	MsgIdempotencyBusy   = "A request with this Idempotency-Key is still being processed; retry shortly"
	MsgIdempotencyReused = "This Idempotency-Key was already used for a different request"
	MsgNoMedia           = "This message has no media"
	MsgMediaGone         = "The media is no longer available on WhatsApp"
)

// Rules of the message operations.
const (
	DeleteWindow       = 48 * time.Hour   // revoke for everyone
	EditWindow         = 15 * time.Minute // edit own text messages
	DefaultPinDuration = 24 * time.Hour
	IdempotencyTTL     = 24 * time.Hour
)

// PinDurations are the pin lengths WhatsApp offers, by API name.
var PinDurations = map[string]time.Duration{
	"24h": 24 * time.Hour,
	"7d":  7 * 24 * time.Hour,
	"30d": 30 * 24 * time.Hour,
}

// MessageType is the kind of a stored message (openapi Message.type).
type MessageType string

// Message types.
const (
	TypeText     MessageType = "text"
	TypeImage    MessageType = "image"
	TypeVideo    MessageType = "video"
	TypeAudio    MessageType = "audio"
	TypeDocument MessageType = "document"
	TypeSticker  MessageType = "sticker"
	TypeLocation MessageType = "location"
	TypeContact  MessageType = "contact"
	TypePoll     MessageType = "poll"
	TypeOther    MessageType = "other"
)

// Reaction is one sender's current reaction to a message.
type Reaction struct {
	Sender    string    `json:"sender"`
	Emoji     string    `json:"emoji"`
	Timestamp time.Time `json:"timestamp"`
}

// Message is a stored message. JIDs are full JIDs without device parts;
// ChatJID and Sender are in phone form wherever the number is known.
// The JSON form is the openapi Message schema (also the webhook payload).
type Message struct {
	ID      string `json:"id"`
	ChatJID string `json:"chatJid"`
	Sender  string `json:"sender"`
	// SenderLID is the sender's LID where known (issues 13, 15).
	SenderLID *string `json:"senderLid,omitempty"`
	// ToLID is the recipient's LID where known: own messages in 1:1 chats
	// (issue 15).
	ToLID       *string     `json:"toLid,omitempty"`
	FromMe      bool        `json:"fromMe"`
	Timestamp   time.Time   `json:"timestamp"` // server timestamp
	Type        MessageType `json:"type"`
	Text        *string     `json:"text"` // text or caption; the edited text once edited
	QuotedID    *string     `json:"quotedMessageId"`
	Edited      bool        `json:"edited"`
	Revoked     bool        `json:"revoked"`
	Starred     bool        `json:"starred"`
	PinnedUntil *time.Time  `json:"pinnedUntil"`
	Reactions   []Reaction  `json:"reactions"`
	MimeType    *string     `json:"mimeType,omitempty"` // media messages
	// Own messages read one by one (GetMessage): the delivery state and
	// the receipts per recipient (receipts.go). Empty otherwise.
	Status   string           `json:"status,omitempty"`
	Receipts []MessageReceipt `json:"receipts,omitempty"`
	// MessageContent: the fields of the kinds beyond text (files,
	// locations, contacts, polls), stored since migration 0070.
	MessageContent

	// Not part of the API shape.
	OriginalText *string   `json:"-"` // text before any edit
	EditedAt     time.Time `json:"-"` // zero if never edited
	// Media is what downloading the message's file needs (media messages
	// stored since migration 0011; nil otherwise and once revoked).
	Media *MediaRef `json:"-"`
}

// MessageContent is what a message of a kind beyond text carries besides
// its text or caption (openapi Message: fileName … poll). Every field is
// optional; the store keeps it as one JSON document per message.
type MessageContent struct {
	FileName *string          `json:"fileName,omitempty"` // documents
	FileSize *int64           `json:"fileSize,omitempty"` // media: bytes
	Duration *int             `json:"duration,omitempty"` // video, audio: seconds
	Width    *int             `json:"width,omitempty"`    // pixels
	Height   *int             `json:"height,omitempty"`
	PTT      bool             `json:"ptt,omitempty"` // audio: a voice note
	GIF      bool             `json:"gif,omitempty"` // video: plays as a GIF
	Location *MessageLocation `json:"location,omitempty"`
	VCards   []string         `json:"vcards,omitempty"` // contact messages
	Poll     *MessagePoll     `json:"poll,omitempty"`
}

// IsZero reports whether c carries nothing (a text message).
func (c *MessageContent) IsZero() bool {
	return c.FileName == nil && c.FileSize == nil && c.Duration == nil && c.Width == nil && c.Height == nil &&
		!c.PTT && !c.GIF && c.Location == nil && len(c.VCards) == 0 && c.Poll == nil
}

// MessageLocation is the point of a location message.
type MessageLocation struct {
	Latitude  float64 `json:"latitude"`
	Longitude float64 `json:"longitude"`
	Name      string  `json:"name,omitempty"`
	Address   string  `json:"address,omitempty"`
}

// MessagePoll is the poll of a poll message; its options carry the tally
// (Votes, Voters) only when read one by one (GetMessage).
type MessagePoll struct {
	Question        string       `json:"question"`
	Options         []PollOption `json:"options"`
	SelectableCount int          `json:"selectableCount"`
}

// PollOption is one option of a poll and, in a tally, its voters.
type PollOption struct {
	Name   string   `json:"name"`
	Votes  *int     `json:"votes,omitempty"`
	Voters []string `json:"voters,omitempty"`
}

// Tally fills each option's Votes and Voters from the current votes (in
// the order given: the order they voted). A selection naming no option
// of the poll is ignored.
func (p *MessagePoll) Tally(votes []PollVote) {
	for i := range p.Options {
		n := 0
		p.Options[i].Votes, p.Options[i].Voters = &n, []string{}
	}
	for _, v := range votes {
		for _, sel := range v.Options {
			for i := range p.Options {
				if p.Options[i].Name == sel {
					*p.Options[i].Votes++
					p.Options[i].Voters = append(p.Options[i].Voters, v.Voter)
					break
				}
			}
		}
	}
}

// PollVote is a voter's current vote on a poll: the option names it
// selects (empty: retracted).
type PollVote struct {
	Voter     string
	Options   []string
	Timestamp time.Time
}

// MediaRecoverer asks the phone to upload a media message's file again
// when WhatsApp's media servers no longer have it, and returns its new
// direct path (implemented by internal/whatsapp).
type MediaRecoverer interface {
	RecoverMedia(ctx context.Context, sessionID uuid.UUID, m *Message) (string, error)
}

// MediaPathStore records the new direct path of a media message after the
// phone uploaded it again (implemented by internal/postgres).
type MediaPathStore interface {
	SetMediaPath(ctx context.Context, sessionID uuid.UUID, chat ChatRef, id, directPath string) error
}

// MediaRef locates and decrypts the file of a media message on WhatsApp's
// media servers (the fields of WhatsApp's media messages).
type MediaRef struct {
	Type          MessageType // image, video, audio, document, sticker
	DirectPath    string
	MediaKey      []byte
	FileSHA256    []byte
	FileEncSHA256 []byte
	FileLength    uint64 // 0 when unknown
	MimeType      string
	FileName      string // documents
}

// MessageMedia is the decrypted file of a media message.
type MessageMedia struct {
	Data     []byte
	MimeType string
	FileName string
}

// Chat is a stored chat. Deleted chats keep their row (so a new message
// brings them back) but have no messages and are not listed.
type Chat struct {
	JID           string      `json:"jid"`
	Name          *string     `json:"name"`
	Archived      bool        `json:"archived"`
	MarkedUnread  bool        `json:"markedUnread"`
	UnreadCount   int         `json:"unreadCount"`
	LastMessage   *MessageKey `json:"-"`
	LastMessageAt *time.Time  `json:"lastMessageAt"`
	Deleted       bool        `json:"-"`
}

// MessageKey identifies a message for protocol operations (WhatsApp's
// MessageKey): the chat, the id, who sent it.
type MessageKey struct {
	ChatJID string
	ID      string
	FromMe  bool
	Sender  string // author JID; for groups the participant
}

// Key returns m's message key.
func (m *Message) Key() MessageKey {
	return MessageKey{ChatJID: m.ChatJID, ID: m.ID, FromMe: m.FromMe, Sender: m.Sender}
}

// ChatRef is a chat as the store and WhatsApp know it: the canonical JID
// (phone form when known) and every other JID the same chat is reached by
// (its LID). Lookups match any of them.
type ChatRef struct {
	JID  string
	Alts []string
}

// All returns JID followed by Alts.
func (c ChatRef) All() []string { return append([]string{c.JID}, c.Alts...) }

// Page is a cursor page request; Cursor is opaque to clients.
type Page struct {
	Limit  int
	Cursor string
}

// ChatFilter selects chats for listing; nil fields do not filter.
type ChatFilter struct {
	Archived *bool
	Unread   *bool
}

// ReceiptType is the kind of a delivery receipt.
type ReceiptType string

// Receipt types, in increasing order of progress.
const (
	ReceiptDelivered ReceiptType = "delivered"
	ReceiptRead      ReceiptType = "read"
	ReceiptPlayed    ReceiptType = "played"
)

// ChangeKind is the kind of an InboundChange.
type ChangeKind string

// Change kinds. Message changes name a target message; chat changes name a
// chat.
const (
	ChangeEdit       ChangeKind = "edit"
	ChangeRevoke     ChangeKind = "revoke"
	ChangeReaction   ChangeKind = "reaction"
	ChangePin        ChangeKind = "pin" // Until nil means unpinned
	ChangeStar       ChangeKind = "star"
	ChangeArchive    ChangeKind = "archive"
	ChangeMarkUnread ChangeKind = "mark_unread" // Flag true = unread, false = read
	ChangeDeleteChat ChangeKind = "delete_chat"
	ChangeReceipt    ChangeKind = "receipt"
	// ChangePollVote: Sender's vote on the poll TargetID (PollHashes);
	// it replaces the sender's earlier vote.
	ChangePollVote ChangeKind = "poll_vote"
)

// InboundChange is a change to stored messages or chats that WhatsApp
// reported: made by a contact (edit, revoke, reaction, pin), on the phone
// (archive, mark read/unread, delete chat, star), or a receipt.
type InboundChange struct {
	Kind      ChangeKind
	Chat      ChatRef
	TargetID  string      // message changes; receipts use TargetIDs
	TargetIDs []string    // receipts
	Sender    string      // who made the change (reaction sender, editor)
	FromMe    bool        // the change was made by this account (another device)
	Text      string      // edit: new text
	Emoji     string      // reaction: "" removes
	Flag      bool        // archive / mark unread / star value
	Until     *time.Time  // pin: pinned until; nil = unpinned
	Receipt   ReceiptType // receipts
	// PollHashes are a poll vote's selected options: the SHA-256 of each
	// option name, as WhatsApp sends them (the store maps them to names).
	PollHashes [][]byte
	Timestamp  time.Time
}

// InboundBatch is what WhatsApp delivered in one event: new messages and
// changes, stored in one transaction together with their webhook events.
type InboundBatch struct {
	Messages []Message
	Changes  []InboundChange
	// HistorySync marks messages from a history sync: they are subject to
	// the history cutoff and produce no webhook events.
	HistorySync bool
	// ChatNames names chats (from history sync or push names).
	ChatNames map[string]string
	// Events are recorded as they are (group events), in the same
	// transaction.
	Events []Event
	// Chats are the identities of the chats in this batch: rows stored
	// under their Alts (a LID seen before its phone number was known) are
	// merged into the canonical JID first.
	Chats []ChatRef
}

// MessageSink receives what a session's WhatsApp connection delivered. It
// must return nil only once the batch is durably stored; an error makes the
// WhatsApp side withhold the acknowledgement so WhatsApp redelivers.
type MessageSink interface {
	StoreInbound(ctx context.Context, sessionID uuid.UUID, b InboundBatch) error
}

// MessageStore persists messages, chats and their fate. Every method that
// records a change also records its webhook event in the same transaction.
// Lookups take a ChatRef and match any of its JIDs.
type MessageStore interface {
	MessageSink

	// GetMessage returns the message id within chat; CodeNotFound with
	// MsgMessageNotFound if there is none.
	GetMessage(ctx context.Context, sessionID uuid.UUID, chat ChatRef, id string) (*Message, error)
	// FindMessage returns the message id in any chat of the session (for
	// replies, where only the id is given); CodeNotFound if none.
	FindMessage(ctx context.Context, sessionID uuid.UUID, id string) (*Message, error)
	// ListMessages lists a chat's messages, newest first.
	ListMessages(ctx context.Context, sessionID uuid.UUID, chat ChatRef, p Page) ([]Message, string, error)
	// GetChat returns the chat, or a zero Chat with JID set if unknown.
	GetChat(ctx context.Context, sessionID uuid.UUID, chat ChatRef) (*Chat, error)
	// ListChats lists chats that are not deleted, most recent first.
	ListChats(ctx context.Context, sessionID uuid.UUID, f ChatFilter, p Page) ([]Chat, string, error)

	// SaveSent stores a message this gateway just sent and records
	// message.sent.
	SaveSent(ctx context.Context, sessionID uuid.UUID, m Message) error
	// ApplyChanges stores the effect of operations this gateway performed
	// (edit, revoke, reaction, pin, star, archive, mark unread, delete chat)
	// and records their events.
	ApplyChanges(ctx context.Context, sessionID uuid.UUID, changes []InboundChange) error

	// DeleteExpired removes messages older than before (retention; zero
	// removes none) and idempotency keys older than IdempotencyTTL, and
	// returns how many messages were removed.
	DeleteExpired(ctx context.Context, before time.Time) (int64, error)
}

// IdempotencyState is the outcome of claiming an Idempotency-Key.
type IdempotencyState int

// Claim outcomes.
const (
	IdemClaimed  IdempotencyState = iota + 1 // first use: act, then Complete or Release
	IdemDone                                 // already completed: Response holds the first result
	IdemPending                              // another request with the key is in progress
	IdemMismatch                             // the key was used for a different request
)

// IdempotencyStore keeps Idempotency-Key results per session for
// IdempotencyTTL.
type IdempotencyStore interface {
	// Claim reserves key for the request identified by fingerprint.
	// A pending claim older than stale is taken over (its holder died).
	Claim(ctx context.Context, sessionID uuid.UUID, key, fingerprint string, stale time.Duration) (IdempotencyState, []byte, error)
	// Complete stores the result of a claimed key.
	Complete(ctx context.Context, sessionID uuid.UUID, key string, response []byte) error
	// Release forgets a claimed key (the request failed; a retry may act).
	Release(ctx context.Context, sessionID uuid.UUID, key string) error
}

// SentMessage is WhatsApp's answer to a send.
type SentMessage struct {
	ID        string
	Timestamp time.Time // server timestamp
	Sender    string    // own JID (phone form)
	SenderLID string    // own LID where known ("" otherwise)
	ChatLID   string    // the recipient's LID (1:1 chats) where known
	Chat      ChatRef
	Media     *MediaRef // media sends: the uploaded file
}

// OutgoingText is a text message to send.
type OutgoingText struct {
	Chat   ChatRef
	Text   string
	Quoted *Message // reply target, from the store
	// Mentions are the user JIDs the message mentions (ContextInfo
	// MentionedJID): WhatsApp notifies them.
	Mentions []string
	// Preview, when set, is the link preview sent with the text.
	Preview *LinkPreview
}

// LinkPreview is the preview of the first URL of a text.
type LinkPreview struct {
	URL         string // as it appears in the text (MatchedText)
	Title       string
	Description string
	Thumbnail   []byte // JPEG; nil when the page has no usable image
	ThumbWidth  int
	ThumbHeight int
}

// MediaKind is the kind of a media send. Its values are the message
// types of the messages they make (MessageType(k)).
type MediaKind string

// Media kinds. Only MediaImage has an endpoint so far; the others are the
// kinds the media send path is built for.
const (
	MediaImage    MediaKind = MediaKind(TypeImage)
	MediaVideo    MediaKind = MediaKind(TypeVideo)
	MediaAudio    MediaKind = MediaKind(TypeAudio)
	MediaDocument MediaKind = MediaKind(TypeDocument)
	MediaSticker  MediaKind = MediaKind(TypeSticker)
)

// OutgoingMedia is a media file to send; Data is the file itself, already
// checked against its kind.
type OutgoingMedia struct {
	Chat     ChatRef
	Kind     MediaKind
	Data     []byte
	MimeType string
	Caption  string
	FileName string // documents
	Quoted   *Message
	// Width and Height in pixels (0 when unknown) let phones lay out an
	// image before it is downloaded.
	Width, Height int
	GIF           bool     // videos
	PTT           bool     // audio: a voice note
	Mentions      []string // user JIDs
	// Seconds is the play time of a video or audio (0 when unknown).
	Seconds int
}

// MessagingRuntime performs message, chat and contact operations on a
// session's WhatsApp connection (implemented by internal/whatsapp). Every
// method first checks the session is ready and returns the session errors
// (CodeNotFound MsgSessionNotFound, CodeConflict MsgNotAuthenticated,
// CodeUnavailable MsgStillConnecting); WhatsApp failures are mapped to
// gateway codes.
type MessagingRuntime interface {
	// ResolveChat canonicalises a parsed JID (full JID string): a LID whose
	// phone number is known becomes the phone JID, and the other form is
	// listed in Alts. It does not require a connection.
	ResolveChat(ctx context.Context, sessionID uuid.UUID, jid string) (ChatRef, error)
	// OwnJID returns the session's own phone JID.
	OwnJID(ctx context.Context, sessionID uuid.UUID) (string, error)

	SendText(ctx context.Context, sessionID uuid.UUID, m OutgoingText) (SentMessage, error)
	// SendMedia uploads m's file (encrypted, with the media type of its
	// kind) and sends the message of its kind; CodeInvalid for a kind the
	// adapter cannot send.
	SendMedia(ctx context.Context, sessionID uuid.UUID, m OutgoingMedia) (SentMessage, error)
	// ContentRuntime sends locations, contact cards and polls.
	ContentRuntime

	// Revoke deletes target for everyone.
	Revoke(ctx context.Context, sessionID uuid.UUID, target MessageKey) error
	// Edit replaces target's text.
	Edit(ctx context.Context, sessionID uuid.UUID, target MessageKey, text string) (time.Time, error)
	// React sets (emoji != "") or removes the own reaction on target.
	React(ctx context.Context, sessionID uuid.UUID, target MessageKey, emoji string) (time.Time, error)
	// Pin pins target for d, or unpins it when d is 0.
	Pin(ctx context.Context, sessionID uuid.UUID, target MessageKey, d time.Duration) (time.Time, error)
	// Star stars or unstars target (app state).
	Star(ctx context.Context, sessionID uuid.UUID, target MessageKey, star bool) error
	// Archive archives or unarchives chat, naming its last message.
	Archive(ctx context.Context, sessionID uuid.UUID, chat Chat, archive bool) error
	// MarkUnread marks chat unread, naming its last message.
	MarkUnread(ctx context.Context, sessionID uuid.UUID, chat Chat) error
	// DeleteChat deletes chat on every device, naming its last message.
	DeleteChat(ctx context.Context, sessionID uuid.UUID, chat Chat) error

	// Block blocks (true) or unblocks a user.
	Block(ctx context.Context, sessionID uuid.UUID, jid string, block bool) error
	// ProfilePictureURL returns the contact's picture URL, or nil when it
	// has none or hides it.
	ProfilePictureURL(ctx context.Context, sessionID uuid.UUID, jid string) (*string, error)

	// DownloadMedia fetches and decrypts a media file from WhatsApp's media
	// servers; CodeNotFound MsgMediaGone when WhatsApp no longer has it.
	DownloadMedia(ctx context.Context, sessionID uuid.UUID, media MediaRef) ([]byte, error)
}
