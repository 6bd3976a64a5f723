package httpapi

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"mime"
	"net/http"
	"strings"

	"github.com/google/uuid"

	"github.com/wagate-dev/wagate/gen/api"
	"github.com/wagate-dev/wagate/internal/gateway"
)

// Messaging implements the messaging tag (sending and reading the message
// store) on the messaging service. With a nil Service every operation
// answers 501.
type Messaging struct {
	Service gateway.MessagingService
}

func messagingService(s gateway.MessagingService) (gateway.MessagingService, error) {
	if s == nil {
		return nil, errNotImplemented
	}
	return s, nil
}

// idempotent runs do through the service's Idempotency-Key handling: with a
// key, the first successful result is stored and returned again for the
// same key (per session, 24 hours). op names the operation; req is what
// identifies the request besides the path's session (chat and message ids,
// body), so that a key reused for a different request is refused.
func idempotent[T any](ctx context.Context, svc gateway.MessagingService, sid uuid.UUID, key *api.IdempotencyKey, op string, req any, do func() (T, error)) (T, error) {
	var zero T
	if key == nil || *key == "" {
		return do()
	}
	b, err := svc.Idempotent(ctx, sid, *key, op, req, func() ([]byte, error) {
		v, err := do()
		if err != nil {
			return nil, err
		}
		return json.Marshal(v)
	})
	if err != nil {
		return zero, err
	}
	var out T
	if err := json.Unmarshal(b, &out); err != nil {
		return zero, gateway.Wrap(gateway.CodeInternal, gateway.MsgInternal, err)
	}
	return out, nil
}

func toAPISend(m *gateway.Message) api.SendResponse {
	return api.SendResponse{
		Success:   true,
		MessageId: m.ID,
		To:        m.ChatJID,
		Type:      api.SendResponseType(m.Type),
		Status:    api.SendResponseStatus("sent"),
		Timestamp: m.Timestamp.UTC(),
	}
}

func toAPIMessage(m gateway.Message) api.Message {
	out := api.Message{
		Id:              m.ID,
		ChatJid:         m.ChatJID,
		Sender:          m.Sender,
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
	return out
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
	svc, err := messagingService(h.Service)
	if err != nil {
		return nil, err
	}
	if r.Body == nil {
		return nil, gateway.E(gateway.CodeInvalid, "request body is required")
	}
	b := *r.Body
	out, err := idempotent(ctx, svc, r.Id, r.Params.IdempotencyKey, "sendText", b, func() (api.SendResponse, error) {
		quoted := ""
		if b.QuotedMessageId != nil {
			quoted = *b.QuotedMessageId
		}
		m, err := svc.SendText(ctx, r.Id, b.To, b.Text, quoted)
		if err != nil {
			return api.SendResponse{}, err
		}
		return toAPISend(m), nil
	})
	if err != nil {
		return nil, err
	}
	return api.SendText200JSONResponse(out), nil
}

// SendImage sends an image from a URL, base64 data or a data: URL.
func (h *Messaging) SendImage(ctx context.Context, r api.SendImageRequestObject) (api.SendImageResponseObject, error) {
	svc, err := messagingService(h.Service)
	if err != nil {
		return nil, err
	}
	if r.Body == nil {
		return nil, gateway.E(gateway.CodeInvalid, "request body is required")
	}
	b := *r.Body
	// The fingerprint holds a digest of the image rather than the image
	// itself (it may be megabytes), so a retry with different bytes under
	// the same key is told apart.
	sum := sha256.Sum256([]byte(b.Image))
	fp := struct {
		To, Caption, MimeType string
		ImageSHA256           string
	}{To: b.To, ImageSHA256: hex.EncodeToString(sum[:])}
	if b.Caption != nil {
		fp.Caption = *b.Caption
	}
	if b.MimeType != nil {
		fp.MimeType = string(*b.MimeType)
	}
	out, err := idempotent(ctx, svc, r.Id, r.Params.IdempotencyKey, "sendImage", fp, func() (api.SendResponse, error) {
		m, err := svc.SendImage(ctx, r.Id, b.To, gateway.ImageSend{Image: b.Image, Caption: fp.Caption, MimeType: fp.MimeType})
		if err != nil {
			return api.SendResponse{}, err
		}
		return toAPISend(m), nil
	})
	if err != nil {
		return nil, err
	}
	return api.SendImage200JSONResponse(out), nil
}

// ListChats lists the session's chats, most recent first.
func (h *Messaging) ListChats(ctx context.Context, r api.ListChatsRequestObject) (api.ListChatsResponseObject, error) {
	svc, err := messagingService(h.Service)
	if err != nil {
		return nil, err
	}
	chats, next, err := svc.ListChats(ctx, r.Id, gateway.ChatFilter{Archived: r.Params.Archived, Unread: r.Params.Unread},
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
	svc, err := messagingService(h.Service)
	if err != nil {
		return nil, err
	}
	_, msgs, next, err := svc.ListMessages(ctx, r.Id, r.ChatId, page(r.Params.Limit, r.Params.Cursor))
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
	svc, err := messagingService(h.Service)
	if err != nil {
		return nil, err
	}
	m, err := svc.GetMessage(ctx, r.Id, r.ChatId, r.MessageId)
	if err != nil {
		return nil, err
	}
	return api.GetMessage200JSONResponse{Success: true, Message: toAPIMessage(*m)}, nil
}

// GetMessageMedia streams the decrypted file of a media message.
func (h *Messaging) GetMessageMedia(ctx context.Context, r api.GetMessageMediaRequestObject) (api.GetMessageMediaResponseObject, error) {
	svc, err := messagingService(h.Service)
	if err != nil {
		return nil, err
	}
	media, err := svc.MessageMedia(ctx, r.Id, r.ChatId, r.MessageId)
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
