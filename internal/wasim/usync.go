package wasim

import (
	"strings"

	waBinary "go.mau.fi/whatsmeow/binary"
	"go.mau.fi/whatsmeow/types"
)

// handleUsync answers device, contact (IsOnWhatsApp) and LID queries. Users
// are looked up by PN or LID and answered with the JID exactly as asked.
// The requesting device is left out of its own device list.
func (s *Server) handleUsync(c *conn, dev *companion, node *waBinary.Node, usync waBinary.Node) {
	query := usync.GetChildByTag("query")
	want := map[string]waBinary.Node{}
	for _, q := range query.GetChildren() {
		want[q.Tag] = q
	}
	contactQ := want["contact"]
	lidMode := contactQ.AttrGetter().OptionalString("addressing_mode") == "lid"
	var users []waBinary.Node
	s.mu.Lock()
	list := usync.GetChildByTag("list")
	for _, u := range list.GetChildren() {
		if u.Tag != "user" {
			continue
		}
		jid, hasJID := u.Attrs["jid"].(types.JID)
		if !hasJID {
			contact, ok := u.GetOptionalChildByTag("contact")
			if !ok {
				continue
			}
			users = append(users, s.contactUserLocked(contact, lidMode))
			continue
		}
		acct := s.lookupAccountLocked(jid.ToNonAD())
		out := waBinary.Node{Tag: "user", Attrs: waBinary.Attrs{"jid": jid.ToNonAD()}}
		var content []waBinary.Node
		if _, ok := want["devices"]; ok {
			list := []waBinary.Node{}
			if acct != nil {
				list = append(list, waBinary.Node{Tag: "device", Attrs: waBinary.Attrs{"id": "0"}})
				for _, id := range acct.sortedCompanionIDs() {
					if acct == dev.acct && id == dev.id {
						continue
					}
					list = append(list, waBinary.Node{Tag: "device", Attrs: waBinary.Attrs{"id": itoa(int(id)), "key-index": itoa(int(acct.companions[id].keyIndex))}})
				}
			}
			content = append(content, waBinary.Node{Tag: "devices", Content: []waBinary.Node{{Tag: "device-list", Content: list}}})
		}
		if _, ok := want["lid"]; ok && acct != nil {
			content = append(content, waBinary.Node{Tag: "lid", Attrs: waBinary.Attrs{"val": acct.lidJID()}})
		}
		if _, ok := want["status"]; ok && acct != nil {
			content = append(content, waBinary.Node{Tag: "status", Content: []byte("Hey there! I am using WhatsApp.")})
		}
		if _, ok := want["contact"]; ok {
			typ := "out"
			if acct != nil {
				typ = "in"
			}
			content = append(content, waBinary.Node{Tag: "contact", Attrs: waBinary.Attrs{"type": typ}})
		}
		out.Content = content
		users = append(users, out)
	}
	s.mu.Unlock()
	c.send(iqResult(node, waBinary.Node{Tag: "usync", Attrs: waBinary.Attrs{
		"sid": usync.Attrs["sid"], "mode": usync.Attrs["mode"], "last": "true", "index": "0", "context": usync.Attrs["context"],
	}, Content: []waBinary.Node{
		{Tag: "result"},
		{Tag: "list", Content: users},
	}}))
}

// contactUserLocked answers an IsOnWhatsApp <user><contact>+123@c.us</contact></user>.
func (s *Server) contactUserLocked(contact waBinary.Node, lidMode bool) waBinary.Node {
	var q string
	switch v := contact.Content.(type) {
	case []byte:
		q = string(v)
	case string:
		q = v
	}
	number := normalizePhone(strings.TrimSuffix(q, "@c.us"))
	acct := s.lookupAccountLocked(types.NewJID(number, types.DefaultUserServer))
	pn := types.NewJID(number, types.DefaultUserServer)
	if acct == nil {
		return waBinary.Node{Tag: "user", Attrs: waBinary.Attrs{"jid": pn}, Content: []waBinary.Node{
			{Tag: "contact", Attrs: waBinary.Attrs{"type": "out"}, Content: []byte(q)},
		}}
	}
	attrs := waBinary.Attrs{"jid": pn}
	if lidMode {
		attrs = waBinary.Attrs{"jid": acct.lidJID(), "pn_jid": pn}
	}
	return waBinary.Node{Tag: "user", Attrs: attrs, Content: []waBinary.Node{
		{Tag: "contact", Attrs: waBinary.Attrs{"type": "in"}, Content: []byte(q)},
	}}
}

func itoa(i int) string {
	const digits = "0123456789"
	if i == 0 {
		return "0"
	}
	var b []byte
	for i > 0 {
		b = append([]byte{digits[i%10]}, b...)
		i /= 10
	}
	return string(b)
}
