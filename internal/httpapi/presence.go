package httpapi

import (
	"context"

	"github.com/wagate-dev/wagate/gen/api"
	"github.com/wagate-dev/wagate/internal/gateway"
)

// msgNoConversation answers the conversation operations of a server built
// without the conversation service.
const msgNoConversation = "Conversation features are not available on this server"

// Conversation implements the presence and calls tags and the contact
// directory of the contacts tag (list, check, LID lookup) on the
// conversation service.
type Conversation struct {
	Service gateway.ConversationService
}

func (h *Conversation) svc() (gateway.ConversationService, error) {
	if h.Service == nil {
		return nil, gateway.E(gateway.CodeUnavailable, msgNoConversation)
	}
	return h.Service, nil
}

// MarkChatRead sends read receipts for a chat.
func (h *Conversation) MarkChatRead(ctx context.Context, r api.MarkChatReadRequestObject) (api.MarkChatReadResponseObject, error) {
	svc, err := h.svc()
	if err != nil {
		return nil, err
	}
	var messageID string
	if r.Body != nil && r.Body.MessageId != nil {
		messageID = *r.Body.MessageId
	}
	jid, ids, err := svc.MarkRead(ctx, r.Id, r.ChatId, messageID)
	if err != nil {
		return nil, err
	}
	return api.MarkChatRead200JSONResponse{Success: true, Jid: jid, MessageIds: ids, Message: gateway.MsgChatMarkedRead}, nil
}

// SendTyping shows typing, recording or paused in a chat.
func (h *Conversation) SendTyping(ctx context.Context, r api.SendTypingRequestObject) (api.SendTypingResponseObject, error) {
	svc, err := h.svc()
	if err != nil {
		return nil, err
	}
	if r.Body == nil {
		return nil, gateway.E(gateway.CodeInvalid, gateway.MsgBadTypingState)
	}
	jid, err := svc.SetTyping(ctx, r.Id, r.ChatId, string(r.Body.State))
	if err != nil {
		return nil, err
	}
	return api.SendTyping200JSONResponse{Success: true, Jid: jid, Message: gateway.MsgTypingSent}, nil
}

// SetPresence sets the account's own presence.
func (h *Conversation) SetPresence(ctx context.Context, r api.SetPresenceRequestObject) (api.SetPresenceResponseObject, error) {
	svc, err := h.svc()
	if err != nil {
		return nil, err
	}
	if r.Body == nil {
		return nil, gateway.E(gateway.CodeInvalid, gateway.MsgBadPresenceState)
	}
	state := string(r.Body.State)
	if err := svc.SetPresence(ctx, r.Id, state); err != nil {
		return nil, err
	}
	return api.SetPresence200JSONResponse{Success: true, Message: "Presence set to " + state}, nil
}

// SubscribePresence subscribes to a contact's presence.
func (h *Conversation) SubscribePresence(ctx context.Context, r api.SubscribePresenceRequestObject) (api.SubscribePresenceResponseObject, error) {
	svc, err := h.svc()
	if err != nil {
		return nil, err
	}
	if r.Body == nil {
		return nil, gateway.E(gateway.CodeInvalid, "jid is required")
	}
	jid, err := svc.SubscribePresence(ctx, r.Id, r.Body.Jid)
	if err != nil {
		return nil, err
	}
	return api.SubscribePresence200JSONResponse{Success: true, Jid: jid, Message: gateway.MsgSubscribed}, nil
}

// ListContacts lists the account's contacts.
func (h *Conversation) ListContacts(ctx context.Context, r api.ListContactsRequestObject) (api.ListContactsResponseObject, error) {
	svc, err := h.svc()
	if err != nil {
		return nil, err
	}
	list, err := svc.ListContacts(ctx, r.Id)
	if err != nil {
		return nil, err
	}
	out := make([]api.Contact, len(list))
	for i, c := range list {
		out[i] = api.Contact{Jid: c.JID, Lid: c.LID, Name: c.Name, PushName: c.PushName, BusinessName: c.BusinessName}
	}
	return api.ListContacts200JSONResponse{Success: true, Contacts: out}, nil
}

// CheckNumbers asks WhatsApp about up to 50 numbers.
func (h *Conversation) CheckNumbers(ctx context.Context, r api.CheckNumbersRequestObject) (api.CheckNumbersResponseObject, error) {
	svc, err := h.svc()
	if err != nil {
		return nil, err
	}
	if r.Body == nil {
		return nil, gateway.E(gateway.CodeInvalid, gateway.MsgTooManyNumbers)
	}
	res, err := svc.CheckNumbers(ctx, r.Id, r.Body.Numbers)
	if err != nil {
		return nil, err
	}
	out := make([]api.NumberCheck, len(res))
	for i, c := range res {
		out[i] = api.NumberCheck{Number: c.Number, OnWhatsApp: c.OnWhatsApp, Jid: c.JID, Lid: c.LID}
	}
	return api.CheckNumbers200JSONResponse{Success: true, Results: out}, nil
}

// LookupLid maps a phone number or JID to its LID, or a LID to its phone JID.
func (h *Conversation) LookupLid(ctx context.Context, r api.LookupLidRequestObject) (api.LookupLidResponseObject, error) {
	svc, err := h.svc()
	if err != nil {
		return nil, err
	}
	m, err := svc.LookupLID(ctx, r.Id, r.Jid)
	if err != nil {
		return nil, err
	}
	return api.LookupLid200JSONResponse{Success: true, Jid: m.PN, Lid: m.LID}, nil
}

// RejectCall rejects a ringing call.
func (h *Conversation) RejectCall(ctx context.Context, r api.RejectCallRequestObject) (api.RejectCallResponseObject, error) {
	svc, err := h.svc()
	if err != nil {
		return nil, err
	}
	if err := svc.RejectCall(ctx, r.Id, r.CallId); err != nil {
		return nil, err
	}
	return api.RejectCall200JSONResponse{Success: true, Message: gateway.MsgCallRejected}, nil
}
