package whatsapp_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"go.mau.fi/whatsmeow/types"

	"github.com/wagate-dev/wagate/internal/gateway"
	"github.com/wagate-dev/wagate/internal/wasim"
)

// TestRetryReceiptFromContact: the contact lost its Signal session with the
// gateway device; the gateway's next messages cannot be decrypted, the
// contact asks again with retry receipts (its keys from the second one on)
// and whatsmeow resends from its recent sends with a new session: every
// message arrives, and the two sides talk normally afterwards.
func TestRetryReceiptFromContact(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	m := f.manager()
	ctx := context.Background()
	const phone, peer = "15550200001", "15550200002"
	id := f.createSession("retry-from-contact")
	f.linkQR(m, id, phone)
	contact := f.sim.Contact(peer)
	to := gateway.ChatRef{JID: peer + "@s.whatsapp.net"}
	waitDecrypted := func(mid string) {
		t.Helper()
		wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
		defer cancel()
		if _, err := contact.WaitReceived(wctx, func(r wasim.Received) bool { return r.ID == mid }); err != nil {
			t.Fatalf("%s never decrypted by the contact (%v); violations: %s", mid, err, strings.Join(f.sim.Violations(), " | "))
		}
	}
	r, err := m.SendText(ctx, id, gateway.OutgoingText{Chat: to, Text: "before"})
	if err != nil {
		t.Fatal(err)
	}
	waitDecrypted(r.ID)
	if err := contact.ForgetSession(ctx, types.NewADJID(phone, 0, 1)); err != nil {
		t.Fatal(err)
	}
	for _, text := range []string{"after 1", "after 2"} {
		r, err := m.SendText(ctx, id, gateway.OutgoingText{Chat: to, Text: text})
		if err != nil {
			t.Fatal(err)
		}
		waitDecrypted(r.ID)
	}
	if n := f.sim.Counter("retry:requested"); n < 2 {
		t.Fatalf("the contact sent %d retry receipts, want at least 2 (the second with keys)", n)
	}
	if f.sim.Counter("undecryptable") == 0 {
		t.Fatal("no message failed to decrypt: the session was not lost")
	}
	// The contact's own messages decrypt on the new session.
	mid, err := contact.SendText(ctx, phone, "reply")
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "the contact's reply stored", func() bool { return inSink(f, mid) })
	if v := f.sim.Violations(); len(v) > 0 {
		t.Fatalf("violations: %s", strings.Join(v, " | "))
	}
}

// TestRetryReceiptFromGateway: the contact's session with the gateway
// device is one the gateway cannot match; whatsmeow cannot decrypt the
// contact's messages and sends retry receipts; the simulated contact
// answers by encrypting the message again, on a new session from the keys
// of the second receipt: every message is stored once.
func TestRetryReceiptFromGateway(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	m := f.manager()
	ctx := context.Background()
	const phone, peer = "15550200011", "15550200012"
	id := f.createSession("retry-from-gateway")
	f.linkQR(m, id, phone)
	contact := f.sim.Contact(peer)
	first, err := contact.SendText(ctx, phone, "before")
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "the first message stored", func() bool { return inSink(f, first) })
	if err := contact.CorruptSession(ctx, types.NewADJID(phone, 0, 1)); err != nil {
		t.Fatal(err)
	}
	var mids []string
	for _, text := range []string{"after 1", "after 2"} {
		mid, err := contact.SendText(ctx, phone, text)
		if err != nil {
			t.Fatal(err)
		}
		mids = append(mids, mid)
	}
	eventually(t, "every message after the corruption stored", func() bool {
		for _, mid := range mids {
			if !inSink(f, mid) {
				return false
			}
		}
		return true
	})
	if n := f.sim.Counter("retry:answered-new-session"); n == 0 {
		t.Fatalf("no retry answered with a new session (retry receipts received: %d)", f.sim.Counter("retry:received"))
	}
	// And the gateway's messages still reach the contact.
	r, err := m.SendText(ctx, id, gateway.OutgoingText{Chat: gateway.ChatRef{JID: peer + "@s.whatsapp.net"}, Text: "reply"})
	if err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if _, err := contact.WaitReceived(wctx, func(got wasim.Received) bool { return got.ID == r.ID }); err != nil {
		t.Fatalf("reply never decrypted (%v); violations: %s", err, strings.Join(f.sim.Violations(), " | "))
	}
	if v := f.sim.Violations(); len(v) > 0 {
		t.Fatalf("violations: %s", strings.Join(v, " | "))
	}
}
