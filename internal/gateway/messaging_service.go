package gateway

import (
	"context"

	"github.com/google/uuid"
)

// ImageSend is the body of an image send.
type ImageSend struct {
	Image    string // http(s) URL, base64, or data: URL
	Caption  string
	MimeType string // optional; must agree with the image
	QuotedID string
}

// MediaSend is the body of a media send of any kind.
type MediaSend struct {
	Kind   MediaKind
	Source string // the file: http(s) URL, base64, or data: URL
	// Data is the file itself when it was uploaded (multipart/form-data);
	// Source is then empty. The limits and type checks are the same.
	Data     []byte
	Caption  string
	MimeType string // optional; must agree with the file
	FileName string // documents
	QuotedID string
	GIF      bool     // videos: play as a GIF
	PTT      bool     // audio: a voice note (Ogg/Opus only)
	Mentions []string // raw client strings (phone numbers or JIDs)
}

// BatchResult is one chat's outcome in a batch operation.
type BatchResult struct {
	ChatID  string // as the client gave it
	JID     string // normalised; "" when ChatID did not parse
	Err     error  // nil on success
	Message string // success text
}

// MessagingService is the domain service behind the messaging, chats and
// contacts endpoints (implemented by internal/messaging). Chat and contact
// ids are raw client strings (phone number, +phone, or JID); methods that
// act on a chat return its normalised JID. Errors are *Error values with
// the exact texts of chat-management.md.
type MessagingService interface {
	// SendText sends text, as a reply to quotedID when given, mentioning
	// the users in mentions (phone numbers or JIDs).
	SendText(ctx context.Context, sid uuid.UUID, to, text, quotedID string, mentions []string) (*Message, error)
	// SendTextWithPreview is SendText with a preview of the first URL of
	// the text when it can be fetched; without one (no URL, the fetch
	// failed) it sends the plain text.
	SendTextWithPreview(ctx context.Context, sid uuid.UUID, to, text, quotedID string, mentions []string) (*Message, error)
	SendImage(ctx context.Context, sid uuid.UUID, to string, img ImageSend) (*Message, error)
	// SendMedia sends a file of any media kind (SendImage is its image
	// case); the file is loaded, checked against the kind's types and size
	// limit, uploaded and sent. Sends to a recipient the session may not
	// message (trial keys) are CodeForbidden MsgRecipientNotAllowed or
	// MsgTrialExpired, like every send.
	SendMedia(ctx context.Context, sid uuid.UUID, to string, m MediaSend) (*Message, error)
	// MaxSendBytes is the largest file a media send of kind k accepts (0
	// for a kind it does not send): the limit belongs to the kind, so the
	// HTTP layer sizes a media route's body from it.
	MaxSendBytes(k MediaKind) int64
	// ContentSender sends locations, contact cards and polls.
	ContentSender
	Forwarder

	ListChats(ctx context.Context, sid uuid.UUID, f ChatFilter, p Page) ([]Chat, string, error)
	ListMessages(ctx context.Context, sid uuid.UUID, chatID string, p Page) (string, []Message, string, error)
	GetMessage(ctx context.Context, sid uuid.UUID, chatID, messageID string) (*Message, error)
	// MessageMedia downloads the file of a media message: CodeNotFound
	// MsgMessageNotFound / MsgNoMedia / MsgMediaGone, CodeTooLarge above
	// the configured maximum, and the session errors.
	MessageMedia(ctx context.Context, sid uuid.UUID, chatID, messageID string) (*MessageMedia, error)

	DeleteMessage(ctx context.Context, sid uuid.UUID, chatID, messageID string) error
	EditMessage(ctx context.Context, sid uuid.UUID, chatID, messageID, text string) error
	PinMessage(ctx context.Context, sid uuid.UUID, chatID, messageID, duration string) error
	UnpinMessage(ctx context.Context, sid uuid.UUID, chatID, messageID string) error
	// StarMessage returns MsgMessageStarred, for starring and unstarring
	// alike (the customer's document has one answer for both).
	StarMessage(ctx context.Context, sid uuid.UUID, chatID, messageID string, star *bool) (string, error)
	React(ctx context.Context, sid uuid.UUID, chatID, messageID, emoji string) error

	ArchiveChat(ctx context.Context, sid uuid.UUID, chatID string, archive bool) (string, error)
	MarkChatUnread(ctx context.Context, sid uuid.UUID, chatID string) (string, error)
	DeleteChat(ctx context.Context, sid uuid.UUID, chatID string) (string, error)
	BatchArchive(ctx context.Context, sid uuid.UUID, chatIDs []string, archive bool) ([]BatchResult, error)

	BlockContact(ctx context.Context, sid uuid.UUID, jid string, block bool) (string, error)
	ProfilePicture(ctx context.Context, sid uuid.UUID, jid string) (string, *string, error)
}
