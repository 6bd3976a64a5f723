package httpapi

import (
	"bytes"
	"context"
	"mime"
	"net/http"
	"strings"

	"github.com/wagate-dev/wagate/gen/api"
	"github.com/wagate-dev/wagate/internal/gateway"
)

// Messaging implements the messaging tag (sending and reading the message
// store) on the messaging service. Idempotency-Key is the idempotency
// middleware's business (policy.go), not the handlers'.
type Messaging struct {
	Service gateway.MessagingService
}

func toAPISend(m *gateway.Message) api.SendResponse {
	return api.SendResponse{
		Success:   true,
		MessageId: m.ID,
		To:        m.ChatJID,
		Type:      api.SendResponseType(m.Type),
		Status:    api.SendResponseStatus("sent"),
		Timestamp: m.Timestamp.UTC(),
		ToLid:     m.ToLID,
	}
}

func toAPIMessage(m gateway.Message) api.Message {
	out := api.Message{
		Id:              m.ID,
		ChatJid:         m.ChatJID,
		Sender:          m.Sender,
		SenderLid:       m.SenderLID,
		ToLid:           m.ToLID,
		FromMe:          m.FromMe,
		Timestamp:       m.Timestamp.UTC(),
		Type:            api.MessageType(m.Type),
		Text:            m.Text,
		QuotedMessageId: m.QuotedID,
		Edited:          m.Edited,
		Revoked:         m.Revoked,
		Starred:         m.Starred,
		PinnedUntil:     m.PinnedUntil,
		Reactions:       make([]api.Reaction, 0, len(m.Reactions)),
		MimeType:        m.MimeType,
	}
	for _, r := range m.Reactions {
		ts := r.Timestamp.UTC()
		out.Reactions = append(out.Reactions, api.Reaction{Sender: r.Sender, Emoji: r.Emoji, Timestamp: &ts})
	}
	if m.Status != "" {
		st := api.MessageStatus(m.Status)
		out.Status = &st
		rs := make([]api.MessageReceipt, 0, len(m.Receipts))
		for _, r := range m.Receipts {
			rs = append(rs, api.MessageReceipt{Recipient: r.Recipient, Status: api.MessageReceiptStatus(r.Status), At: r.At})
		}
		out.Receipts = &rs
	}
	addContent(&out, m.MessageContent)
	return out
}

// addContent copies the fields of the kinds beyond text.
func addContent(out *api.Message, c gateway.MessageContent) {
	out.FileName, out.FileSize, out.Duration, out.Width, out.Height = c.FileName, c.FileSize, c.Duration, c.Width, c.Height
	if c.PTT {
		out.Ptt = &c.PTT
	}
	if c.GIF {
		out.Gif = &c.GIF
	}
	if l := c.Location; l != nil {
		out.Location = &api.MessageLocation{Latitude: l.Latitude, Longitude: l.Longitude}
		if l.Name != "" {
			out.Location.Name = &l.Name
		}
		if l.Address != "" {
			out.Location.Address = &l.Address
		}
	}
	if len(c.VCards) > 0 {
		v := append([]string(nil), c.VCards...)
		out.Vcards = &v
	}
	if p := c.Poll; p != nil {
		out.Poll = &api.MessagePoll{Question: p.Question, SelectableCount: p.SelectableCount,
			Options: make([]api.MessagePollOption, len(p.Options))}
		for i, o := range p.Options {
			out.Poll.Options[i] = api.MessagePollOption{Name: o.Name, Votes: o.Votes}
			if o.Votes != nil {
				v := append([]string{}, o.Voters...)
				out.Poll.Options[i].Voters = &v
			}
		}
	}
}

func toAPIChat(c gateway.Chat) api.Chat {
	out := api.Chat{
		Jid:           c.JID,
		Name:          c.Name,
		Archived:      c.Archived,
		MarkedUnread:  c.MarkedUnread,
		UnreadCount:   c.UnreadCount,
		LastMessageAt: c.LastMessageAt,
	}
	if c.LastMessage != nil {
		id := c.LastMessage.ID
		out.LastMessageId = &id
	}
	return out
}

func page(limit *api.Limit, cursor *api.Cursor) gateway.Page {
	p := gateway.Page{}
	if limit != nil {
		p.Limit = *limit
	}
	if cursor != nil {
		p.Cursor = *cursor
	}
	return p
}

func nextCursor(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// SendText sends a text message or a reply (quotedMessageId).
func (h *Messaging) SendText(ctx context.Context, r api.SendTextRequestObject) (api.SendTextResponseObject, error) {
	if r.Body == nil {
		return nil, gateway.E(gateway.CodeInvalid, "request body is required")
	}
	quoted := ""
	if r.Body.QuotedMessageId != nil {
		quoted = *r.Body.QuotedMessageId
	}
	var mentions []string
	if r.Body.Mentions != nil {
		mentions = *r.Body.Mentions
	}
	send := h.Service.SendText
	if r.Body.LinkPreview != nil && *r.Body.LinkPreview {
		send = h.Service.SendTextWithPreview
	}
	m, err := send(ctx, r.Id, r.Body.To, r.Body.Text, quoted, mentions)
	if err != nil {
		return nil, err
	}
	return api.SendText200JSONResponse(toAPISend(m)), nil
}

// SendImage sends an image from a URL, base64 data or a data: URL.
func (h *Messaging) SendImage(ctx context.Context, r api.SendImageRequestObject) (api.SendImageResponseObject, error) {
	if r.MultipartBody != nil {
		to, ms, err := h.mediaForm(ctx, r.MultipartBody, gateway.MediaImage)
		if err != nil {
			return nil, err
		}
		m, err := h.Service.SendMedia(ctx, r.Id, to, ms)
		if err != nil {
			return nil, err
		}
		return api.SendImage200JSONResponse(toAPISend(m)), nil
	}
	b := r.JSONBody
	if b == nil {
		return nil, gateway.E(gateway.CodeInvalid, "request body is required")
	}
	img := gateway.ImageSend{Image: b.Image}
	if b.Caption != nil {
		img.Caption = *b.Caption
	}
	if b.MimeType != nil {
		img.MimeType = string(*b.MimeType)
	}
	m, err := h.Service.SendImage(ctx, r.Id, b.To, img)
	if err != nil {
		return nil, err
	}
	return api.SendImage200JSONResponse(toAPISend(m)), nil
}

// ListChats lists the session's chats, most recent first.
func (h *Messaging) ListChats(ctx context.Context, r api.ListChatsRequestObject) (api.ListChatsResponseObject, error) {
	chats, next, err := h.Service.ListChats(ctx, r.Id, gateway.ChatFilter{Archived: r.Params.Archived, Unread: r.Params.Unread},
		page(r.Params.Limit, r.Params.Cursor))
	if err != nil {
		return nil, err
	}
	out := api.ListChats200JSONResponse{Success: true, Chats: make([]api.Chat, 0, len(chats)), NextCursor: nextCursor(next)}
	for _, c := range chats {
		out.Chats = append(out.Chats, toAPIChat(c))
	}
	return out, nil
}

// ListMessages lists a chat's messages, newest first.
func (h *Messaging) ListMessages(ctx context.Context, r api.ListMessagesRequestObject) (api.ListMessagesResponseObject, error) {
	_, msgs, next, err := h.Service.ListMessages(ctx, r.Id, r.ChatId, page(r.Params.Limit, r.Params.Cursor))
	if err != nil {
		return nil, err
	}
	out := api.ListMessages200JSONResponse{Success: true, Messages: make([]api.Message, 0, len(msgs)), NextCursor: nextCursor(next)}
	for _, m := range msgs {
		out.Messages = append(out.Messages, toAPIMessage(m))
	}
	return out, nil
}

// GetMessage returns one message of a chat.
func (h *Messaging) GetMessage(ctx context.Context, r api.GetMessageRequestObject) (api.GetMessageResponseObject, error) {
	m, err := h.Service.GetMessage(ctx, r.Id, r.ChatId, r.MessageId)
	if err != nil {
		return nil, err
	}
	return api.GetMessage200JSONResponse{Success: true, Message: toAPIMessage(*m)}, nil
}

// GetMessageMedia streams the decrypted file of a media message.
func (h *Messaging) GetMessageMedia(ctx context.Context, r api.GetMessageMediaRequestObject) (api.GetMessageMediaResponseObject, error) {
	media, err := h.Service.MessageMedia(ctx, r.Id, r.ChatId, r.MessageId)
	if err != nil {
		return nil, err
	}
	ct := media.MimeType
	if _, _, err := mime.ParseMediaType(ct); err != nil || !strings.Contains(ct, "/") {
		ct = "application/octet-stream"
	}
	out := api.GetMessageMedia200AsteriskResponse{
		Body: bytes.NewReader(media.Data), ContentType: ct, ContentLength: int64(len(media.Data)),
	}
	// Only images, videos and audio display inline; anything else (a
	// document could be HTML) is a download.
	disposition := "attachment"
	if t, _, _ := strings.Cut(ct, "/"); t == "image" || t == "video" || t == "audio" {
		disposition = "inline"
	}
	if cd := mime.FormatMediaType(disposition, map[string]string{"filename": mediaFileName(r.MessageId, media)}); cd != "" {
		out.Headers.ContentDisposition = &cd
	}
	return mediaResponse{out}, nil
}

// mediaResponse serves a file that a contact chose: browsers must neither
// sniff another type from it nor run it as a page of this origin.
type mediaResponse struct {
	api.GetMessageMedia200AsteriskResponse
}

func (r mediaResponse) VisitGetMessageMediaResponse(w http.ResponseWriter) error {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; sandbox")
	return r.GetMessageMedia200AsteriskResponse.VisitGetMessageMediaResponse(w)
}

// mediaFileName is the document's own file name, or the message id with
// an extension for the type.
func mediaFileName(id string, m *gateway.MessageMedia) string {
	if name := strings.TrimSpace(m.FileName); name != "" {
		return name
	}
	base, _, _ := mime.ParseMediaType(m.MimeType)
	ext := map[string]string{
		"image/jpeg": ".jpg", "image/png": ".png", "image/webp": ".webp", "image/gif": ".gif",
		"video/mp4": ".mp4", "audio/ogg": ".ogg", "audio/mpeg": ".mp3", "audio/mp4": ".m4a", "application/pdf": ".pdf",
	}[base]
	if ext == "" {
		if exts, _ := mime.ExtensionsByType(base); len(exts) > 0 {
			ext = exts[0]
		}
	}
	return id + ext
}
