package whatsapp

import (
	"context"
	"errors"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"

	"github.com/wagate-dev/wagate/internal/gateway"
)

// Conversation state (read receipts, presence, chat states), the contact
// directory and calls: gateway.ReadReceiptSender, PresenceSender,
// ContactDirectory and CallRejecter, and the inbound presence, chat-state
// and call events (recorded through Options.Events).

var (
	_ gateway.ReadReceiptSender = (*Manager)(nil)
	_ gateway.PresenceSender    = (*Manager)(nil)
	_ gateway.ContactDirectory  = (*Manager)(nil)
	_ gateway.CallRejecter      = (*Manager)(nil)
)

// maxRinging is how long an offered call may ring: WhatsApp gives up on
// an unanswered call well within it, so an older offer whose end was
// missed (the node was down) counts as ended.
const maxRinging = 3 * time.Minute

// ringingCall is a call offered to a session that has not ended.
type ringingCall struct {
	from types.JID // the caller as the offer named it
	at   time.Time
}

// callRegistry keeps the ringing calls of every session: in PostgreSQL
// (gateway.RingingCalls, shared by the nodes and kept across restarts)
// when a store is set, else in this manager (keyed by session: nothing per
// session in globals).
type callRegistry struct {
	store gateway.RingingCalls
	mu    sync.Mutex
	calls map[uuid.UUID]map[string]ringingCall
}

func (r *callRegistry) put(ctx context.Context, sid uuid.UUID, id string, c ringingCall) error {
	if r.store != nil {
		return r.store.PutRingingCall(ctx, sid, id, c.from.String(), c.at, time.Now().Add(-maxRinging))
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.calls == nil {
		r.calls = map[uuid.UUID]map[string]ringingCall{}
	}
	if r.calls[sid] == nil {
		r.calls[sid] = map[string]ringingCall{}
	}
	r.calls[sid][id] = c
	return nil
}

// take removes and returns a ringing call.
func (r *callRegistry) take(ctx context.Context, sid uuid.UUID, id string) (ringingCall, bool, error) {
	if r.store != nil {
		caller, at, ok, err := r.store.TakeRingingCall(ctx, sid, id, time.Now().Add(-maxRinging))
		if err != nil || !ok {
			return ringingCall{}, false, err
		}
		from, err := types.ParseJID(caller)
		if err != nil {
			return ringingCall{}, false, nil //nolint:nilerr // an unparseable row is no call
		}
		return ringingCall{from: from, at: at}, true, nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.calls[sid][id]
	if ok {
		delete(r.calls[sid], id)
		if len(r.calls[sid]) == 0 {
			delete(r.calls, sid)
		}
	}
	if ok && time.Since(c.at) > maxRinging {
		return ringingCall{}, false, nil
	}
	return c, ok, nil
}

// drop forgets a call that ended.
func (r *callRegistry) drop(ctx context.Context, sid uuid.UUID, id string) error {
	if r.store != nil {
		return r.store.DropRingingCall(ctx, sid, id)
	}
	_, _, err := r.take(ctx, sid, id)
	return err
}

// MarkRead implements gateway.ReadReceiptSender.
func (m *Manager) MarkRead(ctx context.Context, sid uuid.UUID, chat, sender string, ids []string, at time.Time) error {
	cli, err := m.client(sid)
	if err != nil {
		return err
	}
	c, err := parseChat(chat)
	if err != nil {
		return err
	}
	s := types.EmptyJID
	if c.Server == types.GroupServer && sender != "" {
		if s, err = parseChat(sender); err != nil {
			return err
		}
	}
	if err := cli.MarkRead(ctx, ids, at, c, s); err != nil {
		return TranslateError(err)
	}
	return nil
}

// SendPresence implements gateway.PresenceSender.
func (m *Manager) SendPresence(ctx context.Context, sid uuid.UUID, available bool) error {
	cli, err := m.client(sid)
	if err != nil {
		return err
	}
	state := types.PresenceUnavailable
	if available {
		state = types.PresenceAvailable
	}
	err = cli.SendPresence(ctx, state)
	if errors.Is(err, whatsmeow.ErrNoPushName) {
		return gateway.E(gateway.CodeConflict, gateway.MsgNoPushName)
	}
	return TranslateError(err)
}

// SendChatState implements gateway.PresenceSender.
func (m *Manager) SendChatState(ctx context.Context, sid uuid.UUID, chat, state string) error {
	cli, err := m.client(sid)
	if err != nil {
		return err
	}
	c, err := parseChat(chat)
	if err != nil {
		return err
	}
	presence, media := types.ChatPresenceComposing, types.ChatPresenceMediaText
	switch state {
	case gateway.TypingRecording:
		media = types.ChatPresenceMediaAudio
	case gateway.TypingPaused:
		presence, media = types.ChatPresencePaused, ""
	}
	return TranslateError(cli.SendChatPresence(ctx, c, presence, media))
}

// SubscribePresence implements gateway.PresenceSender.
func (m *Manager) SubscribePresence(ctx context.Context, sid uuid.UUID, jid string) error {
	cli, err := m.client(sid)
	if err != nil {
		return err
	}
	j, err := parseChat(jid)
	if err != nil {
		return err
	}
	return TranslateError(cli.SubscribePresence(ctx, j))
}

// Contacts implements gateway.ContactDirectory from whatsmeow's contact
// store (app-state address book, push names, history), keyed by phone JID;
// LID entries whose number is known fold into their phone entry.
func (m *Manager) Contacts(ctx context.Context, sid uuid.UUID) ([]gateway.Contact, error) {
	cli, err := m.client(sid)
	if err != nil {
		return nil, err
	}
	all, err := cli.Store.Contacts.GetAllContacts(ctx)
	if err != nil {
		return nil, TranslateError(err)
	}
	byJID := map[string]*gateway.Contact{}
	for j, info := range all {
		if j.Server != types.DefaultUserServer && j.Server != types.HiddenUserServer {
			continue
		}
		jid, lid := j.ToNonAD(), types.EmptyJID
		if jid.Server == types.HiddenUserServer {
			lid = jid
			if pn, err := cli.Store.LIDs.GetPNForLID(ctx, lid); err == nil && !pn.IsEmpty() {
				jid = pn.ToNonAD()
			}
		} else if l, err := cli.Store.LIDs.GetLIDForPN(ctx, jid); err == nil && !l.IsEmpty() {
			lid = l.ToNonAD()
		}
		c := byJID[jid.String()]
		if c == nil {
			c = &gateway.Contact{JID: jid.String()}
			byJID[c.JID] = c
		}
		if !lid.IsEmpty() && c.LID == nil {
			c.LID = ptrTo(lid.String())
		}
		fill(&c.Name, firstNonEmpty(info.FullName, info.FirstName))
		fill(&c.PushName, info.PushName)
		fill(&c.BusinessName, info.BusinessName)
	}
	out := make([]gateway.Contact, 0, len(byJID))
	for _, c := range byJID {
		out = append(out, *c)
	}
	sort.Slice(out, func(i, k int) bool { return out[i].JID < out[k].JID })
	return out, nil
}

func ptrTo[T any](v T) *T { return &v }

// fill sets *p to v when it is unset and v is not empty.
func fill(p **string, v string) {
	if *p == nil && v != "" {
		*p = ptrTo(v)
	}
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

// CheckNumbers implements gateway.ContactDirectory with one usync query
// (whatsmeow's IsOnWhatsApp, which also stores the LIDs it learns).
func (m *Manager) CheckNumbers(ctx context.Context, sid uuid.UUID, phones []string) ([]gateway.NumberCheck, error) {
	cli, err := m.client(sid)
	if err != nil {
		return nil, err
	}
	query := make([]string, len(phones))
	for i, p := range phones {
		query[i] = "+" + p
	}
	resp, err := cli.IsOnWhatsApp(ctx, query)
	if err != nil {
		return nil, TranslateError(err)
	}
	byQuery := map[string]types.IsOnWhatsAppResponse{}
	for _, r := range resp {
		byQuery[strings.TrimPrefix(r.Query, "+")] = r
	}
	out := make([]gateway.NumberCheck, len(phones))
	for i, p := range phones {
		out[i].Number = p
		r, ok := byQuery[p]
		if !ok || !r.IsIn {
			continue
		}
		out[i].OnWhatsApp = true
		pn, lid := r.JID, types.EmptyJID
		if r.JID.Server == types.HiddenUserServer {
			lid, pn = r.JID, r.PhoneNumber
		}
		if pn.IsEmpty() {
			pn = types.NewJID(p, types.DefaultUserServer)
		}
		if lid.IsEmpty() {
			if l, err := cli.Store.LIDs.GetLIDForPN(ctx, pn); err == nil && !l.IsEmpty() {
				lid = l
			}
		}
		out[i].JID = ptrTo(pn.ToNonAD().String())
		if !lid.IsEmpty() {
			out[i].LID = ptrTo(lid.ToNonAD().String())
		}
	}
	return out, nil
}

// LIDForPN implements gateway.ContactDirectory.
func (m *Manager) LIDForPN(ctx context.Context, sid uuid.UUID, pn string, ask bool) (string, error) {
	j, err := parseChat(pn)
	if err != nil {
		return "", err
	}
	if lid, err := m.container.LIDMap.GetLIDForPN(ctx, j); err == nil && !lid.IsEmpty() {
		return lid.ToNonAD().String(), nil
	}
	if !ask {
		return "", nil
	}
	cli, err := m.client(sid)
	if err != nil {
		return "", err
	}
	info, err := cli.GetUserInfo(ctx, []types.JID{j})
	if err != nil {
		return "", TranslateError(err)
	}
	if u, ok := info[j]; ok && !u.LID.IsEmpty() {
		return u.LID.ToNonAD().String(), nil
	}
	return "", nil
}

// PNForLID implements gateway.ContactDirectory.
func (m *Manager) PNForLID(ctx context.Context, _ uuid.UUID, lid string) (string, error) {
	j, err := parseChat(lid)
	if err != nil {
		return "", err
	}
	pn, err := m.container.LIDMap.GetPNForLID(ctx, j)
	if err != nil || pn.IsEmpty() {
		return "", nil //nolint:nilerr // a lookup failure is an unknown mapping
	}
	return pn.ToNonAD().String(), nil
}

// RejectCall implements gateway.CallRejecter.
func (m *Manager) RejectCall(ctx context.Context, sid uuid.UUID, callID string) error {
	cli, err := m.client(sid)
	if err != nil {
		return err
	}
	c, ok, err := m.calls.take(ctx, sid, callID)
	if err != nil {
		return gateway.Wrap(gateway.CodeInternal, gateway.MsgInternal, err)
	}
	if !ok {
		return gateway.E(gateway.CodeNotFound, gateway.MsgCallNotFound)
	}
	if err := cli.RejectCall(ctx, c.from, callID); err != nil {
		if perr := m.calls.put(ctx, sid, callID, c); perr != nil {
			m.log.Warn().Err(perr).Str("session_id", sid.String()).Str("call_id", callID).Msg("ringing call not restored")
		}
		return TranslateError(err)
	}
	m.recordCall(ctx, sid, gateway.CallEvent{CallID: callID, From: m.userJID(ctx, c.from, types.EmptyJID),
		Status: gateway.CallRejected, Timestamp: time.Now().UTC()})
	return nil
}

// recordEvent records a conversation event; failures are logged (presence,
// typing and calls are not redelivered by WhatsApp, so there is nothing
// to withhold).
func (h *clientHandler) recordEvent(typ string, data any) {
	h.s.m.recordEvent(h.ctx, h.s.id, typ, data)
}

func (m *Manager) recordEvent(ctx context.Context, sid uuid.UUID, typ string, data any) {
	if m.opts.Events == nil {
		return
	}
	if err := m.opts.Events.RecordEvent(ctx, sid, typ, data); err != nil {
		m.log.Warn().Err(err).Str("session_id", sid.String()).Str("event", typ).Msg("conversation event not recorded")
	}
}

func (m *Manager) recordCall(ctx context.Context, sid uuid.UUID, e gateway.CallEvent) {
	m.recordEvent(ctx, sid, gateway.EventCall, e)
}

// lidOf is j's LID when j is a LID, else alt when that is one, else its
// known LID (nil when unknown).
func (m *Manager) lidOf(ctx context.Context, j, alt types.JID) *string {
	j, alt = j.ToNonAD(), alt.ToNonAD()
	if j.Server == types.HiddenUserServer {
		return ptrTo(j.String())
	}
	if alt.Server == types.HiddenUserServer {
		return ptrTo(alt.String())
	}
	if lid, err := m.container.LIDMap.GetLIDForPN(ctx, j); err == nil && !lid.IsEmpty() {
		return ptrTo(lid.ToNonAD().String())
	}
	return nil
}

// onPresence turns a subscribed contact's presence into a presence event.
func (h *clientHandler) onPresence(evt *events.Presence) {
	if evt.From.Server == types.GroupServer {
		return
	}
	e := gateway.PresenceEvent{JID: h.s.m.userJID(h.ctx, evt.From, types.EmptyJID), LID: h.s.m.lidOf(h.ctx, evt.From, types.EmptyJID), State: gateway.PresenceAvailable}
	if evt.Unavailable {
		e.State = gateway.PresenceUnavailable
	}
	if !evt.LastSeen.IsZero() {
		e.LastSeen = ptrTo(evt.LastSeen.UTC())
	}
	h.recordEvent(gateway.EventPresence, e)
}

// onChatPresence turns a contact's chat state into a typing event.
func (h *clientHandler) onChatPresence(evt *events.ChatPresence) {
	if evt.IsFromMe {
		return
	}
	state := gateway.TypingComposing
	switch {
	case evt.State == types.ChatPresencePaused:
		state = gateway.TypingPaused
	case evt.Media == types.ChatPresenceMediaAudio:
		state = gateway.TypingRecording
	}
	h.recordEvent(gateway.EventTyping, gateway.TypingEvent{
		ChatJID: h.s.m.chatRefAlt(h.ctx, evt.Chat, types.EmptyJID).JID,
		Sender:  h.s.m.userJID(h.ctx, evt.Sender, evt.SenderAlt),
		State:   state,
	})
}

// onCall turns call offers, accepts and ends into call events, keeps
// offers ringing for RejectCall, and rejects offers at once when the
// session's call policy says so.
func (h *clientHandler) onCall(meta types.BasicCallMeta, status, reason string) {
	m := h.s.m
	caller := meta.CallCreator
	if caller.IsEmpty() {
		caller = meta.From
	}
	e := gateway.CallEvent{CallID: meta.CallID, From: m.userJID(h.ctx, caller, meta.CallCreatorAlt), LID: m.lidOf(h.ctx, caller, meta.CallCreatorAlt),
		Status: status, IsGroup: !meta.GroupJID.IsEmpty(), Timestamp: meta.Timestamp.UTC()}
	if e.Timestamp.IsZero() {
		e.Timestamp = time.Now().UTC()
	}
	if reason != "" {
		e.Reason = ptrTo(reason)
	}
	var err error
	if status == gateway.CallOffer {
		err = m.calls.put(h.ctx, h.s.id, meta.CallID, ringingCall{from: caller, at: e.Timestamp})
	} else {
		err = m.calls.drop(h.ctx, h.s.id, meta.CallID)
	}
	if err != nil {
		h.s.log.Warn().Err(err).Str("call_id", meta.CallID).Str("status", status).Msg("ringing call not recorded")
	}
	h.recordEvent(gateway.EventCall, e)
	if status == gateway.CallOffer && m.opts.CallPolicy != nil {
		go h.autoReject(meta.CallID, caller)
	}
}

// autoReject rejects an offered call when the session's policy says so,
// and sends the policy's text to the caller.
func (h *clientHandler) autoReject(callID string, caller types.JID) {
	m := h.s.m
	reject, text, err := m.opts.CallPolicy.CallPolicy(h.ctx, h.s.id)
	if err != nil {
		h.s.log.Warn().Err(err).Msg("call policy unavailable")
		return
	}
	if !reject {
		return
	}
	if err := m.RejectCall(h.ctx, h.s.id, callID); err != nil {
		h.s.log.Warn().Err(err).Str("call_id", callID).Msg("automatic call rejection failed")
		return
	}
	if text == "" {
		return
	}
	to := gateway.ChatRef{JID: m.userJID(h.ctx, caller, types.EmptyJID)}
	if _, err := m.SendText(h.ctx, h.s.id, gateway.OutgoingText{Chat: to, Text: text}); err != nil {
		h.s.log.Warn().Err(err).Str("call_id", callID).Msg("call rejection reply failed")
	}
}
