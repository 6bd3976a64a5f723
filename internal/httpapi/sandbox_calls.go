package httpapi

import (
	"context"

	"github.com/wagate-dev/wagate/gen/api"
	"github.com/wagate-dev/wagate/internal/gateway"
)

// SandboxCalls implements the sandbox's call operations on the sandbox
// service (when it offers gateway.SandboxCalls; 404 outside sandbox mode).
type SandboxCalls struct {
	Service gateway.Sandbox
}

func (h *SandboxCalls) calls() (gateway.SandboxCalls, error) {
	c, ok := h.Service.(gateway.SandboxCalls)
	if h.Service == nil || !ok {
		return nil, errSandboxAbsent
	}
	return c, nil
}

// SandboxCall makes a simulated contact call the session's account.
func (h *SandboxCalls) SandboxCall(ctx context.Context, r api.SandboxCallRequestObject) (api.SandboxCallResponseObject, error) {
	c, err := h.calls()
	if err != nil {
		return nil, err
	}
	if r.Body == nil {
		return nil, gateway.E(gateway.CodeInvalid, "from is required")
	}
	id, err := c.Call(ctx, r.Id, r.Body.From)
	if err != nil {
		return nil, err
	}
	return api.SandboxCall200JSONResponse{Success: true, CallId: id}, nil
}

// SandboxCallState returns a simulated call as the caller sees it.
func (h *SandboxCalls) SandboxCallState(ctx context.Context, r api.SandboxCallStateRequestObject) (api.SandboxCallStateResponseObject, error) {
	c, err := h.calls()
	if err != nil {
		return nil, err
	}
	call, err := c.CallState(ctx, r.CallId)
	if err != nil {
		return nil, err
	}
	return api.SandboxCallState200JSONResponse{Success: true, CallId: call.ID, From: call.From, To: call.To,
		State: api.SandboxCallStateResponseState(call.State), RejectedBy: call.RejectedBy}, nil
}
