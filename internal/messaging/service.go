// Package messaging is the domain service behind sending, the message store
// and the chat-management operations. It enforces the rules of
// chat-management.md (only own messages, time windows, text-only edits,
// pin durations, reactions), looks messages up within the given chat, and
// composes the message store (gateway.MessageStore) with the WhatsApp side
// (gateway.MessagingRuntime). Its inbound side (Sink, built before the
// runtime) is the runtime's inbound port: what WhatsApp delivers passes
// through it (retention and history cutoffs) to the store.
package messaging

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/rs/zerolog"

	"github.com/wagate-dev/wagate/internal/gateway"
	"github.com/wagate-dev/wagate/internal/waid"
)

// Page sizes.
const (
	DefaultPageSize = 50
	MaxPageSize     = 200
	MaxBatchChats   = 100
)

// Options configure a Service.
type Options struct {
	// Retention is the maximum age of stored messages; older ones are
	// removed periodically and never stored. 0 keeps messages forever.
	// WAGATE_MESSAGE_RETENTION. Defaults to 0.
	Retention time.Duration
	// HistorySyncDays is how far back messages from a history sync are
	// stored; 0 stores everything the phone sends (still subject to
	// Retention). WAGATE_HISTORY_SYNC_DAYS. Defaults to 0.
	HistorySyncDays int
	// Recipients gives the send restrictions of a session (trial keys,
	// policy.go). Required: without it every send fails.
	Recipients gateway.SendRestrictionStore
	// Media loads the files of media sends (every kind): whether URLs may
	// point to private addresses, and the HTTP client.
	Media MediaLoader
	// MaxSendBytes overrides the largest file of a media send per kind;
	// kinds not listed keep their default (mediaKinds). The image limit is
	// WAGATE_MAX_IMAGE_BODY_BYTES.
	MaxSendBytes map[gateway.MediaKind]int64
	// Images is the former, image-only form of Media and MaxSendBytes,
	// still honoured: its MaxBytes is the image limit unless MaxSendBytes
	// sets one, and its AllowPrivate and Client apply when Media is zero.
	Images ImageLoader
	// MaxMediaBytes is the largest media file GET …/media downloads (413
	// above). WAGATE_MAX_MEDIA_BYTES. Defaults to DefaultMaxMediaBytes.
	MaxMediaBytes int64
	// Now is the clock. Defaults to time.Now.
	Now func() time.Time
	// Log is the service's logger.
	Log zerolog.Logger
	// Groups, when set, lets a group admin delete other members' messages
	// for everyone (the service asks it whether the account is an admin).
	// Nil allows deleting own messages only.
	Groups gateway.GroupRuntime
	// Observer is told about messages received and sent (metrics). Nil
	// observes nothing.
	Observer Observer
}

// Observer counts message traffic; internal/metrics implements it.
type Observer interface {
	MessageReceived()
	MessageSent()
}

// Service implements the messaging use cases.
var _ gateway.MessagingService = (*Service)(nil)

type Service struct {
	store gateway.MessageStore
	wa    gateway.MessagingRuntime
	opts  Options
	log   zerolog.Logger
}

// New returns a Service.
func New(store gateway.MessageStore, wa gateway.MessagingRuntime, o Options) *Service {
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Service{store: store, wa: wa, opts: o, log: o.Log.With().Str("component", "messaging").Logger()}
}

func (s *Service) now() time.Time { return s.opts.Now() }

// resolve parses a chat id given in field and canonicalises it through the
// session's LID map.
func (s *Service) resolve(ctx context.Context, sid uuid.UUID, field, chatID string) (gateway.ChatRef, error) {
	j, err := waid.Parse(field, chatID)
	if err != nil {
		return gateway.ChatRef{}, err
	}
	return s.wa.ResolveChat(ctx, sid, j.String())
}

// message finds messageID within chatID.
func (s *Service) message(ctx context.Context, sid uuid.UUID, chatID, messageID string) (gateway.ChatRef, *gateway.Message, error) {
	ref, err := s.resolve(ctx, sid, "chatId", chatID)
	if err != nil {
		return ref, nil, err
	}
	if strings.TrimSpace(messageID) == "" {
		return ref, nil, gateway.E(gateway.CodeNotFound, gateway.MsgMessageNotFound)
	}
	m, err := s.store.GetMessage(ctx, sid, ref, messageID)
	if err != nil {
		return ref, nil, err
	}
	return ref, m, nil
}

// target finds messageID within chatID for an operation that sends a
// message into the chat (edit, delete for everyone, pin, reaction): the
// send policy applies (mayMessage).
func (s *Service) target(ctx context.Context, sid uuid.UUID, chatID, messageID string) (gateway.ChatRef, *gateway.Message, error) {
	ref, m, err := s.message(ctx, sid, chatID, messageID)
	if err != nil {
		return ref, nil, err
	}
	if err := s.mayMessage(ctx, sid, ref); err != nil {
		return ref, nil, err
	}
	return ref, m, nil
}

func validText(text string) bool { return strings.TrimSpace(text) != "" }

// SendText sends a text message, optionally as a reply to quotedID, and
// stores it.
func (s *Service) SendText(ctx context.Context, sid uuid.UUID, to, text, quotedID string, mentions []string) (*gateway.Message, error) {
	return s.sendText(ctx, sid, to, text, quotedID, mentions, false)
}

// SendTextWithPreview implements gateway.MessagingService: the text with a
// preview of its first URL when one can be made (preview.go), else plain.
func (s *Service) SendTextWithPreview(ctx context.Context, sid uuid.UUID, to, text, quotedID string, mentions []string) (*gateway.Message, error) {
	return s.sendText(ctx, sid, to, text, quotedID, mentions, true)
}

func (s *Service) sendText(ctx context.Context, sid uuid.UUID, to, text, quotedID string, mentions []string, preview bool) (*gateway.Message, error) {
	return s.send(ctx, sid, to, quotedID, func(ctx context.Context) (outgoing, error) {
		if !validText(text) {
			return outgoing{}, gateway.E(gateway.CodeInvalid, gateway.MsgTextRequired)
		}
		mentioned, err := parseMentions(mentions)
		if err != nil {
			return outgoing{}, err
		}
		var lp *gateway.LinkPreview
		if preview {
			lp = s.linkPreview(ctx, text)
		}
		return outgoing{
			content: gateway.Message{Type: gateway.TypeText, Text: &text},
			deliver: func(ctx context.Context, ref gateway.ChatRef, quoted *gateway.Message) (gateway.SentMessage, error) {
				return s.wa.SendText(ctx, sid, gateway.OutgoingText{Chat: ref, Text: text, Quoted: quoted, Mentions: mentioned, Preview: lp})
			},
		}, nil
	})
}

// outgoing is one message of a send: what it stores (type, text, MIME
// type) and how it goes to WhatsApp.
type outgoing struct {
	content gateway.Message
	deliver func(ctx context.Context, ref gateway.ChatRef, quoted *gateway.Message) (gateway.SentMessage, error)
}

// send is the one path of every message send (text, every media kind,
// replies): it resolves the recipient, applies the send policy (mayMessage)
// before anything is loaded or sent, builds the message (validating and
// loading its content), finds the quoted message, delivers it and stores
// what WhatsApp accepted. A new kind of send is one build function.
func (s *Service) send(ctx context.Context, sid uuid.UUID, to, quotedID string, build func(context.Context) (outgoing, error)) (*gateway.Message, error) {
	ref, err := s.resolve(ctx, sid, "to", to)
	if err != nil {
		return nil, err
	}
	if err := s.mayMessage(ctx, sid, ref); err != nil {
		return nil, err
	}
	out, err := build(ctx)
	if err != nil {
		return nil, err
	}
	quoted, err := s.quoted(ctx, sid, ref, quotedID)
	if err != nil {
		return nil, err
	}
	sent, err := out.deliver(ctx, ref, quoted)
	if err != nil {
		return nil, err
	}
	m := out.content
	m.ID, m.ChatJID, m.Sender, m.FromMe, m.Timestamp = sent.ID, ref.JID, sent.Sender, true, sent.Timestamp
	m.Reactions, m.Media = []gateway.Reaction{}, sent.Media
	if sent.SenderLID != "" {
		m.SenderLID = &sent.SenderLID
	}
	if sent.ChatLID != "" {
		m.ToLID = &sent.ChatLID
	}
	if sent.Media != nil && sent.Media.FileLength > 0 && m.FileSize == nil {
		n := int64(sent.Media.FileLength)
		m.FileSize = &n
	}
	if quoted != nil {
		m.QuotedID = &quoted.ID
	}
	s.saveSent(ctx, sid, m)
	return &m, nil
}

// SendImage loads, uploads and sends an image, and stores the message.
func (s *Service) SendImage(ctx context.Context, sid uuid.UUID, to string, r gateway.ImageSend) (*gateway.Message, error) {
	return s.SendMedia(ctx, sid, to, gateway.MediaSend{
		Kind: gateway.MediaImage, Source: r.Image, Caption: r.Caption, MimeType: r.MimeType, QuotedID: r.QuotedID,
	})
}

// SendMedia loads the file of a media send (URL, base64 or data: URL),
// checks it is of the kind's types and within the kind's size limit,
// uploads and sends it, and stores the message.
func (s *Service) SendMedia(ctx context.Context, sid uuid.UUID, to string, r gateway.MediaSend) (*gateway.Message, error) {
	kind, err := s.kind(r.Kind)
	if err != nil {
		return nil, err
	}
	return s.send(ctx, sid, to, r.QuotedID, func(ctx context.Context) (outgoing, error) {
		mentions, err := checkMediaSend(r)
		if err != nil {
			return outgoing{}, err
		}
		f, err := s.loader().loadSend(ctx, kind, r)
		if err != nil {
			return outgoing{}, err
		}
		if err := checkMediaFile(r, f); err != nil {
			return outgoing{}, err
		}
		mime := f.MimeType
		content := gateway.Message{Type: kind.msgType, MimeType: &mime}
		content.MessageContent = sentMediaContent(r, f.Width, f.Height) // content.go
		seconds := 0
		if r.Kind == gateway.MediaVideo || r.Kind == gateway.MediaAudio {
			seconds = mediaSeconds(f.MimeType, f.Data) // duration.go
		}
		if seconds > 0 {
			content.Duration = &seconds
		}
		if r.Caption != "" {
			c := r.Caption
			content.Text = &c
		}
		return outgoing{
			content: content,
			deliver: func(ctx context.Context, ref gateway.ChatRef, quoted *gateway.Message) (gateway.SentMessage, error) {
				return s.wa.SendMedia(ctx, sid, gateway.OutgoingMedia{
					Chat: ref, Kind: r.Kind, Data: f.Data, MimeType: f.MimeType, Caption: r.Caption,
					FileName: r.FileName, Quoted: quoted, Width: f.Width, Height: f.Height,
					GIF: r.GIF, PTT: r.PTT, Mentions: mentions, Seconds: seconds,
				})
			},
		}, nil
	})
}

func (s *Service) quoted(ctx context.Context, sid uuid.UUID, ref gateway.ChatRef, id string) (*gateway.Message, error) {
	if id == "" {
		return nil, nil
	}
	m, err := s.store.GetMessage(ctx, sid, ref, id)
	if gateway.ErrorCode(err) == gateway.CodeNotFound {
		m, err = s.store.FindMessage(ctx, sid, id)
	}
	if gateway.ErrorCode(err) == gateway.CodeNotFound {
		return nil, gateway.E(gateway.CodeNotFound, gateway.MsgQuotedNotFound)
	}
	return m, err
}

// saveSent stores a message that WhatsApp accepted. The send already
// happened, so a storage failure is logged rather than reported: reporting
// it would make clients send again.
func (s *Service) saveSent(ctx context.Context, sid uuid.UUID, m gateway.Message) {
	if s.opts.Observer != nil {
		s.opts.Observer.MessageSent()
	}
	ctx = context.WithoutCancel(ctx)
	if err := s.store.SaveSent(ctx, sid, m); err != nil {
		s.log.Error().Err(err).Str("session_id", sid.String()).Str("message_id", m.ID).Msg("could not store sent message")
	}
}

// applyOwn stores the effect of an operation WhatsApp accepted; like
// saveSent, a failure is logged.
func (s *Service) applyOwn(ctx context.Context, sid uuid.UUID, c gateway.InboundChange) {
	ctx = context.WithoutCancel(ctx)
	c.FromMe = true
	if c.Timestamp.IsZero() {
		c.Timestamp = s.now()
	}
	if err := s.store.ApplyChanges(ctx, sid, []gateway.InboundChange{c}); err != nil {
		s.log.Error().Err(err).Str("session_id", sid.String()).Str("change", string(c.Kind)).Msg("could not store own change")
	}
}

// DeleteMessage revokes one of the session's own messages for everyone,
// within DeleteWindow of sending.
func (s *Service) DeleteMessage(ctx context.Context, sid uuid.UUID, chatID, messageID string) error {
	ref, m, err := s.target(ctx, sid, chatID, messageID)
	if err != nil {
		return err
	}
	if s.now().Sub(m.Timestamp) > gateway.DeleteWindow {
		return gateway.E(gateway.CodeUnprocessable, gateway.MsgCannotDelete)
	}
	if !m.FromMe {
		admin, err := s.groupAdmin(ctx, sid, ref.JID)
		if err != nil {
			return err
		}
		if !admin {
			return gateway.E(gateway.CodeUnprocessable, gateway.MsgCannotDelete)
		}
	}
	if m.Revoked {
		return nil // already deleted for everyone: nothing left to do
	}
	if err := s.wa.Revoke(ctx, sid, m.Key()); err != nil {
		return err
	}
	s.applyOwn(ctx, sid, gateway.InboundChange{Kind: gateway.ChangeRevoke, Chat: ref, TargetID: m.ID, Sender: m.Sender})
	return nil
}

// groupAdmin reports whether the account is an admin of the group chat
// (false for other chats, or without Options.Groups): WhatsApp lets group
// admins delete any member's message for everyone.
func (s *Service) groupAdmin(ctx context.Context, sid uuid.UUID, chat string) (bool, error) {
	if s.opts.Groups == nil || !waid.IsGroup(chat) {
		return false, nil
	}
	own, err := s.wa.OwnJID(ctx, sid)
	if err != nil {
		return false, err
	}
	g, err := s.opts.Groups.GroupInfo(ctx, sid, chat)
	if err != nil {
		if gateway.ErrorCode(err) == gateway.CodeForbidden || gateway.ErrorCode(err) == gateway.CodeNotFound {
			return false, nil // no longer a member: not an admin
		}
		return false, err
	}
	for _, p := range g.Participants {
		if p.JID == own {
			return p.Role == gateway.RoleAdmin || p.Role == gateway.RoleSuperAdmin, nil
		}
	}
	return false, nil
}

// EditMessage replaces the text of one of the session's own text
// messages, within EditWindow of sending.
func (s *Service) EditMessage(ctx context.Context, sid uuid.UUID, chatID, messageID, text string) error {
	if !validText(text) {
		return gateway.E(gateway.CodeInvalid, gateway.MsgTextRequired)
	}
	ref, m, err := s.target(ctx, sid, chatID, messageID)
	if err != nil {
		return err
	}
	if !m.FromMe || m.Revoked || m.Type != gateway.TypeText || s.now().Sub(m.Timestamp) > gateway.EditWindow {
		return gateway.E(gateway.CodeUnprocessable, gateway.MsgCannotEdit)
	}
	ts, err := s.wa.Edit(ctx, sid, m.Key(), text)
	if err != nil {
		return err
	}
	s.applyOwn(ctx, sid, gateway.InboundChange{Kind: gateway.ChangeEdit, Chat: ref, TargetID: m.ID, Sender: m.Sender, Text: text, Timestamp: ts})
	return nil
}

// PinMessage pins a message for duration ("24h", "7d", "30d"; "" means
// 24h).
func (s *Service) PinMessage(ctx context.Context, sid uuid.UUID, chatID, messageID, duration string) error {
	d := gateway.DefaultPinDuration
	if duration != "" {
		var ok bool
		if d, ok = gateway.PinDurations[duration]; !ok {
			return gateway.E(gateway.CodeInvalid, gateway.MsgBadPinDuration)
		}
	}
	return s.pin(ctx, sid, chatID, messageID, d)
}

// UnpinMessage unpins a message.
func (s *Service) UnpinMessage(ctx context.Context, sid uuid.UUID, chatID, messageID string) error {
	return s.pin(ctx, sid, chatID, messageID, 0)
}

func (s *Service) pin(ctx context.Context, sid uuid.UUID, chatID, messageID string, d time.Duration) error {
	ref, m, err := s.target(ctx, sid, chatID, messageID)
	if err != nil {
		return err
	}
	if m.Revoked {
		return gateway.E(gateway.CodeNotFound, gateway.MsgMessageNotFound)
	}
	ts, err := s.wa.Pin(ctx, sid, m.Key(), d)
	if err != nil {
		return err
	}
	c := gateway.InboundChange{Kind: gateway.ChangePin, Chat: ref, TargetID: m.ID, Timestamp: ts}
	if d > 0 {
		until := ts.Add(d)
		c.Until = &until
	}
	s.applyOwn(ctx, sid, c)
	return nil
}

// StarMessage stars (star nil or true) or unstars a message and returns
// the success text.
func (s *Service) StarMessage(ctx context.Context, sid uuid.UUID, chatID, messageID string, star *bool) (string, error) {
	on := star == nil || *star
	ref, m, err := s.message(ctx, sid, chatID, messageID)
	if err != nil {
		return "", err
	}
	if m.Revoked {
		return "", gateway.E(gateway.CodeNotFound, gateway.MsgMessageNotFound)
	}
	if err := s.wa.Star(ctx, sid, m.Key(), on); err != nil {
		return "", err
	}
	s.applyOwn(ctx, sid, gateway.InboundChange{Kind: gateway.ChangeStar, Chat: ref, TargetID: m.ID, Flag: on})
	// The customer's document gives one answer for both directions.
	return gateway.MsgMessageStarred, nil
}

// React sets the session's reaction to a message; emoji "" removes it.
func (s *Service) React(ctx context.Context, sid uuid.UUID, chatID, messageID, emoji string) error {
	if !ValidReaction(emoji) {
		return gateway.E(gateway.CodeInvalid, gateway.MsgBadEmoji)
	}
	ref, m, err := s.target(ctx, sid, chatID, messageID)
	if err != nil {
		return err
	}
	if m.Revoked {
		return gateway.E(gateway.CodeNotFound, gateway.MsgMessageNotFound)
	}
	ts, err := s.wa.React(ctx, sid, m.Key(), emoji)
	if err != nil {
		return err
	}
	own, err := s.wa.OwnJID(ctx, sid)
	if err != nil {
		own = ""
	}
	s.applyOwn(ctx, sid, gateway.InboundChange{Kind: gateway.ChangeReaction, Chat: ref, TargetID: m.ID, Sender: own, Emoji: emoji, Timestamp: ts})
	return nil
}

// ArchiveChat archives (archive true) or unarchives a chat and returns its
// normalised JID.
func (s *Service) ArchiveChat(ctx context.Context, sid uuid.UUID, chatID string, archive bool) (string, error) {
	ref, err := s.resolve(ctx, sid, "chatId", chatID)
	if err != nil {
		return "", err
	}
	return ref.JID, s.archive(ctx, sid, ref, archive)
}

func (s *Service) archive(ctx context.Context, sid uuid.UUID, ref gateway.ChatRef, archive bool) error {
	chat, err := s.store.GetChat(ctx, sid, ref)
	if err != nil {
		return err
	}
	if err := s.wa.Archive(ctx, sid, *chat, archive); err != nil {
		return err
	}
	s.applyOwn(ctx, sid, gateway.InboundChange{Kind: gateway.ChangeArchive, Chat: ref, Flag: archive})
	return nil
}

// MarkChatUnread marks a chat unread and returns its normalised JID.
func (s *Service) MarkChatUnread(ctx context.Context, sid uuid.UUID, chatID string) (string, error) {
	ref, err := s.resolve(ctx, sid, "chatId", chatID)
	if err != nil {
		return "", err
	}
	chat, err := s.store.GetChat(ctx, sid, ref)
	if err != nil {
		return "", err
	}
	if err := s.wa.MarkUnread(ctx, sid, *chat); err != nil {
		return "", err
	}
	s.applyOwn(ctx, sid, gateway.InboundChange{Kind: gateway.ChangeMarkUnread, Chat: ref, Flag: true})
	return ref.JID, nil
}

// DeleteChat deletes a chat on every device of the account and its stored
// messages, and returns its normalised JID.
func (s *Service) DeleteChat(ctx context.Context, sid uuid.UUID, chatID string) (string, error) {
	ref, err := s.resolve(ctx, sid, "chatId", chatID)
	if err != nil {
		return "", err
	}
	chat, err := s.store.GetChat(ctx, sid, ref)
	if err != nil {
		return "", err
	}
	if err := s.wa.DeleteChat(ctx, sid, *chat); err != nil {
		return "", err
	}
	s.applyOwn(ctx, sid, gateway.InboundChange{Kind: gateway.ChangeDeleteChat, Chat: ref})
	return ref.JID, nil
}

// BatchArchive archives or unarchives many chats one after the other (app
// state patches are sequential per collection anyway) and reports each.
func (s *Service) BatchArchive(ctx context.Context, sid uuid.UUID, chatIDs []string, archive bool) ([]gateway.BatchResult, error) {
	if len(chatIDs) == 0 || len(chatIDs) > MaxBatchChats {
		return nil, gateway.Errorf(gateway.CodeInvalid, "chatIds must list 1 to %d chats", MaxBatchChats)
	}
	msg := gateway.MsgChatUnarchived
	if archive {
		msg = gateway.MsgChatArchived
	}
	out := make([]gateway.BatchResult, 0, len(chatIDs))
	for _, id := range chatIDs {
		r := gateway.BatchResult{ChatID: id}
		ref, err := s.resolve(ctx, sid, "chatId", id)
		if err == nil {
			r.JID = ref.JID
			err = s.archive(ctx, sid, ref, archive)
		}
		if err != nil {
			// A session-level failure (unknown session, not linked, still
			// connecting) means no chat can succeed: fail the call, unless
			// some chats already succeeded and must be reported.
			if sessionLevel(err) && len(out) == 0 {
				return nil, err
			}
			r.Err = err
		} else {
			r.Message = msg
		}
		out = append(out, r)
		if ctx.Err() != nil {
			break
		}
	}
	return out, nil
}

func sessionLevel(err error) bool {
	switch gateway.ErrorCode(err) {
	case gateway.CodeConflict, gateway.CodeUnavailable:
		return true
	case gateway.CodeNotFound:
		return gateway.ErrorMessage(err) == gateway.MsgSessionNotFound
	}
	return false
}

// BlockContact blocks (block true) or unblocks a user and returns its
// normalised JID.
func (s *Service) BlockContact(ctx context.Context, sid uuid.UUID, jid string, block bool) (string, error) {
	ref, err := s.resolve(ctx, sid, "jid", jid)
	if err != nil {
		return "", err
	}
	if waid.IsGroup(ref.JID) {
		return "", gateway.E(gateway.CodeInvalid, "jid must be a contact (phone number or user JID), not a group")
	}
	return ref.JID, s.wa.Block(ctx, sid, ref.JID, block)
}

// ProfilePicture returns a contact's (or group's) normalised JID and its
// picture URL, nil when there is none.
func (s *Service) ProfilePicture(ctx context.Context, sid uuid.UUID, jid string) (string, *string, error) {
	ref, err := s.resolve(ctx, sid, "jid", jid)
	if err != nil {
		return "", nil, err
	}
	url, err := s.wa.ProfilePictureURL(ctx, sid, ref.JID)
	return ref.JID, url, err
}

func normPage(p gateway.Page) gateway.Page {
	if p.Limit <= 0 {
		p.Limit = DefaultPageSize
	}
	if p.Limit > MaxPageSize {
		p.Limit = MaxPageSize
	}
	return p
}

// ListChats lists the session's chats, most recent first.
func (s *Service) ListChats(ctx context.Context, sid uuid.UUID, f gateway.ChatFilter, p gateway.Page) ([]gateway.Chat, string, error) {
	return s.store.ListChats(ctx, sid, f, normPage(p))
}

// ListMessages lists a chat's messages, newest first.
func (s *Service) ListMessages(ctx context.Context, sid uuid.UUID, chatID string, p gateway.Page) (string, []gateway.Message, string, error) {
	ref, err := s.resolve(ctx, sid, "chatId", chatID)
	if err != nil {
		return "", nil, "", err
	}
	msgs, next, err := s.store.ListMessages(ctx, sid, ref, normPage(p))
	return ref.JID, msgs, next, err
}

// GetMessage returns one message of a chat.
func (s *Service) GetMessage(ctx context.Context, sid uuid.UUID, chatID, messageID string) (*gateway.Message, error) {
	_, m, err := s.message(ctx, sid, chatID, messageID)
	return m, err
}

// DefaultMaxMediaBytes is the default largest media download.
const DefaultMaxMediaBytes = 64 << 20

// MessageMedia downloads the file of a media message of a chat through the
// session's WhatsApp connection.
func (s *Service) MessageMedia(ctx context.Context, sid uuid.UUID, chatID, messageID string) (*gateway.MessageMedia, error) {
	ref, m, err := s.message(ctx, sid, chatID, messageID)
	if err != nil {
		return nil, err
	}
	if m.Revoked || m.Media == nil || m.Media.DirectPath == "" {
		return nil, gateway.E(gateway.CodeNotFound, gateway.MsgNoMedia)
	}
	max := s.opts.MaxMediaBytes
	if max <= 0 {
		max = DefaultMaxMediaBytes
	}
	if m.Media.FileLength > uint64(max) {
		return nil, mediaTooLarge(max)
	}
	data, err := s.wa.DownloadMedia(ctx, sid, *m.Media)
	if ge := (*gateway.Error)(nil); errors.As(err, &ge) && ge.Code == gateway.CodeNotFound && ge.Message == gateway.MsgMediaGone {
		data, err = s.recoverMedia(ctx, sid, ref, m, err)
	}
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > max { // FileLength was unknown or wrong
		return nil, mediaTooLarge(max)
	}
	out := &gateway.MessageMedia{Data: data, MimeType: m.Media.MimeType, FileName: m.Media.FileName}
	if out.MimeType == "" && m.MimeType != nil {
		out.MimeType = *m.MimeType
	}
	return out, nil
}

// recoverMedia is the download of media WhatsApp's servers no longer have
// (gone: the download's error): the phone is asked to upload it again
// (the runtime's MediaRecoverer, bounded), the new direct path is stored
// and the file downloaded from it. Without a recoverer, gone stays gone.
func (s *Service) recoverMedia(ctx context.Context, sid uuid.UUID, ref gateway.ChatRef, m *gateway.Message, gone error) ([]byte, error) {
	rec, ok := s.wa.(gateway.MediaRecoverer)
	if !ok {
		return nil, gone
	}
	dp, err := rec.RecoverMedia(ctx, sid, m)
	if err != nil {
		s.log.Info().Err(err).Str("session_id", sid.String()).Str("message_id", m.ID).Msg("expired media not recovered")
		return nil, err
	}
	if ps, ok := s.store.(gateway.MediaPathStore); ok {
		if err := ps.SetMediaPath(ctx, sid, ref, m.ID, dp); err != nil {
			// The file is served all the same; the next download asks again.
			s.log.Warn().Err(err).Str("message_id", m.ID).Msg("could not store the re-uploaded media's path")
		}
	}
	media := *m.Media
	media.DirectPath = dp
	return s.wa.DownloadMedia(ctx, sid, media)
}

func mediaTooLarge(max int64) error {
	return gateway.Errorf(gateway.CodeTooLarge, "The media is larger than this server's limit of %d bytes (WAGATE_MAX_MEDIA_BYTES)", max)
}
