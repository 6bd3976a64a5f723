package httpapi

import (
	"context"

	"github.com/wagate-dev/wagate/gen/api"
	"github.com/wagate-dev/wagate/internal/gateway"
)

// Chats implements the chats tag (chat management and message operations
// of chat-management.md) on the messaging service. With a nil Service every
// operation answers 501. Every operation honours Idempotency-Key.
type Chats struct {
	Service gateway.MessagingService
}

// chatReq and msgReq identify a chat or message operation for
// Idempotency-Key fingerprints.
type chatReq struct {
	ChatID string `json:"c"`
}

type msgReq struct {
	ChatID    string `json:"c"`
	MessageID string `json:"m"`
	Body      any    `json:"b,omitempty"`
}

// chatParams are the common parameters of a chat operation.
type chatParams struct {
	sid    api.SessionId
	chatID string
	key    *api.IdempotencyKey
}

func (h *Chats) chatAction(ctx context.Context, r chatParams, op, msg string, act func(gateway.MessagingService) (string, error)) (api.ChatActionResponse, error) {
	svc, err := messagingService(h.Service)
	if err != nil {
		return api.ChatActionResponse{}, err
	}
	return idempotent(ctx, svc, r.sid, r.key, op, chatReq{ChatID: r.chatID}, func() (api.ChatActionResponse, error) {
		jid, err := act(svc)
		if err != nil {
			return api.ChatActionResponse{}, err
		}
		return api.ChatActionResponse{Success: true, Jid: jid, Message: msg}, nil
	})
}

func (h *Chats) messageAction(ctx context.Context, sid api.SessionId, key *api.IdempotencyKey, op string, req msgReq,
	act func(gateway.MessagingService) (string, error)) (api.SuccessMessage, error) {
	svc, err := messagingService(h.Service)
	if err != nil {
		return api.SuccessMessage{}, err
	}
	return idempotent(ctx, svc, sid, key, op, req, func() (api.SuccessMessage, error) {
		msg, err := act(svc)
		if err != nil {
			return api.SuccessMessage{}, err
		}
		return api.SuccessMessage{Success: true, Message: msg}, nil
	})
}

// DeleteChat deletes a chat on every device of the account.
func (h *Chats) DeleteChat(ctx context.Context, r api.DeleteChatRequestObject) (api.DeleteChatResponseObject, error) {
	out, err := h.chatAction(ctx, chatParams{r.Id, r.ChatId, r.Params.IdempotencyKey}, "deleteChat", gateway.MsgChatDeleted,
		func(s gateway.MessagingService) (string, error) { return s.DeleteChat(ctx, r.Id, r.ChatId) })
	if err != nil {
		return nil, err
	}
	return api.DeleteChat200JSONResponse(out), nil
}

// ArchiveChat archives a chat.
func (h *Chats) ArchiveChat(ctx context.Context, r api.ArchiveChatRequestObject) (api.ArchiveChatResponseObject, error) {
	out, err := h.chatAction(ctx, chatParams{r.Id, r.ChatId, r.Params.IdempotencyKey}, "archiveChat", gateway.MsgChatArchived,
		func(s gateway.MessagingService) (string, error) { return s.ArchiveChat(ctx, r.Id, r.ChatId, true) })
	if err != nil {
		return nil, err
	}
	return api.ArchiveChat200JSONResponse(out), nil
}

// UnarchiveChat unarchives a chat.
func (h *Chats) UnarchiveChat(ctx context.Context, r api.UnarchiveChatRequestObject) (api.UnarchiveChatResponseObject, error) {
	out, err := h.chatAction(ctx, chatParams{r.Id, r.ChatId, r.Params.IdempotencyKey}, "unarchiveChat", gateway.MsgChatUnarchived,
		func(s gateway.MessagingService) (string, error) { return s.ArchiveChat(ctx, r.Id, r.ChatId, false) })
	if err != nil {
		return nil, err
	}
	return api.UnarchiveChat200JSONResponse(out), nil
}

// MarkChatUnread marks a chat unread.
func (h *Chats) MarkChatUnread(ctx context.Context, r api.MarkChatUnreadRequestObject) (api.MarkChatUnreadResponseObject, error) {
	out, err := h.chatAction(ctx, chatParams{r.Id, r.ChatId, r.Params.IdempotencyKey}, "markChatUnread", gateway.MsgChatMarkedUnread,
		func(s gateway.MessagingService) (string, error) { return s.MarkChatUnread(ctx, r.Id, r.ChatId) })
	if err != nil {
		return nil, err
	}
	return api.MarkChatUnread200JSONResponse(out), nil
}

// BatchChats archives or unarchives up to 100 chats and reports each.
func (h *Chats) BatchChats(ctx context.Context, r api.BatchChatsRequestObject) (api.BatchChatsResponseObject, error) {
	svc, err := messagingService(h.Service)
	if err != nil {
		return nil, err
	}
	if r.Body == nil {
		return nil, gateway.E(gateway.CodeInvalid, "request body is required")
	}
	b := *r.Body
	var archive bool
	switch b.Action {
	case api.Archive:
		archive = true
	case api.Unarchive:
	default:
		return nil, gateway.E(gateway.CodeInvalid, "action must be archive or unarchive")
	}
	out, err := idempotent(ctx, svc, r.Id, r.Params.IdempotencyKey, "batchChats", b, func() (api.BatchChatResponse, error) {
		results, err := svc.BatchArchive(ctx, r.Id, b.ChatIds, archive)
		if err != nil {
			return api.BatchChatResponse{}, err
		}
		resp := api.BatchChatResponse{Success: true, Results: make([]api.BatchChatResult, 0, len(results))}
		for _, res := range results {
			item := api.BatchChatResult{ChatId: res.ChatID, Success: res.Err == nil}
			if res.JID != "" {
				jid := res.JID
				item.Jid = &jid
			}
			if res.Err != nil {
				msg := gateway.ErrorMessage(res.Err)
				item.Error = &msg
				resp.Failed++
			} else {
				msg := res.Message
				item.Message = &msg
				resp.Succeeded++
			}
			resp.Results = append(resp.Results, item)
		}
		return resp, nil
	})
	if err != nil {
		return nil, err
	}
	return api.BatchChats200JSONResponse(out), nil
}

// DeleteMessage deletes one of the session's own messages for everyone.
func (h *Chats) DeleteMessage(ctx context.Context, r api.DeleteMessageRequestObject) (api.DeleteMessageResponseObject, error) {
	out, err := h.messageAction(ctx, r.Id, r.Params.IdempotencyKey, "deleteMessage", msgReq{ChatID: r.ChatId, MessageID: r.MessageId},
		func(s gateway.MessagingService) (string, error) {
			return gateway.MsgMessageDeleted, s.DeleteMessage(ctx, r.Id, r.ChatId, r.MessageId)
		})
	if err != nil {
		return nil, err
	}
	return api.DeleteMessage200JSONResponse(out), nil
}

// EditMessage edits one of the session's own text messages.
func (h *Chats) EditMessage(ctx context.Context, r api.EditMessageRequestObject) (api.EditMessageResponseObject, error) {
	if r.Body == nil {
		return nil, gateway.E(gateway.CodeInvalid, gateway.MsgTextRequired)
	}
	text := r.Body.Text
	out, err := h.messageAction(ctx, r.Id, r.Params.IdempotencyKey, "editMessage", msgReq{ChatID: r.ChatId, MessageID: r.MessageId, Body: text},
		func(s gateway.MessagingService) (string, error) {
			return gateway.MsgMessageEdited, s.EditMessage(ctx, r.Id, r.ChatId, r.MessageId, text)
		})
	if err != nil {
		return nil, err
	}
	return api.EditMessage200JSONResponse(out), nil
}

// PinMessage pins a message (24h by default).
func (h *Chats) PinMessage(ctx context.Context, r api.PinMessageRequestObject) (api.PinMessageResponseObject, error) {
	duration := ""
	if r.Body != nil && r.Body.Duration != nil {
		duration = string(*r.Body.Duration)
	}
	out, err := h.messageAction(ctx, r.Id, r.Params.IdempotencyKey, "pinMessage", msgReq{ChatID: r.ChatId, MessageID: r.MessageId, Body: duration},
		func(s gateway.MessagingService) (string, error) {
			return gateway.MsgMessagePinned, s.PinMessage(ctx, r.Id, r.ChatId, r.MessageId, duration)
		})
	if err != nil {
		return nil, err
	}
	return api.PinMessage200JSONResponse(out), nil
}

// UnpinMessage unpins a message.
func (h *Chats) UnpinMessage(ctx context.Context, r api.UnpinMessageRequestObject) (api.UnpinMessageResponseObject, error) {
	out, err := h.messageAction(ctx, r.Id, r.Params.IdempotencyKey, "unpinMessage", msgReq{ChatID: r.ChatId, MessageID: r.MessageId},
		func(s gateway.MessagingService) (string, error) {
			return gateway.MsgMessageUnpinned, s.UnpinMessage(ctx, r.Id, r.ChatId, r.MessageId)
		})
	if err != nil {
		return nil, err
	}
	return api.UnpinMessage200JSONResponse(out), nil
}

// StarMessage stars (default) or unstars a message.
func (h *Chats) StarMessage(ctx context.Context, r api.StarMessageRequestObject) (api.StarMessageResponseObject, error) {
	var star *bool
	if r.Body != nil {
		star = r.Body.Star
	}
	on := star == nil || *star
	out, err := h.messageAction(ctx, r.Id, r.Params.IdempotencyKey, "starMessage", msgReq{ChatID: r.ChatId, MessageID: r.MessageId, Body: on},
		func(s gateway.MessagingService) (string, error) {
			return s.StarMessage(ctx, r.Id, r.ChatId, r.MessageId, &on)
		})
	if err != nil {
		return nil, err
	}
	return api.StarMessage200JSONResponse(out), nil
}

// ReactToMessage sets or (empty emoji) removes the session's reaction.
func (h *Chats) ReactToMessage(ctx context.Context, r api.ReactToMessageRequestObject) (api.ReactToMessageResponseObject, error) {
	if r.Body == nil {
		return nil, gateway.E(gateway.CodeInvalid, "request body is required")
	}
	emoji := ""
	if r.Body.Emoji != nil {
		emoji = *r.Body.Emoji
	}
	chatID := r.Body.ChatId
	out, err := h.messageAction(ctx, r.Id, r.Params.IdempotencyKey, "reactToMessage", msgReq{ChatID: chatID, MessageID: r.MessageId, Body: emoji},
		func(s gateway.MessagingService) (string, error) {
			return gateway.MsgReactionSent, s.React(ctx, r.Id, chatID, r.MessageId, emoji)
		})
	if err != nil {
		return nil, err
	}
	return api.ReactToMessage200JSONResponse(out), nil
}
