package httpapi

import (
	"context"

	"github.com/wagate-dev/wagate/gen/api"
	"github.com/wagate-dev/wagate/internal/gateway"
)

// Chats implements the chats tag (chat management and message operations
// of chat-management.md) on the messaging service. Every operation honours
// Idempotency-Key through the idempotency middleware (policy.go).
type Chats struct {
	Service gateway.MessagingService
}

// chatAnswer is the answer of a chat operation on jid.
func chatAnswer(jid string, err error, msg string) (api.ChatActionResponse, error) {
	if err != nil {
		return api.ChatActionResponse{}, err
	}
	return api.ChatActionResponse{Success: true, Jid: jid, Message: msg}, nil
}

// messageAnswer is the answer of a message operation.
func messageAnswer(msg string, err error) (api.SuccessMessage, error) {
	if err != nil {
		return api.SuccessMessage{}, err
	}
	return api.SuccessMessage{Success: true, Message: msg}, nil
}

// DeleteChat deletes a chat on every device of the account.
func (h *Chats) DeleteChat(ctx context.Context, r api.DeleteChatRequestObject) (api.DeleteChatResponseObject, error) {
	jid, err := h.Service.DeleteChat(ctx, r.Id, r.ChatId)
	out, err := chatAnswer(jid, err, gateway.MsgChatDeleted)
	if err != nil {
		return nil, err
	}
	return api.DeleteChat200JSONResponse(out), nil
}

// ArchiveChat archives a chat.
func (h *Chats) ArchiveChat(ctx context.Context, r api.ArchiveChatRequestObject) (api.ArchiveChatResponseObject, error) {
	jid, err := h.Service.ArchiveChat(ctx, r.Id, r.ChatId, true)
	out, err := chatAnswer(jid, err, gateway.MsgChatArchived)
	if err != nil {
		return nil, err
	}
	return api.ArchiveChat200JSONResponse(out), nil
}

// UnarchiveChat unarchives a chat.
func (h *Chats) UnarchiveChat(ctx context.Context, r api.UnarchiveChatRequestObject) (api.UnarchiveChatResponseObject, error) {
	jid, err := h.Service.ArchiveChat(ctx, r.Id, r.ChatId, false)
	out, err := chatAnswer(jid, err, gateway.MsgChatUnarchived)
	if err != nil {
		return nil, err
	}
	return api.UnarchiveChat200JSONResponse(out), nil
}

// MarkChatUnread marks a chat unread.
func (h *Chats) MarkChatUnread(ctx context.Context, r api.MarkChatUnreadRequestObject) (api.MarkChatUnreadResponseObject, error) {
	jid, err := h.Service.MarkChatUnread(ctx, r.Id, r.ChatId)
	out, err := chatAnswer(jid, err, gateway.MsgChatMarkedUnread)
	if err != nil {
		return nil, err
	}
	return api.MarkChatUnread200JSONResponse(out), nil
}

// BatchChats archives or unarchives up to 100 chats and reports each.
func (h *Chats) BatchChats(ctx context.Context, r api.BatchChatsRequestObject) (api.BatchChatsResponseObject, error) {
	if r.Body == nil {
		return nil, gateway.E(gateway.CodeInvalid, "request body is required")
	}
	var archive bool
	switch r.Body.Action {
	case api.Archive:
		archive = true
	case api.Unarchive:
	default:
		return nil, gateway.E(gateway.CodeInvalid, "action must be archive or unarchive")
	}
	results, err := h.Service.BatchArchive(ctx, r.Id, r.Body.ChatIds, archive)
	if err != nil {
		return nil, err
	}
	resp := api.BatchChats200JSONResponse{Success: true, Results: make([]api.BatchChatResult, 0, len(results))}
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
}

// DeleteMessage deletes one of the session's own messages for everyone.
func (h *Chats) DeleteMessage(ctx context.Context, r api.DeleteMessageRequestObject) (api.DeleteMessageResponseObject, error) {
	out, err := messageAnswer(gateway.MsgMessageDeleted, h.Service.DeleteMessage(ctx, r.Id, r.ChatId, r.MessageId))
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
	out, err := messageAnswer(gateway.MsgMessageEdited, h.Service.EditMessage(ctx, r.Id, r.ChatId, r.MessageId, r.Body.Text))
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
	out, err := messageAnswer(gateway.MsgMessagePinned, h.Service.PinMessage(ctx, r.Id, r.ChatId, r.MessageId, duration))
	if err != nil {
		return nil, err
	}
	return api.PinMessage200JSONResponse(out), nil
}

// UnpinMessage unpins a message.
func (h *Chats) UnpinMessage(ctx context.Context, r api.UnpinMessageRequestObject) (api.UnpinMessageResponseObject, error) {
	out, err := messageAnswer(gateway.MsgMessageUnpinned, h.Service.UnpinMessage(ctx, r.Id, r.ChatId, r.MessageId))
	if err != nil {
		return nil, err
	}
	return api.UnpinMessage200JSONResponse(out), nil
}

// StarMessage stars (default) or unstars a message.
func (h *Chats) StarMessage(ctx context.Context, r api.StarMessageRequestObject) (api.StarMessageResponseObject, error) {
	on := r.Body == nil || r.Body.Star == nil || *r.Body.Star
	msg, err := h.Service.StarMessage(ctx, r.Id, r.ChatId, r.MessageId, &on)
	out, err := messageAnswer(msg, err)
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
	out, err := messageAnswer(gateway.MsgReactionSent, h.Service.React(ctx, r.Id, r.Body.ChatId, r.MessageId, emoji))
	if err != nil {
		return nil, err
	}
	return api.ReactToMessage200JSONResponse(out), nil
}
