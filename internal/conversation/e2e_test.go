package conversation_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/wagate-dev/wagate/gen/client"
	"github.com/wagate-dev/wagate/internal/conversation"
	"github.com/wagate-dev/wagate/internal/gateway"
	"github.com/wagate-dev/wagate/internal/httpapi"
	"github.com/wagate-dev/wagate/internal/messaging"
	"github.com/wagate-dev/wagate/internal/postgres"
	"github.com/wagate-dev/wagate/internal/sandbox"
	"github.com/wagate-dev/wagate/internal/sessions"
	"github.com/wagate-dev/wagate/internal/testkit"
	"github.com/wagate-dev/wagate/internal/wasim"
	"github.com/wagate-dev/wagate/internal/whatsapp"
)

const waitTimeout = 20 * time.Second

// e2e is one linked session: the real HTTP server with the conversation
// and messaging services, the real whatsmeow manager (recording events),
// the stores on a fresh database and the simulator.
type e2e struct {
	t    *testing.T
	ctx  context.Context
	sim  *wasim.Server
	pool *pgxpool.Pool
	msgs *messaging.Service
	srv  *testkit.Server
	c    *client.ClientWithResponses
	sid  uuid.UUID
	own  string
}

func newE2E(t *testing.T, own string) *e2e {
	t.Helper()
	ctx := context.Background()
	wasim.InstallRootKey()
	sim, err := wasim.New(wasim.Options{Logger: testkit.Logger(t), Strict: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := sim.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sim.Close() })
	pool := testkit.NewDB(t)
	store := postgres.NewStore(pool)
	msgStore := postgres.NewMessages(pool)
	opts := messaging.Options{Log: testkit.Logger(t), Recipients: store}
	settings := sessions.NewSettings(postgres.NewSessionSettings(pool), nil)
	mgr, err := whatsapp.NewManager(ctx, whatsapp.Options{
		Pool: pool, Status: store, Devices: postgres.NewDeviceStore(pool), Inbound: messaging.NewSink(msgStore, opts),
		Events: postgres.NewEvents(pool), CallPolicy: settings, Calls: postgres.NewRingingCalls(pool),
		Logger: testkit.Logger(t), HTTPClient: sim.HTTPClient(), TrustSimulator: true,
		ReconnectBaseDelay: 50 * time.Millisecond, ReconnectMaxDelay: 500 * time.Millisecond, LoginTimeout: 10 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = mgr.Close() })
	msgs := messaging.New(msgStore, mgr, opts)
	conv := conversation.New(mgr, msgStore)
	limits := httpapi.RateLimits{General: 100000, Messages: 100000, Sessions: 100}
	srv := testkit.NewServer(t, testkit.Options{Pool: pool, Runtime: mgr, RateLimits: &limits,
		Deps: func(d *httpapi.Deps) {
			d.Messaging = msgs
			d.Conversation = conv
			d.SessionSettings = settings
			d.Sandbox = &sandbox.Service{Runtime: mgr, Control: sandbox.Local{Sim: sim}}
		}})
	e := &e2e{t: t, ctx: ctx, sim: sim, pool: pool, msgs: msgs, srv: srv, own: own}
	var key string
	e.sid, key = srv.CreateSession("conv-" + own)
	e.c = srv.Client(key)
	var qr string
	eventually(t, "a QR code", func() bool {
		qr, err = mgr.QR(ctx, e.sid)
		return err == nil
	})
	if _, err := sim.Phone(own).ScanQR(ctx, qr); err != nil {
		t.Fatalf("ScanQR: %v", err)
	}
	eventually(t, "connected", func() bool { st, _ := mgr.State(e.sid); return st == gateway.StateConnected })
	return e
}

func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		<-tick.C
	}
}

// inbound makes contact send text to the account and waits until it is stored.
func (e *e2e) inbound(contact *wasim.Contact, text string) string {
	e.t.Helper()
	id, err := contact.SendText(e.ctx, e.own, text)
	if err != nil {
		e.t.Fatal(err)
	}
	eventually(e.t, "message "+id+" stored", func() bool {
		_, err := e.msgs.GetMessage(e.ctx, e.sid, contact.JID().String(), id)
		return err == nil
	})
	return id
}

// eventData returns the data of the session's events of typ, oldest first.
func (e *e2e) eventData(typ string) []map[string]any {
	e.t.Helper()
	rows, err := e.pool.Query(e.ctx, `SELECT data FROM events WHERE session_id = $1 AND type = $2 ORDER BY created_at, id`, e.sid, typ)
	if err != nil {
		e.t.Fatal(err)
	}
	defer rows.Close()
	var out []map[string]any
	for rows.Next() {
		var raw []byte
		if err := rows.Scan(&raw); err != nil {
			e.t.Fatal(err)
		}
		var m map[string]any
		_ = json.Unmarshal(raw, &m)
		out = append(out, m)
	}
	return out
}

// waitEvent waits for an event of typ whose data matches pred.
func (e *e2e) waitEvent(typ string, pred func(map[string]any) bool) map[string]any {
	e.t.Helper()
	var found map[string]any
	eventually(e.t, "a "+typ+" event", func() bool {
		for _, d := range e.eventData(typ) {
			if pred(d) {
				found = d
				return true
			}
		}
		return false
	})
	return found
}

// wantErr fails unless the answer is status with the exact error text ("" any).
func wantErr(t testing.TB, what string, status int, body []byte, err error, wantStatus int, text string) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	var out struct {
		Success *bool  `json:"success"`
		Error   string `json:"error"`
	}
	_ = json.Unmarshal(body, &out)
	if status != wantStatus || out.Success == nil || *out.Success || (text != "" && out.Error != text) {
		t.Fatalf("%s: got %d %s, want %d %q", what, status, body, wantStatus, text)
	}
}

func hasReceipt(c *wasim.Contact, id, typ string) bool {
	return slices.ContainsFunc(c.Receipts(), func(r wasim.ReceiptRecord) bool { return r.ID == id && r.Type == typ })
}

// TestMarkReadEndToEnd: marking a chat read shows the read receipt at the
// contact, for every unread message and up to a named one.
func TestMarkReadEndToEnd(t *testing.T) {
	e := newE2E(t, "15550101000")
	contact := e.sim.Contact("15550101001")
	chat := contact.JID().String()
	first := e.inbound(contact, "one")
	second := e.inbound(contact, "two")

	// Up to the first message: only it is read; the chat stays unread.
	r, err := e.c.MarkChatReadWithResponse(e.ctx, e.sid, chat, nil, client.MarkChatReadJSONRequestBody{MessageId: &first})
	if err != nil || r.JSON200 == nil {
		t.Fatalf("mark read up to first: %v %s", err, r.Body)
	}
	if r.JSON200.Jid != chat || !slices.Equal(r.JSON200.MessageIds, []string{first}) || r.JSON200.Message != gateway.MsgChatMarkedRead {
		t.Fatalf("mark read up to first: %s", r.Body)
	}
	eventually(t, "read receipt of the first message at the contact", func() bool { return hasReceipt(contact, first, "read") })
	if hasReceipt(contact, second, "read") {
		t.Fatal("the second message was marked read too")
	}

	// All unread: the second message; the chat is read in the store.
	r, err = e.c.MarkChatReadWithResponse(e.ctx, e.sid, "+15550101001", nil, client.MarkChatReadJSONRequestBody{})
	if err != nil || r.JSON200 == nil || !slices.Contains(r.JSON200.MessageIds, second) {
		t.Fatalf("mark all read: %v %s", err, r.Body)
	}
	eventually(t, "read receipt of the second message at the contact", func() bool { return hasReceipt(contact, second, "read") })
	unread := true
	c, err := e.c.ListChatsWithResponse(e.ctx, e.sid, &client.ListChatsParams{Unread: &unread})
	if err != nil || c.JSON200 == nil || len(c.JSON200.Chats) != 0 {
		t.Fatalf("unread chats after mark read: %v %s", err, c.Body)
	}

	// Bad input.
	own, err := e.msgs.SendText(e.ctx, e.sid, chat, "mine", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	r, err = e.c.MarkChatReadWithResponse(e.ctx, e.sid, chat, nil, client.MarkChatReadJSONRequestBody{MessageId: &own.ID})
	wantErr(t, "read own message", r.StatusCode(), r.Body, err, http.StatusBadRequest, gateway.MsgReadOwnMessage)
	missing := "3EB0000000000000MISSING"
	r, err = e.c.MarkChatReadWithResponse(e.ctx, e.sid, chat, nil, client.MarkChatReadJSONRequestBody{MessageId: &missing})
	wantErr(t, "unknown message", r.StatusCode(), r.Body, err, http.StatusNotFound, gateway.MsgMessageNotFound)
	r, err = e.c.MarkChatReadWithResponse(e.ctx, e.sid, "15550109999", nil, client.MarkChatReadJSONRequestBody{})
	wantErr(t, "unknown chat", r.StatusCode(), r.Body, err, http.StatusNotFound, gateway.MsgChatNotFound)
	r, err = e.c.MarkChatReadWithResponse(e.ctx, e.sid, "not-a-chat", nil, client.MarkChatReadJSONRequestBody{})
	wantErr(t, "malformed chat", r.StatusCode(), r.Body, err, http.StatusBadRequest, "")
}

// TestTypingAndPresenceEndToEnd: typing reaches the contact; own presence
// reaches WhatsApp; a subscribed contact's presence and a contact's typing
// become presence and typing events.
func TestTypingAndPresenceEndToEnd(t *testing.T) {
	e := newE2E(t, "15550102000")
	contact := e.sim.Contact("15550102001")
	e.inbound(contact, "hello") // the contact is known (push name, chat)
	chat := contact.JID().String()

	for _, tc := range []struct {
		state        client.TypingRequestState
		wantTag, med string
	}{{client.Composing, "composing", ""}, {client.Recording, "composing", "audio"}, {client.Paused, "paused", ""}} {
		n := len(contact.ChatStates())
		r, err := e.c.SendTypingWithResponse(e.ctx, e.sid, chat, client.SendTypingJSONRequestBody{State: tc.state})
		if err != nil || r.JSON200 == nil || r.JSON200.Jid != chat || r.JSON200.Message != gateway.MsgTypingSent {
			t.Fatalf("typing %s: %v %s", tc.state, err, r.Body)
		}
		eventually(t, "chat state "+string(tc.state)+" at the contact", func() bool { return len(contact.ChatStates()) > n })
		got := contact.ChatStates()[n]
		if got.State != tc.wantTag || got.Media != tc.med || got.Device.User != e.own {
			t.Fatalf("typing %s: contact saw %+v", tc.state, got)
		}
	}
	r, err := e.c.SendTypingWithResponse(e.ctx, e.sid, chat, client.SendTypingJSONRequestBody{State: "dancing"})
	wantErr(t, "bad typing state", r.StatusCode(), r.Body, err, http.StatusBadRequest, "")

	p, err := e.c.SetPresenceWithResponse(e.ctx, e.sid, client.SetPresenceJSONRequestBody{State: client.Available})
	if err != nil || p.JSON200 == nil {
		t.Fatalf("set presence: %v %s", err, p.Body)
	}
	eventually(t, "available at WhatsApp", func() bool {
		return slices.ContainsFunc(e.sim.Presences(e.own), func(r wasim.PresenceRecord) bool { return r.Type == "available" })
	})
	p, err = e.c.SetPresenceWithResponse(e.ctx, e.sid, client.SetPresenceJSONRequestBody{State: "busy"})
	wantErr(t, "bad presence state", p.StatusCode(), p.Body, err, http.StatusBadRequest, "")

	// Subscribe: WhatsApp answers the current presence (offline), then
	// the contact comes online.
	s, err := e.c.SubscribePresenceWithResponse(e.ctx, e.sid, client.SubscribePresenceJSONRequestBody{Jid: "+15550102001"})
	if err != nil || s.JSON200 == nil || s.JSON200.Jid != chat {
		t.Fatalf("subscribe: %v %s", err, s.Body)
	}
	e.waitEvent(gateway.EventPresence, func(d map[string]any) bool { return d["jid"] == chat && d["state"] == "unavailable" })
	contact.SetPresence(true, time.Time{})
	ev := e.waitEvent(gateway.EventPresence, func(d map[string]any) bool { return d["jid"] == chat && d["state"] == "available" })
	if ev["lid"] != contact.LID().String() {
		t.Fatalf("presence event %v: want lid %s", ev, contact.LID())
	}
	s, err = e.c.SubscribePresenceWithResponse(e.ctx, e.sid, client.SubscribePresenceJSONRequestBody{Jid: "120363000000000001@g.us"})
	wantErr(t, "subscribe to a group", s.StatusCode(), s.Body, err, http.StatusBadRequest, "")

	// The contact types, then records.
	contact.SendChatState(e.own, "composing", "")
	e.waitEvent(gateway.EventTyping, func(d map[string]any) bool {
		return d["chatJid"] == chat && d["sender"] == chat && d["state"] == "composing"
	})
	contact.SendChatState(e.own, "composing", "audio")
	e.waitEvent(gateway.EventTyping, func(d map[string]any) bool { return d["state"] == "recording" })
	contact.SendChatState(e.own, "paused", "")
	e.waitEvent(gateway.EventTyping, func(d map[string]any) bool { return d["state"] == "paused" })
	if v := e.sim.Violations(); len(v) > 0 {
		t.Fatalf("simulator violations: %v", v)
	}
}

// TestContactsEndToEnd: number checks (a normal and a reserved 999 number),
// LID lookups both ways, and the contact list with names.
func TestContactsEndToEnd(t *testing.T) {
	e := newE2E(t, "15550103000")
	contact := e.sim.Contact("15550103001")
	contact.SetPushName("Asha")
	e.inbound(contact, "hi")

	r, err := e.c.CheckNumbersWithResponse(e.ctx, e.sid, client.CheckNumbersJSONRequestBody{Numbers: []string{"+1 555 010 3001", "9995550103"}})
	if err != nil || r.JSON200 == nil || len(r.JSON200.Results) != 2 {
		t.Fatalf("check: %v %s", err, r.Body)
	}
	on, off := r.JSON200.Results[0], r.JSON200.Results[1]
	if on.Number != "+1 555 010 3001" || !on.OnWhatsApp || on.Jid == nil || *on.Jid != contact.JID().String() || on.Lid == nil || *on.Lid != contact.LID().String() {
		t.Fatalf("normal number: %s", r.Body)
	}
	if off.Number != "9995550103" || off.OnWhatsApp || off.Jid != nil || off.Lid != nil {
		t.Fatalf("999 number: %s", r.Body)
	}
	many := make([]string, 51)
	for i := range many {
		many[i] = fmt.Sprintf("1555010%04d", i)
	}
	r, err = e.c.CheckNumbersWithResponse(e.ctx, e.sid, client.CheckNumbersJSONRequestBody{Numbers: many})
	wantErr(t, "51 numbers", r.StatusCode(), r.Body, err, http.StatusBadRequest, "")
	r, err = e.c.CheckNumbersWithResponse(e.ctx, e.sid, client.CheckNumbersJSONRequestBody{Numbers: []string{"15550103001", "12ab"}})
	wantErr(t, "a bad number", r.StatusCode(), r.Body, err, http.StatusBadRequest, "")

	// LID <-> phone, both ways.
	l, err := e.c.LookupLidWithResponse(e.ctx, e.sid, "15550103001")
	if err != nil || l.JSON200 == nil || l.JSON200.Jid != contact.JID().String() || l.JSON200.Lid != contact.LID().String() {
		t.Fatalf("lid of phone: %v %s", err, l.Body)
	}
	l, err = e.c.LookupLidWithResponse(e.ctx, e.sid, contact.LID().String())
	if err != nil || l.JSON200 == nil || l.JSON200.Jid != contact.JID().String() {
		t.Fatalf("phone of lid: %v %s", err, l.Body)
	}
	// A number never checked is asked of WhatsApp.
	other := e.sim.Contact("15550103002")
	l, err = e.c.LookupLidWithResponse(e.ctx, e.sid, other.JID().String())
	if err != nil || l.JSON200 == nil || l.JSON200.Lid != other.LID().String() {
		t.Fatalf("lid of an unchecked phone: %v %s", err, l.Body)
	}
	l, err = e.c.LookupLidWithResponse(e.ctx, e.sid, "99999999999999@lid")
	wantErr(t, "unknown lid", l.StatusCode(), l.Body, err, http.StatusNotFound, gateway.MsgNoPNForLID)
	l, err = e.c.LookupLidWithResponse(e.ctx, e.sid, "9995550103")
	wantErr(t, "999 number", l.StatusCode(), l.Body, err, http.StatusNotFound, gateway.MsgNotOnWhatsApp)
	l, err = e.c.LookupLidWithResponse(e.ctx, e.sid, "120363000000000001@g.us")
	wantErr(t, "group", l.StatusCode(), l.Body, err, http.StatusBadRequest, "")

	c, err := e.c.ListContactsWithResponse(e.ctx, e.sid)
	if err != nil || c.JSON200 == nil {
		t.Fatalf("contacts: %v %s", err, c.Body)
	}
	i := slices.IndexFunc(c.JSON200.Contacts, func(c client.Contact) bool { return c.Jid == contact.JID().String() })
	if i < 0 {
		t.Fatalf("contact missing: %s", c.Body)
	}
	got := c.JSON200.Contacts[i]
	if got.PushName == nil || *got.PushName != "Asha" || got.Lid == nil || *got.Lid != contact.LID().String() {
		t.Fatalf("contact: %s", c.Body)
	}
}

// TestCallsEndToEnd: a contact's call is a call event and can be rejected
// through the API (the caller sees the rejection); an unknown call id is
// 404; with the reject policy on, a call is rejected at once.
func TestCallsEndToEnd(t *testing.T) {
	e := newE2E(t, "15550104000")
	contact := e.sim.Contact("15550104001")
	from := contact.JID().String()

	callID, err := contact.OfferCall(e.own)
	if err != nil {
		t.Fatal(err)
	}
	ev := e.waitEvent(gateway.EventCall, func(d map[string]any) bool { return d["callId"] == callID && d["status"] == "offer" })
	if ev["from"] != from || ev["lid"] != contact.LID().String() || ev["isGroup"] != false {
		t.Fatalf("offer event: %v", ev)
	}
	r, err := e.c.RejectCallWithResponse(e.ctx, e.sid, callID)
	if err != nil || r.JSON200 == nil || r.JSON200.Message != gateway.MsgCallRejected {
		t.Fatalf("reject: %v %s", err, r.Body)
	}
	eventually(t, "the caller sees the rejection", func() bool {
		c, _ := e.sim.Call(callID)
		return c.State == wasim.CallStateRejected
	})
	e.waitEvent(gateway.EventCall, func(d map[string]any) bool { return d["callId"] == callID && d["status"] == "rejected" })
	r, err = e.c.RejectCallWithResponse(e.ctx, e.sid, callID)
	wantErr(t, "reject twice", r.StatusCode(), r.Body, err, http.StatusNotFound, gateway.MsgCallNotFound)
	r, err = e.c.RejectCallWithResponse(e.ctx, e.sid, "NOSUCHCALL")
	wantErr(t, "unknown call", r.StatusCode(), r.Body, err, http.StatusNotFound, gateway.MsgCallNotFound)

	// The caller hangs up: terminate.
	second, err := contact.OfferCall(e.own)
	if err != nil {
		t.Fatal(err)
	}
	e.waitEvent(gateway.EventCall, func(d map[string]any) bool { return d["callId"] == second && d["status"] == "offer" })
	contact.EndCall(second)
	e.waitEvent(gateway.EventCall, func(d map[string]any) bool { return d["callId"] == second && d["status"] == "terminate" })
	r, err = e.c.RejectCallWithResponse(e.ctx, e.sid, second)
	wantErr(t, "reject an ended call", r.StatusCode(), r.Body, err, http.StatusNotFound, gateway.MsgCallNotFound)

	// Automatic rejection with a reply: PATCH /sessions/{id}.
	const reply = "I cannot take calls here, please write."
	on := true
	long := strings.Repeat("x", 4097)
	p, err := e.c.UpdateSessionSettingsWithResponse(e.ctx, e.sid, client.UpdateSessionSettingsJSONRequestBody{RejectCallsMessage: &long})
	wantErr(t, "message too long", p.StatusCode(), p.Body, err, http.StatusBadRequest, "")
	p, err = e.c.UpdateSessionSettingsWithResponse(e.ctx, e.sid, client.UpdateSessionSettingsJSONRequestBody{RejectCalls: &on})
	if err != nil || p.JSON200 == nil || !p.JSON200.Settings.RejectCalls || p.JSON200.Settings.RejectCallsMessage != nil {
		t.Fatalf("rejectCalls on: %v %s", err, p.Body)
	}
	msg := reply
	p, err = e.c.UpdateSessionSettingsWithResponse(e.ctx, e.sid, client.UpdateSessionSettingsJSONRequestBody{RejectCallsMessage: &msg})
	if err != nil || p.JSON200 == nil || !p.JSON200.Settings.RejectCalls || p.JSON200.Settings.RejectCallsMessage == nil || *p.JSON200.Settings.RejectCallsMessage != reply {
		t.Fatalf("rejectCallsMessage: %v %s", err, p.Body)
	}
	third, err := contact.OfferCall(e.own)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "the call rejected automatically", func() bool {
		c, _ := e.sim.Call(third)
		return c.State == wasim.CallStateRejected
	})
	ctx, cancel := context.WithTimeout(e.ctx, waitTimeout)
	defer cancel()
	if _, err := contact.WaitReceived(ctx, func(r wasim.Received) bool { return r.Text == reply }); err != nil {
		t.Fatalf("the caller never got the reply: %v", err)
	}
	e.waitEvent(gateway.EventCall, func(d map[string]any) bool { return d["callId"] == third && d["status"] == "rejected" })

	// Off again: the next call rings until the API rejects it.
	off, empty := false, ""
	p, err = e.c.UpdateSessionSettingsWithResponse(e.ctx, e.sid, client.UpdateSessionSettingsJSONRequestBody{RejectCalls: &off, RejectCallsMessage: &empty})
	if err != nil || p.JSON200 == nil || p.JSON200.Settings.RejectCalls || p.JSON200.Settings.RejectCallsMessage != nil {
		t.Fatalf("rejectCalls off: %v %s", err, p.Body)
	}
	fourth, err := contact.OfferCall(e.own)
	if err != nil {
		t.Fatal(err)
	}
	e.waitEvent(gateway.EventCall, func(d map[string]any) bool { return d["callId"] == fourth && d["status"] == "offer" })
	if r, err := e.c.RejectCallWithResponse(e.ctx, e.sid, fourth); err != nil || r.JSON200 == nil {
		t.Fatalf("reject the ringing call: %v %s", err, r.Body)
	}
	if v := e.sim.Violations(); len(v) > 0 {
		t.Fatalf("simulator violations: %v", v)
	}
}

// TestSandboxCallRejectedAutomatically is the acceptance check through the
// sandbox API: with rejectCalls on, a call from a contact placed with POST
// /sandbox/sessions/{id}/call is rejected, and the caller's view says so.
func TestSandboxCallRejectedAutomatically(t *testing.T) {
	e := newE2E(t, "15550105000")
	on := true
	if p, err := e.c.UpdateSessionSettingsWithResponse(e.ctx, e.sid, client.UpdateSessionSettingsJSONRequestBody{RejectCalls: &on}); err != nil || p.JSON200 == nil {
		t.Fatalf("rejectCalls on: %v %s", err, p.Body)
	}
	r, err := e.c.SandboxCallWithResponse(e.ctx, e.sid, client.SandboxCallJSONRequestBody{From: "+15550105001"})
	if err != nil || r.JSON200 == nil || r.JSON200.CallId == "" {
		t.Fatalf("sandbox call: %v %s", err, r.Body)
	}
	id := r.JSON200.CallId
	eventually(t, "the caller sees the rejection", func() bool {
		s, err := e.c.SandboxCallStateWithResponse(e.ctx, id)
		if err != nil || s.JSON200 == nil {
			t.Fatalf("call state: %v %s", err, s.Body)
		}
		return s.JSON200.State == client.Rejected && s.JSON200.RejectedBy != nil
	})
	e.waitEvent(gateway.EventCall, func(d map[string]any) bool { return d["callId"] == id && d["status"] == "rejected" })
	s, err := e.c.SandboxCallStateWithResponse(e.ctx, "NOSUCHCALL")
	wantErr(t, "unknown sandbox call", s.StatusCode(), s.Body, err, http.StatusNotFound, gateway.MsgCallNotFound)
	r, err = e.c.SandboxCallWithResponse(e.ctx, e.sid, client.SandboxCallJSONRequestBody{From: "not a phone"})
	wantErr(t, "bad caller", r.StatusCode(), r.Body, err, http.StatusBadRequest, "")
}
