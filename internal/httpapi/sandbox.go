package httpapi

import (
	"context"
	"encoding/base64"

	"github.com/wagate-dev/wagate/gen/api"
	"github.com/wagate-dev/wagate/internal/gateway"
)

// Sandbox implements the sandbox tag: the control plane of the simulated
// WhatsApp. With a nil Service (not in sandbox mode) every operation is
// absent: 404 as for an unknown route.
type Sandbox struct {
	Service gateway.Sandbox
}

// errSandboxAbsent is the answer outside sandbox mode.
var errSandboxAbsent = gateway.E(gateway.CodeNotFound, gateway.MsgRouteNotFound)

// SandboxLink links the session with the simulated phone of body.phone.
func (h *Sandbox) SandboxLink(ctx context.Context, req api.SandboxLinkRequestObject) (api.SandboxLinkResponseObject, error) {
	if h.Service == nil {
		return nil, errSandboxAbsent
	}
	method := "qr"
	if req.Body.Method != nil {
		method = string(*req.Body.Method)
	}
	jid, dev, err := h.Service.Link(ctx, req.Id, req.Body.Phone, method)
	if err != nil {
		return nil, err
	}
	out := api.SandboxLink200JSONResponse{Success: true, Jid: jid}
	if dev != "" {
		out.DeviceJid = &dev
	}
	return out, nil
}

// sandboxInbound converts the request body (media from base64).
func sandboxInbound(b *api.SandboxInboundJSONRequestBody) (gateway.SandboxInboundMessage, error) {
	m := gateway.SandboxInboundMessage{
		Text: deref(b.Text), MimeType: deref(b.MimeType), Caption: deref(b.Caption), FileName: deref(b.FileName),
		PTT: deref(b.Ptt), GIF: deref(b.Gif), Latitude: b.Latitude, Longitude: b.Longitude,
		Name: deref(b.Name), Address: deref(b.Address), Question: deref(b.Question),
		SelectableCount: deref(b.SelectableCount), TargetID: deref(b.TargetId),
	}
	if b.Type != nil {
		m.Type = string(*b.Type)
	}
	if b.Media != nil {
		data, err := base64.StdEncoding.DecodeString(*b.Media)
		if err != nil {
			return m, gateway.E(gateway.CodeInvalid, "media must be base64")
		}
		m.Media = data
	}
	if b.Options != nil {
		m.Options = *b.Options
	}
	if b.Vcards != nil {
		m.VCards = append(m.VCards, *b.Vcards...)
	}
	if b.Contacts != nil {
		cards := make([]gateway.ContactCard, len(*b.Contacts))
		for i, c := range *b.Contacts {
			cards[i] = gateway.ContactCard{Name: c.Name, Phones: c.Phones}
		}
		m.Contacts = cards
	}
	return m, nil
}

// SandboxInbound makes a simulated contact send a message to the session.
func (h *Sandbox) SandboxInbound(ctx context.Context, req api.SandboxInboundRequestObject) (api.SandboxInboundResponseObject, error) {
	if h.Service == nil {
		return nil, errSandboxAbsent
	}
	m, err := sandboxInbound(req.Body)
	if err != nil {
		return nil, err
	}
	id, err := h.Service.Inbound(ctx, req.Id, req.Body.From, m)
	if err != nil {
		return nil, err
	}
	return api.SandboxInbound200JSONResponse{Success: true, MessageId: id}, nil
}

// SandboxHistory makes the session's phone deliver a history sync.
func (h *Sandbox) SandboxHistory(ctx context.Context, req api.SandboxHistoryRequestObject) (api.SandboxHistoryResponseObject, error) {
	if h.Service == nil {
		return nil, errSandboxAbsent
	}
	msgs := make([]gateway.SandboxHistoryMessage, len(req.Body.Messages))
	for i, m := range req.Body.Messages {
		msgs[i] = gateway.SandboxHistoryMessage{Chat: m.Chat, FromMe: m.FromMe, Text: m.Text, Timestamp: m.Timestamp}
		if m.Id != nil {
			msgs[i].ID = *m.Id
		}
	}
	ids, err := h.Service.History(ctx, req.Id, msgs)
	if err != nil {
		return nil, err
	}
	return api.SandboxHistory200JSONResponse{Success: true, MessageIds: ids}, nil
}

// SandboxDevice returns the simulator's connection counts of the
// session's linked device.
func (h *Sandbox) SandboxDevice(ctx context.Context, req api.SandboxDeviceRequestObject) (api.SandboxDeviceResponseObject, error) {
	if h.Service == nil {
		return nil, errSandboxAbsent
	}
	d, err := h.Service.Device(ctx, req.Id)
	if err != nil {
		return nil, err
	}
	return api.SandboxDevice200JSONResponse{Success: true, Connections: d.Connections, Replaced: d.Replaced}, nil
}

// SandboxPhoneView returns the phone's view from decoded app state.
func (h *Sandbox) SandboxPhoneView(ctx context.Context, req api.SandboxPhoneViewRequestObject) (api.SandboxPhoneViewResponseObject, error) {
	if h.Service == nil {
		return nil, errSandboxAbsent
	}
	v, err := h.Service.PhoneView(ctx, req.Id)
	if err != nil {
		return nil, err
	}
	out := api.SandboxPhoneView200JSONResponse{Success: true, Jid: v.JID, Chats: []api.SandboxChatView{}, Starred: []api.SandboxStarred{}}
	for _, c := range v.Chats {
		pinned := c.Pinned
		out.Chats = append(out.Chats, api.SandboxChatView{Jid: c.JID, Archived: c.Archived, MarkedUnread: c.MarkedUnread, Deleted: c.Deleted, Pinned: &pinned})
	}
	for _, s := range v.Starred {
		fromMe := s.FromMe
		out.Starred = append(out.Starred, api.SandboxStarred{Chat: s.Chat, Id: s.ID, FromMe: &fromMe})
	}
	return out, nil
}

// SandboxContactMessages returns what a simulated contact decrypted.
func (h *Sandbox) SandboxContactMessages(ctx context.Context, req api.SandboxContactMessagesRequestObject) (api.SandboxContactMessagesResponseObject, error) {
	if h.Service == nil {
		return nil, errSandboxAbsent
	}
	list, err := h.Service.ContactMessages(ctx, req.Phone)
	if err != nil {
		return nil, err
	}
	out := api.SandboxContactMessages200JSONResponse{Success: true, Phone: req.Phone, Messages: []api.SandboxReceived{}}
	for _, r := range list {
		item := api.SandboxReceived{Id: r.ID, From: r.From, Kind: api.SandboxReceivedKind(r.Kind)}
		if r.Chat != "" {
			item.Chat = &r.Chat
		}
		if r.Text != "" {
			item.Text = &r.Text
		}
		if r.TargetID != "" {
			item.TargetId = &r.TargetID
		}
		item.Emoji = r.Emoji // reactions only; "" is a removed reaction
		if r.PinDurationSeconds != 0 {
			item.PinDurationSeconds = &r.PinDurationSeconds
		}
		if !r.Timestamp.IsZero() {
			item.Timestamp = &r.Timestamp
		}
		receivedKindFields(&item, r.SandboxReceivedKind)
		out.Messages = append(out.Messages, item)
	}
	if out.Receipts, err = sandboxReceipts(ctx, h.Service, req.Phone); err != nil {
		return nil, err
	}
	return out, nil
}

// SandboxCreateGroup makes a simulated member create a group.
func (h *Sandbox) SandboxCreateGroup(ctx context.Context, req api.SandboxCreateGroupRequestObject) (api.SandboxCreateGroupResponseObject, error) {
	if h.Service == nil {
		return nil, errSandboxAbsent
	}
	lid := req.Body.Lid != nil && *req.Body.Lid
	gid, err := h.Service.CreateGroup(ctx, req.Body.Subject, req.Body.Owner, req.Body.Participants, lid)
	if err != nil {
		return nil, err
	}
	return api.SandboxCreateGroup200JSONResponse{Success: true, GroupId: gid}, nil
}

// SandboxGetGroup returns the simulator's view of a group.
func (h *Sandbox) SandboxGetGroup(ctx context.Context, req api.SandboxGetGroupRequestObject) (api.SandboxGetGroupResponseObject, error) {
	if h.Service == nil {
		return nil, errSandboxAbsent
	}
	g, err := h.Service.Group(ctx, req.GroupId)
	if err != nil {
		return nil, err
	}
	out := api.SandboxGroup{
		Jid: g.JID, Subject: g.Subject, Description: g.Description, Creator: g.Creator, Announce: g.Announce, Locked: g.Locked,
		AddressingMode: api.SandboxGroupAddressingMode(g.AddressingMode), InviteCode: g.InviteCode,
		Participants: make([]api.SandboxGroupParticipant, len(g.Participants)),
	}
	for i, p := range g.Participants {
		out.Participants[i] = api.SandboxGroupParticipant{Phone: p.Phone, Jid: p.JID, Lid: p.LID, Role: api.SandboxGroupParticipantRole(p.Role)}
	}
	return api.SandboxGetGroup200JSONResponse{Success: true, Group: out}, nil
}

// SandboxGroupInbound makes a simulated member send a text to a group.
func (h *Sandbox) SandboxGroupInbound(ctx context.Context, req api.SandboxGroupInboundRequestObject) (api.SandboxGroupInboundResponseObject, error) {
	if h.Service == nil {
		return nil, errSandboxAbsent
	}
	id, err := h.Service.GroupInbound(ctx, req.GroupId, req.Body.From, req.Body.Text)
	if err != nil {
		return nil, err
	}
	return api.SandboxGroupInbound200JSONResponse{Success: true, MessageId: id}, nil
}

// SandboxGroupParticipants makes a simulated member change a group's
// participants.
func (h *Sandbox) SandboxGroupParticipants(ctx context.Context, req api.SandboxGroupParticipantsRequestObject) (api.SandboxGroupParticipantsResponseObject, error) {
	if h.Service == nil {
		return nil, errSandboxAbsent
	}
	res, err := h.Service.GroupParticipants(ctx, req.GroupId, string(req.Body.Action), req.Body.By, req.Body.Participants)
	if err != nil {
		return nil, err
	}
	out := api.SandboxGroupParticipants200JSONResponse{Success: true, Results: make([]api.SandboxGroupParticipantResult, len(res))}
	for i, r := range res {
		item := api.SandboxGroupParticipantResult{Phone: r.Phone, Success: r.Error == 0}
		if r.Error != 0 {
			code := r.Error
			item.Error = &code
		}
		out.Results[i] = item
	}
	return out, nil
}

// SandboxFault injects a simulated WhatsApp failure on the session.
func (h *Sandbox) SandboxFault(ctx context.Context, req api.SandboxFaultRequestObject) (api.SandboxFaultResponseObject, error) {
	if h.Service == nil {
		return nil, errSandboxAbsent
	}
	kind := string(req.Body.Kind)
	if err := h.Service.Fault(ctx, req.Id, kind); err != nil {
		return nil, err
	}
	return api.SandboxFault200JSONResponse{Success: true, Kind: kind}, nil
}

// SandboxExpireMedia expires a message's media on the simulated media
// server.
func (h *Sandbox) SandboxExpireMedia(ctx context.Context, req api.SandboxExpireMediaRequestObject) (api.SandboxExpireMediaResponseObject, error) {
	if h.Service == nil {
		return nil, errSandboxAbsent
	}
	var offline *bool
	if req.Body != nil {
		offline = req.Body.PhoneOffline
	}
	if err := h.Service.ExpireMedia(ctx, req.Id, req.MessageId, offline); err != nil {
		return nil, err
	}
	return api.SandboxExpireMedia200JSONResponse{Success: true, MessageId: req.MessageId, PhoneOffline: offline}, nil
}
