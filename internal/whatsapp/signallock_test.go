package whatsapp_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wagate-dev/wagate/internal/gateway"
	"github.com/wagate-dev/wagate/internal/wasim"
)

// TestSendsWhileReceiving is the soak's outbound loss (issue 14): a
// contact writes to the session while the session writes to it, so that
// whatsmeow decrypts the contact's messages (handler goroutine) while it
// encrypts sends to the same contact (caller goroutine) on the same
// Signal session. Without the signal lock the later write of the session
// record won: a send reused a message key the contact had already used
// ("received message with old counter"), so the contact could not decrypt
// a message the server had acked (the API answered 200, nothing arrived),
// or a contact's message was lost on the gateway side. Every send that
// returned must reach the contact, every contact message must be stored,
// and the simulator must have seen no undecryptable message.
func TestSendsWhileReceiving(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	m := f.manager()
	ctx := context.Background()
	const phone, peer = "15550180001", "15550180002"
	id := f.createSession("signal-race")
	f.linkQR(m, id, phone)
	contact := f.sim.Contact(peer)
	to := gateway.ChatRef{JID: peer + "@s.whatsapp.net"}
	// One exchange first, so both sides hold a session (the race is on
	// an established one, as in the soak).
	if _, err := m.SendText(ctx, id, gateway.OutgoingText{Chat: to, Text: "hello"}); err != nil {
		t.Fatal(err)
	}
	first, err := contact.SendText(ctx, phone, "hi")
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "the contact's first message stored", func() bool { return inSink(f, first) })

	const rounds = 60
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		sent     []string
		inbound  []string
		sendErrs []error
	)
	wg.Add(3)
	go func() { // the session writes
		defer wg.Done()
		for i := range rounds {
			r, err := m.SendText(ctx, id, gateway.OutgoingText{Chat: to, Text: fmt.Sprintf("out %d", i)})
			mu.Lock()
			if err != nil {
				sendErrs = append(sendErrs, err)
			} else {
				sent = append(sent, r.ID)
			}
			mu.Unlock()
		}
	}()
	for w := range 2 { // the contact writes, from two goroutines
		go func() {
			defer wg.Done()
			for i := range rounds / 2 {
				mid, err := contact.SendText(ctx, phone, fmt.Sprintf("in %d/%d", w, i))
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				inbound = append(inbound, mid)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(sendErrs) > 0 {
		t.Fatalf("%d sends failed without a fault, first: %v", len(sendErrs), sendErrs[0])
	}
	wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	for _, mid := range sent {
		if _, err := contact.WaitReceived(wctx, func(r wasim.Received) bool { return r.ID == mid }); err != nil {
			t.Errorf("send %s answered success but the contact never decrypted it (%v); simulator violations: %s",
				mid, err, strings.Join(f.sim.Violations(), " | "))
			break
		}
	}
	eventually(t, "every contact message stored", func() bool {
		for _, mid := range inbound {
			if !inSink(f, mid) {
				return false
			}
		}
		return true
	})
	for _, v := range f.sim.Violations() {
		if strings.Contains(v, "could not decrypt") {
			t.Errorf("simulator: %s", v)
		}
	}
	// Retry receipts would recover a reused key: the race shows as a
	// message that needed one, in either direction.
	if n, r := f.sim.Counter("undecryptable"), f.sim.Counter("retry:received"); n > 0 || r > 0 {
		t.Errorf("%d sends the contact could not decrypt, %d retry receipts from the gateway", n, r)
	}
}

func inSink(f *fixture, id string) bool {
	for _, m := range f.sink.messages() {
		if m.ID == id {
			return true
		}
	}
	return false
}
