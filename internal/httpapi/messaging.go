package httpapi

import (
	"context"

	"github.com/wagate-dev/wagate/gen/api"
)

// Messaging implements the messaging tag (sending and the message store). Every operation answers 501 until
// the message service is plugged in: replace this file with handlers that take
// their dependencies as internal/gateway interfaces.
type Messaging struct{}

// SendText answers 501 Not Implemented (planned).
func (*Messaging) SendText(context.Context, api.SendTextRequestObject) (api.SendTextResponseObject, error) {
	return nil, errNotImplemented
}

// SendImage answers 501 Not Implemented (planned).
func (*Messaging) SendImage(context.Context, api.SendImageRequestObject) (api.SendImageResponseObject, error) {
	return nil, errNotImplemented
}

// ListChats answers 501 Not Implemented (planned).
func (*Messaging) ListChats(context.Context, api.ListChatsRequestObject) (api.ListChatsResponseObject, error) {
	return nil, errNotImplemented
}

// ListMessages answers 501 Not Implemented (planned).
func (*Messaging) ListMessages(context.Context, api.ListMessagesRequestObject) (api.ListMessagesResponseObject, error) {
	return nil, errNotImplemented
}

// GetMessage answers 501 Not Implemented (planned).
func (*Messaging) GetMessage(context.Context, api.GetMessageRequestObject) (api.GetMessageResponseObject, error) {
	return nil, errNotImplemented
}
