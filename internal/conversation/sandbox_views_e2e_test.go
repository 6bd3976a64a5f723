package conversation_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/wagate-dev/wagate/gen/client"
)

// TestSandboxConversationViews: what the simulated contact saw is
// observable through the sandbox API, after the real whatsmeow client sent
// it - read receipts per device in GET /sandbox/contacts/{phone}/messages,
// chat states and the account's presence in GET
// /sandbox/contacts/{phone}/chatstate.
func TestSandboxConversationViews(t *testing.T) {
	e := newE2E(t, "15550108000")
	contact := e.sim.Contact("15550108001")
	phone := "15550108001"
	chat := contact.JID().String()
	admin := e.srv.Admin()
	msg := e.inbound(contact, "read me")

	// Nothing yet: no read receipt, no chat state.
	v, err := admin.SandboxContactChatStateWithResponse(e.ctx, phone)
	if err != nil || v.JSON200 == nil || len(v.JSON200.ChatStates) != 0 || v.JSON200.Last != nil {
		t.Fatalf("chatstate before: %v %s", err, v.Body)
	}

	if r, err := e.c.MarkChatReadWithResponse(e.ctx, e.sid, chat, nil, client.MarkChatReadJSONRequestBody{MessageId: &msg}); err != nil || r.JSON200 == nil {
		t.Fatalf("mark read: %v %s", err, r.Body)
	}
	var read client.SandboxReceipt
	eventually(t, "the read receipt in the sandbox view", func() bool {
		m, err := admin.SandboxContactMessagesWithResponse(e.ctx, phone)
		if err != nil || m.JSON200 == nil {
			t.Fatalf("contact messages: %v", err)
		}
		i := slices.IndexFunc(m.JSON200.Receipts, func(r client.SandboxReceipt) bool { return r.MessageId == msg && r.Type == "read" })
		if i >= 0 {
			read = m.JSON200.Receipts[i]
		}
		return i >= 0
	})
	// The device that read it is the session's companion (not the phone).
	if !strings.HasPrefix(read.Device, e.own+":") || strings.HasPrefix(read.Device, e.own+":0@") {
		t.Fatalf("read receipt from device %q, want a companion of %s", read.Device, e.own)
	}

	for _, st := range []client.TypingRequestState{client.Composing, client.Recording, client.Paused} {
		if r, err := e.c.SendTypingWithResponse(e.ctx, e.sid, chat, client.SendTypingJSONRequestBody{State: st}); err != nil || r.JSON200 == nil {
			t.Fatalf("typing %s: %v %s", st, err, r.Body)
		}
	}
	if p, err := e.c.SetPresenceWithResponse(e.ctx, e.sid, client.SetPresenceJSONRequestBody{State: client.Available}); err != nil || p.JSON200 == nil {
		t.Fatalf("presence: %v %s", err, p.Body)
	}
	var view *client.SandboxChatStateResponse
	eventually(t, "three chat states and the presence in the sandbox view", func() bool {
		v, err := admin.SandboxContactChatStateWithResponse(e.ctx, phone)
		if err != nil || v.JSON200 == nil {
			t.Fatalf("chatstate: %v", err)
		}
		view = v.JSON200
		return len(view.ChatStates) == 3 && slices.ContainsFunc(view.Presences, func(p client.SandboxPresence) bool { return p.Type == "available" })
	})
	ownJID := e.own + "@s.whatsapp.net"
	for i, want := range []string{"composing", "recording", "paused"} {
		if got := view.ChatStates[i]; got.State != want || got.From != ownJID || got.Device != read.Device {
			t.Fatalf("chat state %d = %+v, want %s from %s (%s)", i, got, want, ownJID, read.Device)
		}
	}
	if view.Last == nil || view.Last.State != "paused" {
		t.Fatalf("last = %+v", view.Last)
	}
	if i := slices.IndexFunc(view.Presences, func(p client.SandboxPresence) bool { return p.Type == "available" }); view.Presences[i].From != ownJID {
		t.Fatalf("presence %+v", view.Presences[i])
	}

	// Bad input.
	b, err := admin.SandboxContactChatStateWithResponse(e.ctx, "12ab")
	wantErr(t, "bad phone", b.StatusCode(), b.Body, err, http.StatusBadRequest, "")
}

// TestSandboxContactsSync: the session's phone saves a contact with a name
// (POST /sandbox/sessions/{id}/contacts); it syncs as contact app state, the
// real whatsmeow client decodes it, and GET /sessions/{id}/contacts lists
// the name - also for a number the account never talked with.
func TestSandboxContactsSync(t *testing.T) {
	e := newE2E(t, "15550109000")
	admin := e.srv.Admin()
	talked := e.sim.Contact("15550109001")
	e.inbound(talked, "hi")
	stranger := e.sim.Contact("15550109002")

	first := "Ravi"
	r, err := admin.SandboxAddContactWithResponse(e.ctx, e.sid, client.SandboxAddContactJSONRequestBody{Phone: "+1 555 010 9001", Name: "Asha Verma"})
	if err != nil || r.JSON200 == nil || r.JSON200.Jid != talked.JID().String() || r.JSON200.FirstName != "Asha" {
		t.Fatalf("add contact: %v %s", err, r.Body)
	}
	r, err = admin.SandboxAddContactWithResponse(e.ctx, e.sid, client.SandboxAddContactJSONRequestBody{Phone: "15550109002", Name: "Ravi Kumar (work)", FirstName: &first})
	if err != nil || r.JSON200 == nil || r.JSON200.FirstName != "Ravi" {
		t.Fatalf("add contact: %v %s", err, r.Body)
	}
	// The phone decoded its own patches (what WhatsApp keeps).
	if pv := e.sim.Phone(e.own).View(); pv.Contacts[talked.JID().String()].FullName != "Asha Verma" || pv.Contacts[stranger.JID().String()].FirstName != "Ravi" {
		t.Fatalf("phone address book: %+v", pv.Contacts)
	}
	var list []client.Contact
	eventually(t, "both names in GET /sessions/{id}/contacts", func() bool {
		c, err := e.c.ListContactsWithResponse(e.ctx, e.sid)
		if err != nil || c.JSON200 == nil {
			t.Fatalf("contacts: %v", err)
		}
		list = c.JSON200.Contacts
		named := func(jid, name string) bool {
			return slices.ContainsFunc(list, func(c client.Contact) bool { return c.Jid == jid && c.Name != nil && *c.Name == name })
		}
		return named(talked.JID().String(), "Asha Verma") && named(stranger.JID().String(), "Ravi Kumar (work)")
	})

	// Bad input: unlinked session, bad phone, empty name.
	a, err := admin.SandboxAddContactWithResponse(e.ctx, e.sid, client.SandboxAddContactJSONRequestBody{Phone: "12ab", Name: "X"})
	wantErr(t, "bad phone", a.StatusCode(), a.Body, err, http.StatusBadRequest, "")
	a, err = admin.SandboxAddContactWithResponse(e.ctx, e.sid, client.SandboxAddContactJSONRequestBody{Phone: "15550109003", Name: "   "})
	wantErr(t, "blank name", a.StatusCode(), a.Body, err, http.StatusBadRequest, "name must not be empty")
	other, _ := e.srv.CreateSession("unlinked")
	a, err = admin.SandboxAddContactWithResponse(e.ctx, other, client.SandboxAddContactJSONRequestBody{Phone: "15550109003", Name: "X"})
	wantErr(t, "unlinked session", a.StatusCode(), a.Body, err, http.StatusConflict, "")
	if v := e.sim.Violations(); len(v) > 0 {
		t.Fatalf("simulator violations: %v", v)
	}
}
