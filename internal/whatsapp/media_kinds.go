package whatsapp

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
	"google.golang.org/protobuf/proto"

	"github.com/wagate-dev/wagate/internal/gateway"
)

// The message builders of the media kinds beyond images (registered in
// mediaMessages) and of the kinds without a file (SendContent).

// withMentions adds mentioned user JIDs to a message's context (nil when
// there is neither a quote nor a mention).
func withMentions(ci *waE2E.ContextInfo, mentions []string) *waE2E.ContextInfo {
	if len(mentions) == 0 {
		return ci
	}
	if ci == nil {
		ci = &waE2E.ContextInfo{}
	}
	ci.MentionedJID = append([]string(nil), mentions...)
	return ci
}

func videoMessage(o gateway.OutgoingMedia, up whatsmeow.UploadResponse, ci *waE2E.ContextInfo) *waE2E.Message {
	v := &waE2E.VideoMessage{
		URL: proto.String(up.URL), DirectPath: proto.String(up.DirectPath), MediaKey: up.MediaKey,
		FileEncSHA256: up.FileEncSHA256, FileSHA256: up.FileSHA256, FileLength: proto.Uint64(up.FileLength),
		Mimetype: proto.String(o.MimeType), ContextInfo: ci,
	}
	if o.Caption != "" {
		v.Caption = proto.String(o.Caption)
	}
	if o.GIF {
		v.GifPlayback = proto.Bool(true)
	}
	if o.Seconds > 0 {
		v.Seconds = proto.Uint32(uint32(o.Seconds))
	}
	if o.Width > 0 && o.Height > 0 {
		v.Width, v.Height = proto.Uint32(uint32(o.Width)), proto.Uint32(uint32(o.Height))
	}
	return &waE2E.Message{VideoMessage: v}
}

func audioMessage(o gateway.OutgoingMedia, up whatsmeow.UploadResponse, ci *waE2E.ContextInfo) *waE2E.Message {
	mime := o.MimeType
	if mime == "audio/ogg" {
		mime = "audio/ogg; codecs=opus" // what phones send and expect for Opus
	}
	a := &waE2E.AudioMessage{
		URL: proto.String(up.URL), DirectPath: proto.String(up.DirectPath), MediaKey: up.MediaKey,
		FileEncSHA256: up.FileEncSHA256, FileSHA256: up.FileSHA256, FileLength: proto.Uint64(up.FileLength),
		Mimetype: proto.String(mime), ContextInfo: ci,
	}
	if o.PTT {
		a.PTT = proto.Bool(true)
	}
	if o.Seconds > 0 {
		a.Seconds = proto.Uint32(uint32(o.Seconds))
	}
	return &waE2E.Message{AudioMessage: a}
}

func documentMessage(o gateway.OutgoingMedia, up whatsmeow.UploadResponse, ci *waE2E.ContextInfo) *waE2E.Message {
	d := &waE2E.DocumentMessage{
		URL: proto.String(up.URL), DirectPath: proto.String(up.DirectPath), MediaKey: up.MediaKey,
		FileEncSHA256: up.FileEncSHA256, FileSHA256: up.FileSHA256, FileLength: proto.Uint64(up.FileLength),
		Mimetype: proto.String(o.MimeType), FileName: proto.String(o.FileName), Title: proto.String(o.FileName),
		ContextInfo: ci,
	}
	if o.Caption == "" {
		return &waE2E.Message{DocumentMessage: d}
	}
	// A document with a caption travels wrapped, as phones send it.
	d.Caption = proto.String(o.Caption)
	return &waE2E.Message{DocumentWithCaptionMessage: &waE2E.FutureProofMessage{Message: &waE2E.Message{DocumentMessage: d}}}
}

func stickerMessage(o gateway.OutgoingMedia, up whatsmeow.UploadResponse, ci *waE2E.ContextInfo) *waE2E.Message {
	st := &waE2E.StickerMessage{
		URL: proto.String(up.URL), DirectPath: proto.String(up.DirectPath), MediaKey: up.MediaKey,
		FileEncSHA256: up.FileEncSHA256, FileSHA256: up.FileSHA256, FileLength: proto.Uint64(up.FileLength),
		Mimetype: proto.String(o.MimeType), ContextInfo: ci,
	}
	if o.Width > 0 && o.Height > 0 {
		st.Width, st.Height = proto.Uint32(uint32(o.Width)), proto.Uint32(uint32(o.Height))
	}
	return &waE2E.Message{StickerMessage: st}
}

// SendContent implements gateway.ContentRuntime: a location, contact
// cards or a poll (whatsmeow's BuildPollCreation, whose message secret it
// keeps to decrypt the votes).
func (m *Manager) SendContent(ctx context.Context, sid uuid.UUID, o gateway.OutgoingContent) (gateway.SentMessage, error) {
	if o.Kind != gateway.ContentLocation && o.Kind != gateway.ContentContact && o.Kind != gateway.ContentPoll {
		return gateway.SentMessage{}, gateway.Errorf(gateway.CodeInvalid, "message kind %q is not supported", o.Kind)
	}
	resp, cli, err := m.sendOp(ctx, sid, o.Chat.JID, func(cli *whatsmeow.Client, chat types.JID) *waE2E.Message {
		return contentMessage(cli, o, withMentions(quoteContext(cli, chat, o.Quoted), o.Mentions))
	})
	if err != nil {
		return gateway.SentMessage{}, err
	}
	return m.sentMessage(ctx, cli, resp, o.Chat), nil
}

func contentMessage(cli *whatsmeow.Client, o gateway.OutgoingContent, ci *waE2E.ContextInfo) *waE2E.Message {
	switch o.Kind {
	case gateway.ContentLocation:
		l := &waE2E.LocationMessage{
			DegreesLatitude: proto.Float64(o.Location.Latitude), DegreesLongitude: proto.Float64(o.Location.Longitude),
			ContextInfo: ci,
		}
		if o.Location.Name != "" {
			l.Name = proto.String(o.Location.Name)
		}
		if o.Location.Address != "" {
			l.Address = proto.String(o.Location.Address)
		}
		return &waE2E.Message{LocationMessage: l}
	case gateway.ContentContact:
		if len(o.VCards) == 1 {
			return &waE2E.Message{ContactMessage: &waE2E.ContactMessage{
				DisplayName: proto.String(o.VCards[0].Name), Vcard: proto.String(o.VCards[0].VCard), ContextInfo: ci,
			}}
		}
		arr := &waE2E.ContactsArrayMessage{DisplayName: proto.String(fmt.Sprintf("%d contacts", len(o.VCards))), ContextInfo: ci}
		for _, v := range o.VCards {
			arr.Contacts = append(arr.Contacts, &waE2E.ContactMessage{DisplayName: proto.String(v.Name), Vcard: proto.String(v.VCard)})
		}
		return &waE2E.Message{ContactsArrayMessage: arr}
	default: // gateway.ContentPoll
		msg := cli.BuildPollCreation(o.Poll.Question, o.Poll.Options, o.Poll.SelectableCount)
		msg.PollCreationMessage.ContextInfo = ci
		return msg
	}
}

// Forward implements gateway.ContentRuntime: a text, a location or
// contact cards again, or a media message built from its stored reference
// (the same encrypted file on the media servers: nothing is downloaded or
// uploaded), marked as forwarded.
func (m *Manager) Forward(ctx context.Context, sid uuid.UUID, o gateway.OutgoingForward) (gateway.SentMessage, error) {
	src := o.Message
	text := ""
	if src.Text != nil {
		text = *src.Text
	}
	ci := &waE2E.ContextInfo{IsForwarded: proto.Bool(true), ForwardingScore: proto.Uint32(1)}
	var build func() *waE2E.Message
	var ref *gateway.MediaRef
	switch {
	case o.Content != nil && (o.Content.Kind == gateway.ContentLocation || o.Content.Kind == gateway.ContentContact):
		c := *o.Content
		build = func() *waE2E.Message { return contentMessage(nil, c, ci) }
	case src.Type == gateway.TypeText:
		build = func() *waE2E.Message {
			return &waE2E.Message{ExtendedTextMessage: &waE2E.ExtendedTextMessage{Text: proto.String(text), ContextInfo: ci}}
		}
	case src.Media != nil:
		r := *src.Media
		ref = &r
		builder, ok := mediaMessages[gateway.MediaKind(src.Type)]
		if !ok {
			return gateway.SentMessage{}, gateway.E(gateway.CodeInvalid, gateway.MsgForwardKind)
		}
		up := whatsmeow.UploadResponse{
			URL: "https://" + mediaHost + r.DirectPath, DirectPath: r.DirectPath, MediaKey: r.MediaKey,
			FileEncSHA256: r.FileEncSHA256, FileSHA256: r.FileSHA256, FileLength: r.FileLength,
		}
		om := gateway.OutgoingMedia{Kind: gateway.MediaKind(src.Type), MimeType: r.MimeType, Caption: text, FileName: r.FileName,
			PTT: src.PTT, GIF: src.GIF}
		if src.Duration != nil {
			om.Seconds = *src.Duration
		}
		build = func() *waE2E.Message { return builder(om, up, ci) }
	default:
		return gateway.SentMessage{}, gateway.E(gateway.CodeInvalid, gateway.MsgForwardKind)
	}
	resp, cli, err := m.sendOp(ctx, sid, o.Chat.JID, func(*whatsmeow.Client, types.JID) *waE2E.Message { return build() })
	if err != nil {
		return gateway.SentMessage{}, err
	}
	sent := m.sentMessage(ctx, cli, resp, o.Chat)
	sent.Media = ref
	return sent, nil
}

// mediaHost is WhatsApp's media host, for the full URL of a forwarded
// file (recipients download by its direct path).
const mediaHost = "mmg.whatsapp.net"
