package httpapi

import (
	"context"
	"mime/multipart"
	"strings"

	"github.com/wagate-dev/wagate/gen/api"
	"github.com/wagate-dev/wagate/internal/gateway"
)

// The send endpoints of the kinds beyond text and image: decode, one
// service call, the SendResponse.

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

func mentionsOf(p *[]api.Recipient) []string {
	if p == nil {
		return nil
	}
	return append([]string(nil), (*p)...)
}

var errNoBody = gateway.E(gateway.CodeInvalid, "request body is required")

// toAPISendKind is the answer of a send of the kinds beyond text and
// image (SendResponse's fields).
func toAPISendKind(m *gateway.Message) api.SendKindResponse {
	return api.SendKindResponse{
		Success: true, MessageId: m.ID, To: m.ChatJID, Type: api.SendKindResponseType(m.Type),
		Status: api.SendKindResponseStatus("sent"), Timestamp: m.Timestamp.UTC(), ToLid: m.ToLID,
	}
}

func (h *Messaging) sendMedia(ctx context.Context, r api.SessionId, to string, m gateway.MediaSend) (api.SendKindResponse, error) {
	msg, err := h.Service.SendMedia(ctx, r, to, m)
	if err != nil {
		return api.SendKindResponse{}, err
	}
	return toAPISendKind(msg), nil
}

// SendVideo sends a video (optionally as a GIF).
func (h *Messaging) SendVideo(ctx context.Context, r api.SendVideoRequestObject) (api.SendVideoResponseObject, error) {
	if r.MultipartBody != nil {
		out, err := h.sendMediaForm(ctx, r.Id, r.MultipartBody, gateway.MediaVideo)
		if err != nil {
			return nil, err
		}
		return api.SendVideo200JSONResponse(out), nil
	}
	b := r.JSONBody
	if b == nil {
		return nil, errNoBody
	}
	out, err := h.sendMedia(ctx, r.Id, b.To, gateway.MediaSend{
		Kind: gateway.MediaVideo, Source: b.Video, Caption: deref(b.Caption), MimeType: string(deref(b.MimeType)),
		GIF: deref(b.Gif), QuotedID: deref(b.QuotedMessageId), Mentions: mentionsOf(b.Mentions),
	})
	if err != nil {
		return nil, err
	}
	return api.SendVideo200JSONResponse(out), nil
}

// SendAudio sends audio or a voice note (Ogg/Opus only).
func (h *Messaging) SendAudio(ctx context.Context, r api.SendAudioRequestObject) (api.SendAudioResponseObject, error) {
	if r.MultipartBody != nil {
		out, err := h.sendMediaForm(ctx, r.Id, r.MultipartBody, gateway.MediaAudio)
		if err != nil {
			return nil, err
		}
		return api.SendAudio200JSONResponse(out), nil
	}
	b := r.JSONBody
	if b == nil {
		return nil, errNoBody
	}
	out, err := h.sendMedia(ctx, r.Id, b.To, gateway.MediaSend{
		Kind: gateway.MediaAudio, Source: b.Audio, MimeType: string(deref(b.MimeType)),
		PTT: deref(b.Ptt), QuotedID: deref(b.QuotedMessageId), Mentions: mentionsOf(b.Mentions),
	})
	if err != nil {
		return nil, err
	}
	return api.SendAudio200JSONResponse(out), nil
}

// SendDocument sends a file with its name.
func (h *Messaging) SendDocument(ctx context.Context, r api.SendDocumentRequestObject) (api.SendDocumentResponseObject, error) {
	if r.MultipartBody != nil {
		out, err := h.sendMediaForm(ctx, r.Id, r.MultipartBody, gateway.MediaDocument)
		if err != nil {
			return nil, err
		}
		return api.SendDocument200JSONResponse(out), nil
	}
	b := r.JSONBody
	if b == nil {
		return nil, errNoBody
	}
	out, err := h.sendMedia(ctx, r.Id, b.To, gateway.MediaSend{
		Kind: gateway.MediaDocument, Source: b.Document, Caption: deref(b.Caption), MimeType: deref(b.MimeType),
		FileName: b.FileName, QuotedID: deref(b.QuotedMessageId), Mentions: mentionsOf(b.Mentions),
	})
	if err != nil {
		return nil, err
	}
	return api.SendDocument200JSONResponse(out), nil
}

// SendSticker sends a WebP sticker.
func (h *Messaging) SendSticker(ctx context.Context, r api.SendStickerRequestObject) (api.SendStickerResponseObject, error) {
	if r.MultipartBody != nil {
		out, err := h.sendMediaForm(ctx, r.Id, r.MultipartBody, gateway.MediaSticker)
		if err != nil {
			return nil, err
		}
		return api.SendSticker200JSONResponse(out), nil
	}
	b := r.JSONBody
	if b == nil {
		return nil, errNoBody
	}
	out, err := h.sendMedia(ctx, r.Id, b.To, gateway.MediaSend{
		Kind: gateway.MediaSticker, Source: b.Sticker, QuotedID: deref(b.QuotedMessageId), Mentions: mentionsOf(b.Mentions),
	})
	if err != nil {
		return nil, err
	}
	return api.SendSticker200JSONResponse(out), nil
}

// formFields are the form fields of each media kind's multipart send
// besides to and the file (the JSON body's properties).
var formFields = map[gateway.MediaKind][]string{
	gateway.MediaImage:    {"caption", "mimeType", "filename"},
	gateway.MediaVideo:    {"caption", "mimeType", "gif", "quotedMessageId"},
	gateway.MediaAudio:    {"mimeType", "ptt", "quotedMessageId"},
	gateway.MediaDocument: {"caption", "mimeType", "fileName", "quotedMessageId"},
	gateway.MediaSticker:  {"quotedMessageId"},
}

// mediaForm reads a media send from a multipart/form-data body (the file
// part is named like the kind) into the same MediaSend as the JSON body.
func (h *Messaging) mediaForm(ctx context.Context, mr *multipart.Reader, k gateway.MediaKind) (string, gateway.MediaSend, error) {
	f, err := readMediaForm(ctx, mr, string(k), h.Service.MaxSendBytes(k), formFields[k], k != gateway.MediaImage)
	if err != nil {
		return "", gateway.MediaSend{}, err
	}
	if err := f.maxLen("caption", 4096); err != nil {
		return "", gateway.MediaSend{}, err
	}
	m := gateway.MediaSend{
		Kind: k, Data: f.file, Caption: f.str("caption"), MimeType: strings.TrimSpace(f.str("mimeType")),
		FileName: f.str("fileName"), QuotedID: strings.TrimSpace(f.str("quotedMessageId")), Mentions: f.multi["mentions"],
	}
	if m.GIF, err = f.boolean("gif"); err != nil {
		return "", m, err
	}
	if m.PTT, err = f.boolean("ptt"); err != nil {
		return "", m, err
	}
	return f.to, m, nil
}

func (h *Messaging) sendMediaForm(ctx context.Context, sid api.SessionId, mr *multipart.Reader, k gateway.MediaKind) (api.SendKindResponse, error) {
	to, m, err := h.mediaForm(ctx, mr, k)
	if err != nil {
		return api.SendKindResponse{}, err
	}
	return h.sendMedia(ctx, sid, to, m)
}

func (h *Messaging) sendContent(ctx context.Context, r api.SessionId, to string, c gateway.ContentSend) (api.SendKindResponse, error) {
	msg, err := h.Service.SendContent(ctx, r, to, c)
	if err != nil {
		return api.SendKindResponse{}, err
	}
	return toAPISendKind(msg), nil
}

// SendLocation sends a location.
func (h *Messaging) SendLocation(ctx context.Context, r api.SendLocationRequestObject) (api.SendLocationResponseObject, error) {
	b := r.Body
	if b == nil {
		return nil, errNoBody
	}
	out, err := h.sendContent(ctx, r.Id, b.To, gateway.ContentSend{
		Kind:     gateway.ContentLocation,
		Location: &gateway.Location{Latitude: b.Latitude, Longitude: b.Longitude, Name: deref(b.Name), Address: deref(b.Address)},
		QuotedID: deref(b.QuotedMessageId), Mentions: mentionsOf(b.Mentions),
	})
	if err != nil {
		return nil, err
	}
	return api.SendLocation200JSONResponse(out), nil
}

// SendContact sends contact cards.
func (h *Messaging) SendContact(ctx context.Context, r api.SendContactRequestObject) (api.SendContactResponseObject, error) {
	b := r.Body
	if b == nil {
		return nil, errNoBody
	}
	c := gateway.ContentSend{Kind: gateway.ContentContact, VCard: deref(b.Vcard), QuotedID: deref(b.QuotedMessageId), Mentions: mentionsOf(b.Mentions)}
	for _, ct := range deref(b.Contacts) {
		c.Contacts = append(c.Contacts, gateway.ContactCard{Name: ct.Name, Phones: ct.Phones})
	}
	out, err := h.sendContent(ctx, r.Id, b.To, c)
	if err != nil {
		return nil, err
	}
	return api.SendContact200JSONResponse(out), nil
}

// SendPoll sends a poll.
func (h *Messaging) SendPoll(ctx context.Context, r api.SendPollRequestObject) (api.SendPollResponseObject, error) {
	b := r.Body
	if b == nil {
		return nil, errNoBody
	}
	out, err := h.sendContent(ctx, r.Id, b.To, gateway.ContentSend{
		Kind:     gateway.ContentPoll,
		Poll:     &gateway.Poll{Question: b.Question, Options: b.Options, SelectableCount: deref(b.SelectableCount)},
		QuotedID: deref(b.QuotedMessageId), Mentions: mentionsOf(b.Mentions),
	})
	if err != nil {
		return nil, err
	}
	return api.SendPoll200JSONResponse(out), nil
}

// ForwardMessage forwards a stored message to another chat.
func (h *Messaging) ForwardMessage(ctx context.Context, r api.ForwardMessageRequestObject) (api.ForwardMessageResponseObject, error) {
	if r.Body == nil {
		return nil, errNoBody
	}
	msg, err := h.Service.ForwardMessage(ctx, r.Id, r.ChatId, r.MessageId, r.Body.To)
	if err != nil {
		return nil, err
	}
	return api.ForwardMessage200JSONResponse(toAPISendKind(msg)), nil
}
