package httpapi

import (
	"context"

	"github.com/wagate-dev/wagate/gen/api"
)

// Sandbox implements the sandbox tag (simulated WhatsApp). Every operation answers 501 until
// the sandbox is plugged in: replace this file with handlers that take
// their dependencies as internal/gateway interfaces.
type Sandbox struct{}

// SandboxLink answers 501 Not Implemented (planned).
func (*Sandbox) SandboxLink(context.Context, api.SandboxLinkRequestObject) (api.SandboxLinkResponseObject, error) {
	return nil, errNotImplemented
}

// SandboxInbound answers 501 Not Implemented (planned).
func (*Sandbox) SandboxInbound(context.Context, api.SandboxInboundRequestObject) (api.SandboxInboundResponseObject, error) {
	return nil, errNotImplemented
}

// SandboxHistory answers 501 Not Implemented (planned).
func (*Sandbox) SandboxHistory(context.Context, api.SandboxHistoryRequestObject) (api.SandboxHistoryResponseObject, error) {
	return nil, errNotImplemented
}

// SandboxPhoneView answers 501 Not Implemented (planned).
func (*Sandbox) SandboxPhoneView(context.Context, api.SandboxPhoneViewRequestObject) (api.SandboxPhoneViewResponseObject, error) {
	return nil, errNotImplemented
}

// SandboxContactMessages answers 501 Not Implemented (planned).
func (*Sandbox) SandboxContactMessages(context.Context, api.SandboxContactMessagesRequestObject) (api.SandboxContactMessagesResponseObject, error) {
	return nil, errNotImplemented
}
