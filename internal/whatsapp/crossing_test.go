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

// TestFirstMessagesCross: a session and contacts it never talked to write
// to each other at the same moment (each side starts a Signal session from
// the other's prekey bundle), then keep writing. Every message must be
// decrypted by the other side.
func TestFirstMessagesCross(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	m := f.manager()
	ctx := context.Background()
	const phone = "15550190001"
	id := f.createSession("crossing")
	f.linkQR(m, id, phone)
	const contacts, rounds = 12, 4
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		sent    = map[string]string{}
		inbound []string
	)
	for k := range contacts {
		peer := fmt.Sprintf("155501910%02d", k)
		contact := f.sim.Contact(peer)
		to := gateway.ChatRef{JID: peer + "@s.whatsapp.net"}
		wg.Add(2)
		go func() {
			defer wg.Done()
			for i := range rounds {
				r, err := m.SendText(ctx, id, gateway.OutgoingText{Chat: to, Text: fmt.Sprintf("out %d", i)})
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				sent[r.ID] = peer
				mu.Unlock()
			}
		}()
		go func() {
			defer wg.Done()
			for i := range rounds {
				mid, err := contact.SendText(ctx, phone, fmt.Sprintf("in %d", i))
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
	wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	for mid, peer := range sent {
		if _, err := f.sim.Contact(peer).WaitReceived(wctx, func(r wasim.Received) bool { return r.ID == mid }); err != nil {
			t.Errorf("send %s to %s never decrypted (%v); violations: %s", mid, peer, err, strings.Join(f.sim.Violations(), " | "))
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
}
