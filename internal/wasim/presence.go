package wasim

import (
	"slices"
	"strconv"
	"sync"
	"time"

	waBinary "go.mau.fi/whatsmeow/binary"
	"go.mau.fi/whatsmeow/types"
)

// Presence and chat states both ways: what companions announce
// (<presence type="available|unavailable">, <presence type="subscribe">,
// <chatstate><composing|paused/></chatstate>) is recorded per account and
// per contact; simulated contacts announce theirs to the companions that
// subscribed (presence) or to every companion of the account (chat state).

// ChatStateRecord is a chat state a companion sent to a contact.
type ChatStateRecord struct {
	Device types.JID // the companion that sent it
	State  string    // composing or paused
	Media  string    // "audio" while recording a voice message, else ""
}

// PresenceRecord is a presence a companion announced.
type PresenceRecord struct {
	Device types.JID
	Type   string // available or unavailable
	Name   string // the push name sent with it
}

// convState is the simulator's presence, chat-state and call state.
type convState struct {
	mu sync.Mutex
	// subs: contact account PN user -> subscribed companions.
	subs map[string][]types.JID
	// presences: account PN user -> announcements by its companions.
	presences map[string][]PresenceRecord
	// chatStates: contact account PN user -> chat states companions sent it.
	chatStates map[string][]ChatStateRecord
	// contactPresence: contact PN user -> available.
	contactPresence map[string]bool
	// lastSeen: contact PN user -> last seen.
	lastSeen map[string]time.Time
	// calls by call id.
	calls map[string]*CallRecord
}

func (c *convState) init() {
	if c.subs == nil {
		c.subs = map[string][]types.JID{}
		c.presences = map[string][]PresenceRecord{}
		c.chatStates = map[string][]ChatStateRecord{}
		c.contactPresence = map[string]bool{}
		c.lastSeen = map[string]time.Time{}
		c.calls = map[string]*CallRecord{}
	}
}

// handlePresence records a companion's presence or subscription.
func (s *Server) handlePresence(c *conn, node *waBinary.Node) {
	ag := node.AttrGetter()
	typ := ag.OptionalString("type")
	s.mu.Lock()
	dev := c.dev
	var from types.JID
	if dev != nil {
		from = dev.jid()
	}
	var target *account
	if to, ok := node.Attrs["to"].(types.JID); ok {
		target = s.accountByJIDLocked(to.ToNonAD())
	}
	s.mu.Unlock()
	if dev == nil {
		s.violation("<presence> before login")
		return
	}
	switch typ {
	case "available", "unavailable":
		s.conv.mu.Lock()
		s.conv.init()
		s.conv.presences[from.User] = append(s.conv.presences[from.User], PresenceRecord{Device: from, Type: typ, Name: ag.OptionalString("name")})
		s.conv.mu.Unlock()
	case "subscribe":
		if target == nil {
			return // WhatsApp ignores subscriptions to unknown users
		}
		s.conv.mu.Lock()
		s.conv.init()
		if !slices.Contains(s.conv.subs[target.pn], from) {
			s.conv.subs[target.pn] = append(s.conv.subs[target.pn], from)
		}
		available := s.conv.contactPresence[target.pn]
		last := s.conv.lastSeen[target.pn]
		s.conv.mu.Unlock()
		c.send(presenceNode(target.pnJID(), available, last)) // the current presence first, as WhatsApp does
	default:
		s.violation("<presence> with unknown type %q", typ)
	}
}

func presenceNode(from types.JID, available bool, last time.Time) waBinary.Node {
	attrs := waBinary.Attrs{"from": from}
	if available {
		attrs["type"] = "available"
	} else {
		attrs["type"] = "unavailable"
		if last.IsZero() {
			attrs["last"] = "deny"
		} else {
			attrs["last"] = strconv.FormatInt(last.Unix(), 10)
		}
	}
	return waBinary.Node{Tag: "presence", Attrs: attrs}
}

// handleChatState records a companion's chat state at the contact.
func (s *Server) handleChatState(c *conn, node *waBinary.Node) {
	to, _ := node.Attrs["to"].(types.JID)
	children := node.GetChildren()
	if len(children) != 1 || (children[0].Tag != "composing" && children[0].Tag != "paused") {
		s.violation("<chatstate> must hold exactly one <composing> or <paused>")
		return
	}
	s.mu.Lock()
	dev := c.dev
	target := s.accountByJIDLocked(to.ToNonAD())
	var from types.JID
	if dev != nil {
		from = dev.jid()
	}
	s.mu.Unlock()
	if dev == nil || target == nil {
		return
	}
	rec := ChatStateRecord{Device: from, State: children[0].Tag, Media: children[0].AttrGetter().OptionalString("media")}
	s.conv.mu.Lock()
	s.conv.init()
	s.conv.chatStates[target.pn] = append(s.conv.chatStates[target.pn], rec)
	s.conv.mu.Unlock()
}

// Presences returns what the companions of the account phone announced.
func (s *Server) Presences(phone string) []PresenceRecord {
	s.conv.mu.Lock()
	defer s.conv.mu.Unlock()
	return slices.Clone(s.conv.presences[normalizePhone(phone)])
}

// ChatStates returns the chat states companions sent the contact.
func (c *Contact) ChatStates() []ChatStateRecord {
	c.s.conv.mu.Lock()
	defer c.s.conv.mu.Unlock()
	return slices.Clone(c.s.conv.chatStates[c.acct.pn])
}

// SetPresence makes the contact go online or offline (lastSeen: when it
// was last online; zero hides it) and tells the companions that
// subscribed to its presence.
func (c *Contact) SetPresence(available bool, lastSeen time.Time) {
	s := c.s
	s.conv.mu.Lock()
	s.conv.init()
	s.conv.contactPresence[c.acct.pn] = available
	s.conv.lastSeen[c.acct.pn] = lastSeen
	subs := slices.Clone(s.conv.subs[c.acct.pn])
	s.conv.mu.Unlock()
	node := presenceNode(c.acct.pnJID(), available, lastSeen)
	for _, d := range subs {
		if conn := s.connOf(d); conn != nil {
			conn.send(node)
		}
	}
}

// SendChatState makes the contact show state ("composing" or "paused";
// media "audio" while recording) to every connected companion of the
// account phone.
func (c *Contact) SendChatState(phone, state, media string) {
	s := c.s
	child := waBinary.Node{Tag: state}
	if media != "" {
		child.Attrs = waBinary.Attrs{"media": media}
	}
	node := waBinary.Node{Tag: "chatstate", Attrs: waBinary.Attrs{"from": c.acct.pnJID()}, Content: []waBinary.Node{child}}
	for _, d := range s.Devices(phone) {
		if conn := s.connOf(d); conn != nil {
			conn.send(node)
		}
	}
}
