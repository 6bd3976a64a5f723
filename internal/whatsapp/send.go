package whatsapp

import (
	"bytes"
	"context"
	"time"

	"github.com/google/uuid"
	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
	"google.golang.org/protobuf/proto"

	"github.com/wagate-dev/wagate/internal/gateway"
	"github.com/wagate-dev/wagate/internal/waid"
)

// This file, chatops.go, contacts.go, inbound.go and history.go implement
// gateway.MessagingRuntime and the inbound side of the message store.

var _ gateway.MessagingRuntime = (*Manager)(nil)

// parseChat turns a canonical chat JID string into whatsmeow's JID.
func parseChat(jid string) (types.JID, error) {
	j, err := types.ParseJID(jid)
	if err != nil || j.User == "" {
		return types.EmptyJID, gateway.Errorf(gateway.CodeInvalid, "Invalid chat JID %q", jid)
	}
	return j.ToNonAD(), nil
}

// ResolveChat implements gateway.MessagingRuntime with the LID map that
// whatsmeow keeps for every session (it is shared by the devices of this
// process, so no connection is needed).
func (m *Manager) ResolveChat(ctx context.Context, _ uuid.UUID, jid string) (gateway.ChatRef, error) {
	j, err := parseChat(jid)
	if err != nil {
		return gateway.ChatRef{}, err
	}
	return m.chatRef(ctx, j), nil
}

// chatRef canonicalises a chat or user JID (waid.CanonicalChat decides:
// the phone JID when the number is known, with the LID as alias).
func (m *Manager) chatRef(ctx context.Context, j types.JID) gateway.ChatRef {
	return m.chatRefAlt(ctx, j, types.EmptyJID)
}

// chatRefAlt is chatRef with the other address of the same user that the
// event carried (a LID-addressed message's SenderAlt or RecipientAlt).
func (m *Manager) chatRefAlt(ctx context.Context, j, alt types.JID) gateway.ChatRef {
	s := j.ToNonAD().String()
	chat, ok := waid.FromJIDString(s)
	if !ok {
		return gateway.ChatRef{JID: s} // not a JID kind wagate models
	}
	return waid.CanonicalChat(ctx, chat, toWAID(alt), lidMap{m.container.LIDMap})
}

// userJID canonicalises a user (sender) JID to its phone form when known
// (waid.CanonicalUser decides).
func (m *Manager) userJID(ctx context.Context, j, alt types.JID) string {
	s := j.ToNonAD().String()
	user, ok := waid.FromJIDString(s)
	if !ok {
		return s
	}
	return waid.CanonicalUser(ctx, user, toWAID(alt), lidMap{m.container.LIDMap}).String()
}

// toWAID converts a whatsmeow JID; the zero JID when it is empty or of a
// kind wagate does not model.
func toWAID(j types.JID) waid.JID {
	if j.IsEmpty() {
		return waid.JID{}
	}
	w, _ := waid.FromJIDString(j.ToNonAD().String())
	return w
}

// lidMap is whatsmeow's LID store as a waid.LIDMap; lookup errors count
// as unknown (the JID then stays as it is, and the store merges later).
type lidMap struct {
	s interface {
		GetPNForLID(ctx context.Context, lid types.JID) (types.JID, error)
		GetLIDForPN(ctx context.Context, pn types.JID) (types.JID, error)
	}
}

// PhoneForLID implements waid.LIDMap.
func (l lidMap) PhoneForLID(ctx context.Context, lid waid.JID) (waid.JID, bool) {
	pn, err := l.s.GetPNForLID(ctx, types.NewJID(lid.User, types.HiddenUserServer))
	if err != nil || pn.IsEmpty() {
		return waid.JID{}, false
	}
	return waid.FromJIDString(pn.ToNonAD().String())
}

// LIDForPhone implements waid.LIDMap.
func (l lidMap) LIDForPhone(ctx context.Context, phone waid.JID) (waid.JID, bool) {
	lid, err := l.s.GetLIDForPN(ctx, types.NewJID(phone.User, types.DefaultUserServer))
	if err != nil || lid.IsEmpty() {
		return waid.JID{}, false
	}
	return waid.FromJIDString(lid.ToNonAD().String())
}

// OwnJID implements gateway.MessagingRuntime.
func (m *Manager) OwnJID(_ context.Context, sid uuid.UUID) (string, error) {
	cli, err := m.client(sid)
	if err != nil {
		return "", err
	}
	return ownPN(cli), nil
}

// sentMessage is what WhatsApp accepted of a send to chat, with the own
// LID and the recipient's LID where known (issue 15).
func (m *Manager) sentMessage(ctx context.Context, cli *whatsmeow.Client, resp whatsmeow.SendResponse, chat gateway.ChatRef) gateway.SentMessage {
	return gateway.SentMessage{ID: resp.ID, Timestamp: resp.Timestamp.UTC(), Sender: ownPN(cli),
		SenderLID: ownLID(cli), ChatLID: m.chatLID(ctx, cli, chat), Chat: chat}
}

// ownLID is the account's own LID, "" when not known.
func ownLID(cli *whatsmeow.Client) string {
	if lid := cli.Store.GetLID(); !lid.IsEmpty() {
		return lid.ToNonAD().String()
	}
	return ""
}

// chatLID is the LID of a 1:1 chat's contact where known: the chat itself
// when LID-addressed, its LID alias, else the session's LID map (which
// whatsmeow fills from usync while sending). Groups have none.
func (m *Manager) chatLID(ctx context.Context, cli *whatsmeow.Client, chat gateway.ChatRef) string {
	for _, j := range chat.All() {
		if jid, err := types.ParseJID(j); err == nil && jid.Server == types.HiddenUserServer {
			return jid.ToNonAD().String()
		}
	}
	jid, err := types.ParseJID(chat.JID)
	if err != nil || jid.Server != types.DefaultUserServer {
		return ""
	}
	if lid, err := cli.Store.LIDs.GetLIDForPN(ctx, jid.ToNonAD()); err == nil && !lid.IsEmpty() {
		return lid.ToNonAD().String()
	}
	return ""
}

func ownPN(cli *whatsmeow.Client) string {
	if cli.Store.ID == nil {
		return ""
	}
	return cli.Store.ID.ToNonAD().String()
}

// quoteContext is the ContextInfo of a reply to q (a stored message).
func quoteContext(cli *whatsmeow.Client, chat types.JID, q *gateway.Message) *waE2E.ContextInfo {
	if q == nil {
		return nil
	}
	participant := q.Sender
	if q.FromMe || participant == "" {
		participant = ownPN(cli)
	}
	ci := &waE2E.ContextInfo{
		StanzaID:    proto.String(q.ID),
		Participant: proto.String(participant),
	}
	quoted := &waE2E.Message{}
	text := ""
	if q.Text != nil {
		text = *q.Text
	}
	switch q.Type {
	case gateway.TypeImage:
		quoted.ImageMessage = &waE2E.ImageMessage{Caption: proto.String(text)}
	default:
		quoted.Conversation = proto.String(text)
	}
	ci.QuotedMessage = quoted
	if chat.Server == types.GroupServer {
		ci.RemoteJID = proto.String(chat.String())
	}
	return ci
}

// sendOp runs a SendMessage on the session's client and translates its
// error.
func (m *Manager) sendOp(ctx context.Context, sid uuid.UUID, chatJID string, build func(cli *whatsmeow.Client, chat types.JID) *waE2E.Message) (whatsmeow.SendResponse, *whatsmeow.Client, error) {
	cli, err := m.client(sid)
	if err != nil {
		return whatsmeow.SendResponse{}, nil, err
	}
	chat, err := parseChat(chatJID)
	if err != nil {
		return whatsmeow.SendResponse{}, nil, err
	}
	lctx, release := withSignalLease(ctx) // signallock.go
	resp, err := cli.SendMessage(lctx, chat, build(cli, chat), whatsmeow.SendRequestExtra{Timeout: m.opts.SendAckTimeout})
	release()
	if err != nil {
		return resp, cli, translateSendError(err)
	}
	if resp.Timestamp.IsZero() {
		resp.Timestamp = time.Now()
	}
	return resp, cli, nil
}

// SendText implements gateway.MessagingRuntime.
func (m *Manager) SendText(ctx context.Context, sid uuid.UUID, o gateway.OutgoingText) (gateway.SentMessage, error) {
	resp, cli, err := m.sendOp(ctx, sid, o.Chat.JID, func(cli *whatsmeow.Client, chat types.JID) *waE2E.Message {
		if o.Quoted == nil && len(o.Mentions) == 0 && o.Preview == nil {
			return &waE2E.Message{Conversation: proto.String(o.Text)}
		}
		ci := quoteContext(cli, chat, o.Quoted)
		if len(o.Mentions) > 0 {
			if ci == nil {
				ci = &waE2E.ContextInfo{}
			}
			ci.MentionedJID = o.Mentions
		}
		et := &waE2E.ExtendedTextMessage{
			Text:        proto.String(o.Text),
			ContextInfo: ci,
		}
		if p := o.Preview; p != nil {
			// The fields WhatsApp's own clients fill for a link they
			// previewed: the URL as written, title, description and an
			// inline JPEG thumbnail (no uploaded high-quality one).
			et.MatchedText = proto.String(p.URL)
			et.Title = proto.String(p.Title)
			et.Description = proto.String(p.Description)
			et.PreviewType = waE2E.ExtendedTextMessage_NONE.Enum()
			if len(p.Thumbnail) > 0 {
				et.JPEGThumbnail = p.Thumbnail
				et.ThumbnailWidth, et.ThumbnailHeight = proto.Uint32(uint32(p.ThumbWidth)), proto.Uint32(uint32(p.ThumbHeight))
			}
		}
		return &waE2E.Message{ExtendedTextMessage: et}
	})
	if err != nil {
		return gateway.SentMessage{}, err
	}
	return m.sentMessage(ctx, cli, resp, o.Chat), nil
}

// uploadStreamMin is the file size from which an upload is encrypted into
// a temporary file instead of memory: whatsmeow's in-memory Upload holds
// the padded plaintext and the ciphertext (and copies it once more to
// append the MAC), UploadReader streams the encryption to the file and
// uploads from it, so a send holds the file once (docs/benchmarks.md).
const uploadStreamMin = 512 << 10

// upload encrypts and uploads data (whatsmeow), through a temporary file
// (only ever holding the encrypted bytes; removed afterwards) from
// uploadStreamMin on.
func upload(ctx context.Context, cli *whatsmeow.Client, data []byte, mt whatsmeow.MediaType) (whatsmeow.UploadResponse, error) {
	if len(data) < uploadStreamMin {
		return cli.Upload(ctx, data, mt)
	}
	return cli.UploadReader(ctx, bytes.NewReader(data), nil, mt)
}

// SendMedia implements gateway.MessagingRuntime: it uploads the file
// (encrypted with the key type of its kind, through whatsmeow's media
// connection), then sends the message of its kind (mediaMessages).
func (m *Manager) SendMedia(ctx context.Context, sid uuid.UUID, o gateway.OutgoingMedia) (gateway.SentMessage, error) {
	typ := gateway.MessageType(o.Kind)
	mt, ok := mediaTypes[typ]
	build, buildable := mediaMessages[o.Kind]
	if !ok || !buildable {
		return gateway.SentMessage{}, gateway.Errorf(gateway.CodeInvalid, "media kind %q is not supported", o.Kind)
	}
	cli, err := m.client(sid)
	if err != nil {
		return gateway.SentMessage{}, err
	}
	up, err := upload(ctx, cli, o.Data, mt)
	if err != nil {
		return gateway.SentMessage{}, translateUploadError(err)
	}
	resp, cli, err := m.sendOp(ctx, sid, o.Chat.JID, func(cli *whatsmeow.Client, chat types.JID) *waE2E.Message {
		return build(o, up, withMentions(quoteContext(cli, chat, o.Quoted), o.Mentions))
	})
	if err != nil {
		return gateway.SentMessage{}, err
	}
	sent := m.sentMessage(ctx, cli, resp, o.Chat)
	sent.Media = &gateway.MediaRef{
		Type: typ, DirectPath: up.DirectPath, MediaKey: up.MediaKey, FileSHA256: up.FileSHA256,
		FileEncSHA256: up.FileEncSHA256, FileLength: up.FileLength, MimeType: o.MimeType, FileName: o.FileName,
	}
	return sent, nil
}

// mediaMessages build the message of an uploaded file, one per media
// kind the adapter sends (the upload's key type is in mediaTypes).
var mediaMessages = map[gateway.MediaKind]func(o gateway.OutgoingMedia, up whatsmeow.UploadResponse, ci *waE2E.ContextInfo) *waE2E.Message{
	gateway.MediaImage:    imageMessage,
	gateway.MediaVideo:    videoMessage,    // media_kinds.go
	gateway.MediaAudio:    audioMessage,    // media_kinds.go
	gateway.MediaDocument: documentMessage, // media_kinds.go
	gateway.MediaSticker:  stickerMessage,  // media_kinds.go
}

func imageMessage(o gateway.OutgoingMedia, up whatsmeow.UploadResponse, ci *waE2E.ContextInfo) *waE2E.Message {
	img := &waE2E.ImageMessage{
		URL:           proto.String(up.URL),
		DirectPath:    proto.String(up.DirectPath),
		MediaKey:      up.MediaKey,
		FileEncSHA256: up.FileEncSHA256,
		FileSHA256:    up.FileSHA256,
		FileLength:    proto.Uint64(up.FileLength),
		Mimetype:      proto.String(o.MimeType),
		ContextInfo:   ci,
	}
	if o.Caption != "" {
		img.Caption = proto.String(o.Caption)
	}
	if o.Width > 0 && o.Height > 0 {
		img.Width, img.Height = proto.Uint32(uint32(o.Width)), proto.Uint32(uint32(o.Height))
	}
	return &waE2E.Message{ImageMessage: img}
}
