package httpapi

import (
	"context"

	"github.com/wagate-dev/wagate/gen/api"
	"github.com/wagate-dev/wagate/internal/gateway"
)

// SandboxConversation implements the sandbox's views of conversation
// state at the contacts and the address-book control (when the sandbox
// service offers gateway.SandboxConversation; 404 outside sandbox mode).
type SandboxConversation struct {
	Service gateway.Sandbox
}

func (h *SandboxConversation) conv() (gateway.SandboxConversation, error) {
	c, ok := h.Service.(gateway.SandboxConversation)
	if h.Service == nil || !ok {
		return nil, errSandboxAbsent
	}
	return c, nil
}

// SandboxContactChatState returns the chat states and presences a
// simulated contact saw.
func (h *SandboxConversation) SandboxContactChatState(ctx context.Context, r api.SandboxContactChatStateRequestObject) (api.SandboxContactChatStateResponseObject, error) {
	c, err := h.conv()
	if err != nil {
		return nil, err
	}
	v, err := c.ContactView(ctx, r.Phone)
	if err != nil {
		return nil, err
	}
	out := api.SandboxContactChatState200JSONResponse{Success: true, Phone: r.Phone,
		ChatStates: make([]api.SandboxChatState, 0, len(v.ChatStates)), Presences: make([]api.SandboxPresence, 0, len(v.Presences))}
	for _, s := range v.ChatStates {
		out.ChatStates = append(out.ChatStates, api.SandboxChatState{From: s.From, Device: s.Device, State: s.State})
	}
	if n := len(out.ChatStates); n > 0 {
		last := out.ChatStates[n-1]
		out.Last = &last
	}
	for _, p := range v.Presences {
		out.Presences = append(out.Presences, api.SandboxPresence{From: p.From, Device: p.Device, Type: p.Type})
	}
	return out, nil
}

// SandboxAddContact saves a contact with a name on the session's
// simulated phone (synced to the companions as contact app state).
func (h *SandboxConversation) SandboxAddContact(ctx context.Context, r api.SandboxAddContactRequestObject) (api.SandboxAddContactResponseObject, error) {
	c, err := h.conv()
	if err != nil {
		return nil, err
	}
	if r.Body == nil {
		return nil, gateway.E(gateway.CodeInvalid, "phone and name are required")
	}
	first := ""
	if r.Body.FirstName != nil {
		first = *r.Body.FirstName
	}
	jid, first, err := c.SaveContact(ctx, r.Id, r.Body.Phone, r.Body.Name, first)
	if err != nil {
		return nil, err
	}
	return api.SandboxAddContact200JSONResponse{Success: true, Jid: jid, Name: r.Body.Name, FirstName: first}, nil
}

// sandboxReceipts is the receipts part of a contact's messages view
// (empty when the sandbox cannot show conversation state).
func sandboxReceipts(ctx context.Context, s gateway.Sandbox, phone string) ([]api.SandboxReceipt, error) {
	out := []api.SandboxReceipt{}
	c, ok := s.(gateway.SandboxConversation)
	if !ok {
		return out, nil
	}
	v, err := c.ContactView(ctx, phone)
	if err != nil {
		return nil, err
	}
	for _, r := range v.Receipts {
		out = append(out, api.SandboxReceipt{MessageId: r.MessageID, Type: r.Type, Device: r.Device})
	}
	return out, nil
}
