package wasim

import (
	"errors"
	"slices"

	waBinary "go.mau.fi/whatsmeow/binary"
	"go.mau.fi/whatsmeow/types"
)

// Calls offered by simulated contacts: the offer is queued for every
// companion of the called account until it acknowledges it; a companion's
// <call><reject/></call> ends the call for the caller, who sees it in
// Calls().

// Call states of CallRecord.
const (
	CallStateRinging    = "ringing"
	CallStateRejected   = "rejected"
	CallStateTerminated = "terminated"
)

// CallRecord is a call a contact placed.
type CallRecord struct {
	ID    string
	From  types.JID // the caller (PN)
	To    types.JID // the called account (PN)
	State string
	// RejectedBy is the companion that rejected it.
	RejectedBy types.JID
}

// ErrUnknownAccount is returned for calls to a number with no account.
var ErrUnknownAccount = errors.New("wasim: no account with this number")

// OfferCall makes the contact call the account phone; it returns the call id.
func (c *Contact) OfferCall(phone string) (string, error) {
	s := c.s
	callID := randomHexUpper(16)
	s.mu.Lock()
	target := s.accounts[normalizePhone(phone)]
	if target == nil {
		s.mu.Unlock()
		return "", ErrUnknownAccount
	}
	s.conv.mu.Lock()
	s.conv.init()
	s.conv.calls[callID] = &CallRecord{ID: callID, From: c.acct.pnJID(), To: target.pnJID(), State: CallStateRinging}
	s.conv.mu.Unlock()
	for _, id := range target.sortedCompanionIDs() {
		d := target.companions[id]
		stanzaID := randomHexUpper(16)
		s.enqueueLocked(d, queueKey("call", "", stanzaID), callNode(stanzaID, c.acct, "offer", callID, waBinary.Attrs{},
			[]waBinary.Node{
				{Tag: "audio", Attrs: waBinary.Attrs{"enc": "opus", "rate": "16000"}},
				{Tag: "audio", Attrs: waBinary.Attrs{"enc": "opus", "rate": "8000"}},
				{Tag: "net", Attrs: waBinary.Attrs{"medium": "3"}},
				{Tag: "encopt", Attrs: waBinary.Attrs{"keygen": "2"}},
			}))
	}
	s.mu.Unlock()
	return callID, nil
}

// EndCall makes the contact hang up a call it placed (the companions see
// <terminate>).
func (c *Contact) EndCall(callID string) {
	s := c.s
	s.conv.mu.Lock()
	rec := s.conv.calls[callID]
	if rec != nil && rec.State == CallStateRinging {
		rec.State = CallStateTerminated
	}
	s.conv.mu.Unlock()
	if rec == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	target := s.accounts[rec.To.User]
	if target == nil {
		return
	}
	for _, id := range target.sortedCompanionIDs() {
		stanzaID := randomHexUpper(16)
		s.enqueueLocked(target.companions[id], queueKey("call", "", stanzaID),
			callNode(stanzaID, c.acct, "terminate", callID, waBinary.Attrs{"reason": "timeout"}, nil))
	}
}

func callNode(stanzaID string, caller *account, tag, callID string, extra waBinary.Attrs, content []waBinary.Node) waBinary.Node {
	attrs := waBinary.Attrs{"call-id": callID, "call-creator": caller.pnJID(), "caller_lid": caller.lidJID()}
	for k, v := range extra {
		attrs[k] = v
	}
	child := waBinary.Node{Tag: tag, Attrs: attrs}
	if content != nil {
		child.Content = content
	}
	return waBinary.Node{Tag: "call", Attrs: waBinary.Attrs{
		"from": caller.pnJID(), "id": stanzaID, "t": unixNow(), "platform": "android", "version": "2.24.1.1",
	}, Content: []waBinary.Node{child}}
}

// handleCall processes a companion's call stanza: a <reject> ends the call.
func (s *Server) handleCall(c *conn, node *waBinary.Node) {
	children := node.GetChildren()
	if len(children) != 1 {
		s.violation("<call> must hold exactly one child")
		return
	}
	child := children[0]
	if child.Tag != "reject" {
		c.log.Debug().Str("tag", child.Tag).Msg("ignored call stanza")
		return
	}
	callID := child.AttrGetter().OptionalString("call-id")
	s.mu.Lock()
	dev := c.dev
	var from types.JID
	if dev != nil {
		from = dev.jid()
	}
	s.mu.Unlock()
	s.conv.mu.Lock()
	defer s.conv.mu.Unlock()
	s.conv.init()
	rec := s.conv.calls[callID]
	switch {
	case rec == nil:
		s.violation("<call><reject> of unknown call %q", callID)
	case dev == nil || from.User != rec.To.User:
		s.violation("<call><reject> of call %q by a device of another account", callID)
	case rec.State == CallStateRinging:
		creator, _ := child.Attrs["call-creator"].(types.JID)
		if creator.ToNonAD() != rec.From && creator.ToNonAD().User != rec.From.User {
			s.violation("<call><reject> of call %q names call-creator %s, want %s", callID, creator, rec.From)
		}
		rec.State = CallStateRejected
		rec.RejectedBy = from
	}
}

// Calls returns the calls the contact placed, in no particular order.
func (c *Contact) Calls() []CallRecord {
	c.s.conv.mu.Lock()
	defer c.s.conv.mu.Unlock()
	var out []CallRecord
	for _, r := range c.s.conv.calls {
		if r.From.User == c.acct.pn {
			out = append(out, *r)
		}
	}
	slices.SortFunc(out, func(a, b CallRecord) int {
		if a.ID < b.ID {
			return -1
		}
		return 1
	})
	return out
}

// Call returns the call with id, if any.
func (s *Server) Call(id string) (CallRecord, bool) {
	s.conv.mu.Lock()
	defer s.conv.mu.Unlock()
	r, ok := s.conv.calls[id]
	if !ok {
		return CallRecord{}, false
	}
	return *r, true
}
