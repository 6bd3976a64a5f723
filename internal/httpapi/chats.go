package httpapi

import (
	"context"

	"github.com/wagate-dev/wagate/gen/api"
)

// Chats implements the chats tag (chat management and message operations). Every operation answers 501 until
// the chat service is plugged in: replace this file with handlers that take
// their dependencies as internal/gateway interfaces.
type Chats struct{}

// BatchChats answers 501 Not Implemented (planned).
func (*Chats) BatchChats(context.Context, api.BatchChatsRequestObject) (api.BatchChatsResponseObject, error) {
	return nil, errNotImplemented
}

// DeleteChat answers 501 Not Implemented (planned).
func (*Chats) DeleteChat(context.Context, api.DeleteChatRequestObject) (api.DeleteChatResponseObject, error) {
	return nil, errNotImplemented
}

// ArchiveChat answers 501 Not Implemented (planned).
func (*Chats) ArchiveChat(context.Context, api.ArchiveChatRequestObject) (api.ArchiveChatResponseObject, error) {
	return nil, errNotImplemented
}

// UnarchiveChat answers 501 Not Implemented (planned).
func (*Chats) UnarchiveChat(context.Context, api.UnarchiveChatRequestObject) (api.UnarchiveChatResponseObject, error) {
	return nil, errNotImplemented
}

// MarkChatUnread answers 501 Not Implemented (planned).
func (*Chats) MarkChatUnread(context.Context, api.MarkChatUnreadRequestObject) (api.MarkChatUnreadResponseObject, error) {
	return nil, errNotImplemented
}

// DeleteMessage answers 501 Not Implemented (planned).
func (*Chats) DeleteMessage(context.Context, api.DeleteMessageRequestObject) (api.DeleteMessageResponseObject, error) {
	return nil, errNotImplemented
}

// EditMessage answers 501 Not Implemented (planned).
func (*Chats) EditMessage(context.Context, api.EditMessageRequestObject) (api.EditMessageResponseObject, error) {
	return nil, errNotImplemented
}

// PinMessage answers 501 Not Implemented (planned).
func (*Chats) PinMessage(context.Context, api.PinMessageRequestObject) (api.PinMessageResponseObject, error) {
	return nil, errNotImplemented
}

// UnpinMessage answers 501 Not Implemented (planned).
func (*Chats) UnpinMessage(context.Context, api.UnpinMessageRequestObject) (api.UnpinMessageResponseObject, error) {
	return nil, errNotImplemented
}

// StarMessage answers 501 Not Implemented (planned).
func (*Chats) StarMessage(context.Context, api.StarMessageRequestObject) (api.StarMessageResponseObject, error) {
	return nil, errNotImplemented
}

// ReactToMessage answers 501 Not Implemented (planned).
func (*Chats) ReactToMessage(context.Context, api.ReactToMessageRequestObject) (api.ReactToMessageResponseObject, error) {
	return nil, errNotImplemented
}
