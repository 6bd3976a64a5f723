package wasim

import (
	"context"
	"slices"
	"sync"
	"time"

	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
)

// Kinds of Received messages.
const (
	KindText     = "text"
	KindEdit     = "edit"
	KindRevoke   = "revoke"
	KindReaction = "reaction"
	KindPin      = "pin"
	KindUnpin    = "unpin"
	KindImage    = "image"
	KindVideo    = "video"
	KindAudio    = "audio"
	KindDocument = "document"
	KindSticker  = "sticker"
	KindLocation = "location"
	KindContact  = "contact"
	KindPoll     = "poll"
	KindPollVote = "pollVote"
	KindPeer     = "peer"
	KindOther    = "other"
)

// Received is a message a simulated device decrypted.
type Received struct {
	ID string
	// From is the sender account's PN JID (non-AD); SenderDevice the exact device.
	From         string
	SenderDevice types.JID
	// Chat is the conversation: the group JID (…@g.us) for group
	// messages (then Encrypted is "skmsg"), for the phone's copies of 1:1
	// sends the DSM destination.
	Chat string
	// To is the stanza's "to" attribute as the client sent it.
	To string
	// PeerRecipientPN is the stanza's peer_recipient_pn attribute, if any.
	PeerRecipientPN string
	Kind            string
	Text            string
	// TargetID is the message an edit, revoke, reaction or pin refers to.
	TargetID           string
	Emoji              string
	PinDurationSeconds uint32
	Timestamp          time.Time
	// EditAttr is the stanza's edit attribute ("", "1", "2", "7", "8").
	EditAttr string
	// MsgType is the stanza's type attribute (text, media, reaction, ...).
	MsgType string
	// Encrypted is the Signal message type (pkmsg or msg).
	Encrypted string
	// Message is the decrypted protobuf (unwrapped from DeviceSentMessage).
	Message *waE2E.Message
	// Media is the decrypted attachment of a media message (image, video,
	// audio, document, sticker): the device downloaded the blob from the
	// simulator's media server, checked FileEncSHA256 and the MAC,
	// decrypted it with the message's media key and checked FileSHA256.
	Media []byte
	// MimeType is the attachment's declared MIME type.
	MimeType string
	// MediaError says why the attachment could not be downloaded or
	// decrypted (also recorded as a violation); "" when Media is valid.
	MediaError string
	// The fields of the other kinds (media_kinds.go).
	KindFields
}

// ReceiptRecord is a receipt a companion sent for a contact's message.
type ReceiptRecord struct {
	ID     string
	Type   string // "" (delivered), inactive, read, played, ...
	Device types.JID
}

// classify turns a decrypted message into a Received and applies the
// strict protocol checks. ok=false means it must not be delivered (e.g. a
// pin without edit="2").
func (s *Server) classify(msg *waE2E.Message, meta outMeta) (Received, bool) {
	r := Received{ID: meta.id, Timestamp: meta.t, EditAttr: meta.edit, MsgType: meta.msgType, Message: msg, Kind: KindOther}
	if em := msg.GetEditedMessage().GetMessage(); em != nil {
		msg = em
	}
	pm := msg.GetProtocolMessage()
	switch {
	case pm != nil && pm.GetType() == waE2E.ProtocolMessage_MESSAGE_EDIT:
		r.Kind = KindEdit
		r.TargetID = pm.GetKey().GetID()
		r.Text = textOf(pm.GetEditedMessage())
		if meta.edit != "1" {
			s.violation("edit of %s sent with edit=%q, want \"1\"", r.TargetID, meta.edit)
		}
	case pm != nil && pm.GetType() == waE2E.ProtocolMessage_REVOKE:
		r.Kind = KindRevoke
		r.TargetID = pm.GetKey().GetID()
		want := "8"
		if pm.GetKey().GetFromMe() {
			want = "7"
		}
		if meta.edit != want {
			s.violation("revoke of %s sent with edit=%q, want %q", r.TargetID, meta.edit, want)
		}
	case msg.GetReactionMessage() != nil:
		rm := msg.GetReactionMessage()
		r.Kind = KindReaction
		r.TargetID = rm.GetKey().GetID()
		r.Emoji = rm.GetText()
		if meta.msgType != "reaction" {
			s.violation("reaction to %s sent with type=%q, want \"reaction\"", r.TargetID, meta.msgType)
		}
		if rm.GetText() == "" && meta.edit != "7" {
			s.violation("reaction removal on %s sent with edit=%q, want \"7\"", r.TargetID, meta.edit)
		}
	case msg.GetPinInChatMessage() != nil:
		pin := msg.GetPinInChatMessage()
		r.TargetID = pin.GetKey().GetID()
		r.Kind = KindPin
		if pin.GetType() == waE2E.PinInChatMessage_UNPIN_FOR_ALL {
			r.Kind = KindUnpin
		}
		r.PinDurationSeconds = msg.GetMessageContextInfo().GetMessageAddOnDurationInSecs()
		if meta.edit != "2" {
			s.violation("%s of %s sent without edit=\"2\" (edit=%q): real WhatsApp ignores it", r.Kind, r.TargetID, meta.edit)
			return r, false
		}
	case msg.GetImageMessage() != nil:
		r.Kind = KindImage
		r.Text = msg.GetImageMessage().GetCaption()
		r.Caption = r.Text
		r.contextOf(msg.GetImageMessage().GetContextInfo())
		if meta.msgType != "media" {
			s.violation("image message %s sent with type=%q, want \"media\"", meta.id, meta.msgType)
		}
	case s.classifyKind(msg, meta, &r):
	case msg.GetConversation() != "" || msg.GetExtendedTextMessage() != nil:
		r.Kind = KindText
		r.Text = textOf(msg)
		r.contextOf(msg.GetExtendedTextMessage().GetContextInfo())
		if et := msg.GetExtendedTextMessage(); et.GetTitle() != "" || et.GetMatchedText() != "" {
			r.LinkTitle, r.LinkDescription, r.LinkURL = et.GetTitle(), et.GetDescription(), et.GetMatchedText()
			r.LinkThumbnail = len(et.GetJPEGThumbnail()) > 0
		}
		// A text with a link preview (a title) is a media message of
		// mediatype url on the wire, as WhatsApp's clients send it.
		want := "text"
		if et := msg.GetExtendedTextMessage(); et != nil && et.Title != nil {
			want = "media"
		}
		if meta.msgType != "" && meta.msgType != want {
			s.violation("text message %s sent with type=%q, want %q", meta.id, meta.msgType, want)
		}
	case pm != nil:
		r.Kind = KindPeer
	}
	return r, true
}

func textOf(m *waE2E.Message) string {
	if m.GetConversation() != "" {
		return m.GetConversation()
	}
	return m.GetExtendedTextMessage().GetText()
}

func (d *simDevice) record(r Received) {
	d.recvMu.Lock()
	d.received = append(d.received, r)
	close(d.notify)
	d.notify = make(chan struct{})
	d.recvMu.Unlock()
}

// Received returns everything the device decrypted, in order.
func (d *simDevice) Received() []Received {
	d.recvMu.Lock()
	defer d.recvMu.Unlock()
	return slices.Clone(d.received)
}

func (d *simDevice) waitReceived(ctx context.Context, pred func(Received) bool) (Received, error) {
	for {
		d.recvMu.Lock()
		for _, r := range d.received {
			if pred(r) {
				d.recvMu.Unlock()
				return r, nil
			}
		}
		ch := d.notify
		d.recvMu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return Received{}, ctx.Err()
		}
	}
}

// Contact is a simulated WhatsApp user with one device (its phone) that
// can message the accounts whose companions are under test.
type Contact struct {
	acct *account
	s    *Server

	mu       sync.Mutex
	receipts []ReceiptRecord
	polls    map[string]pollRecord // polls it received or sent, by id (media_kinds.go)
}

// Contact returns the simulated contact for a number, creating the account
// on first use (so usync reports it as on WhatsApp).
func (s *Server) Contact(number string) *Contact {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.accountLocked(number).contact
}

// JID returns the contact's phone-number JID.
func (c *Contact) JID() types.JID { return c.acct.pnJID() }

// LID returns the contact's LID JID.
func (c *Contact) LID() types.JID { return c.acct.lidJID() }

// SetPushName sets the name sent in the notify attribute.
func (c *Contact) SetPushName(name string) {
	c.s.mu.Lock()
	c.acct.pushName = name
	c.s.persistAccountLocked(c.acct)
	c.s.mu.Unlock()
}

// SetProfilePicture sets the URL returned for the contact's profile picture
// ("" means none: the server answers 404 item-not-found).
func (c *Contact) SetProfilePicture(url string) {
	c.s.mu.Lock()
	c.acct.pictureURL = url
	c.s.persistAccountLocked(c.acct)
	c.s.mu.Unlock()
}

// Received returns the messages the contact decrypted, in order.
func (c *Contact) Received() []Received { return c.acct.primary.Received() }

// WaitReceived waits until the contact decrypted a message matching pred.
func (c *Contact) WaitReceived(ctx context.Context, pred func(Received) bool) (Received, error) {
	return c.acct.primary.waitReceived(ctx, pred)
}

func (c *Contact) recordReceipt(ids []string, typ string, dev types.JID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, id := range ids {
		c.receipts = append(c.receipts, ReceiptRecord{ID: id, Type: typ, Device: dev})
	}
}

// Receipts returns the receipts companions sent for the contact's messages.
func (c *Contact) Receipts() []ReceiptRecord {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.receipts)
}
