package messaging_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/wagate-dev/wagate/gen/client"
	"github.com/wagate-dev/wagate/internal/gateway"
	"github.com/wagate-dev/wagate/internal/messaging"
	"github.com/wagate-dev/wagate/internal/postgres"
	"github.com/wagate-dev/wagate/internal/testkit"
)

// The measurements behind docs/benchmarks.md ("Messages and chat
// operations"). They run only with WAGATE_BENCH=1 and print a report; no
// number is asserted:
//
//	WAGATE_BENCH=1 go test ./internal/messaging -run 'TestBench' -v -count=1

func benchEnabled(t *testing.T) {
	if os.Getenv("WAGATE_BENCH") != "1" {
		t.Skip("set WAGATE_BENCH=1 to run the benchmarks")
	}
}

// TestBenchStorePath measures inbound messages stored per second on the
// store path (messaging.Service.StoreInbound → one transaction with the
// message, the chat and the webhook event), one message per transaction as
// live messages arrive, with 1 and with 8 sessions in parallel, and as
// history-sync batches.
func TestBenchStorePath(t *testing.T) {
	benchEnabled(t)
	ctx := context.Background()
	pool := testkit.NewDB(t)
	store := postgres.NewStore(pool)
	msgs := postgres.NewMessages(pool)
	svc := messaging.New(msgs, nil, messaging.Options{})
	newSession := func() uuid.UUID {
		var h gateway.KeyHash
		copy(h[:], uuid.New().String())
		s, err := store.CreateSession(ctx, gateway.NewSession{Name: "bench-" + uuid.NewString(), KeyHash: h})
		if err != nil {
			t.Fatal(err)
		}
		return s.ID
	}
	text := "a typical short message body"
	msg := func(sid uuid.UUID, i int) gateway.Message {
		chat := fmt.Sprintf("1555%07d@s.whatsapp.net", i%50)
		return gateway.Message{ID: fmt.Sprintf("3A%018d", i), ChatJID: chat, Sender: chat, Timestamp: time.Now(),
			Type: gateway.TypeText, Text: &text, Reactions: []gateway.Reaction{}}
	}
	run := func(sessions, perSession int) float64 {
		sids := make([]uuid.UUID, sessions)
		for i := range sids {
			sids[i] = newSession()
		}
		var wg sync.WaitGroup
		var failed atomic.Int64
		start := time.Now()
		for _, sid := range sids {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < perSession; i++ {
					ref := gateway.ChatRef{JID: msg(sid, i).ChatJID}
					if err := svc.StoreInbound(ctx, sid, gateway.InboundBatch{Chats: []gateway.ChatRef{ref}, Messages: []gateway.Message{msg(sid, i)}}); err != nil {
						failed.Add(1)
					}
				}
			}()
		}
		wg.Wait()
		if failed.Load() > 0 {
			t.Fatalf("%d stores failed", failed.Load())
		}
		return float64(sessions*perSession) / time.Since(start).Seconds()
	}
	history := func(n int) float64 {
		sid := newSession()
		start := time.Now()
		for b := 0; b < n/500; b++ {
			batch := gateway.InboundBatch{HistorySync: true}
			for i := 0; i < 500; i++ {
				batch.Messages = append(batch.Messages, msg(sid, b*500+i))
			}
			if err := svc.StoreInbound(ctx, sid, batch); err != nil {
				t.Fatal(err)
			}
		}
		return float64(n) / time.Since(start).Seconds()
	}
	run(1, 200) // warm up
	one := run(1, 3000)
	eight := run(8, 1000)
	sixteen := run(16, 500)
	hist := history(20000)
	t.Logf("\n| Store path | messages/s |\n|---|---|\n| 1 session, 1 message per transaction | %.0f |\n| 8 sessions in parallel, 1 message per transaction | %.0f |\n| 16 sessions in parallel, 1 message per transaction | %.0f |\n| history sync, 500 messages per transaction | %.0f |",
		one, eight, sixteen, hist)
}

// TestBenchSimulatorPath measures the full inbound path: simulated
// contacts encrypt and send, the real whatsmeow client decrypts, the
// message is stored with its event, and only then acknowledged.
func TestBenchSimulatorPath(t *testing.T) {
	benchEnabled(t)
	e := newE2E(t, "15550190000", messaging.Options{})
	const perContact, contacts = 250, 4
	var wg sync.WaitGroup
	start := time.Now()
	for c := 0; c < contacts; c++ {
		contact := e.sim.Contact(fmt.Sprintf("1555019100%d", c))
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < perContact; i++ {
				if _, err := contact.SendText(e.ctx, e.own, "benchmark message"); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	sent := time.Since(start)
	total := perContact * contacts
	var n int
	deadline := time.Now().Add(2 * time.Minute)
	for n < total && time.Now().Before(deadline) {
		_ = e.pool.QueryRow(e.ctx, `SELECT count(*) FROM messages WHERE session_id = $1`, e.sid).Scan(&n)
		time.Sleep(20 * time.Millisecond) // polling a counter in a benchmark, not a test condition
	}
	if n < total {
		t.Fatalf("only %d of %d stored", n, total)
	}
	el := time.Since(start)
	t.Logf("\n| Full path through the simulator (1 session, %d contacts) | value |\n|---|---|\n| messages | %d |\n| simulator encrypt+queue time | %s |\n| all stored after | %s |\n| messages/s end to end | %.0f |",
		contacts, total, sent.Round(time.Millisecond), el.Round(time.Millisecond), float64(total)/el.Seconds())
}

// TestBenchOperationLatency measures p50/p99 of each API operation through
// HTTP (generated client, contract validation included) against the
// simulator, which acknowledges like WhatsApp does.
func TestBenchOperationLatency(t *testing.T) {
	benchEnabled(t)
	e := newE2E(t, "15550192000", messaging.Options{})
	e.sim.Contact("15550192001")
	const chat = "15550192001@s.whatsapp.net"
	const n = 100
	type result struct {
		name string
		d    []time.Duration
	}
	var results []result
	measure := func(name string, op func(i int) (int, []byte, error)) {
		var ds []time.Duration
		for i := 0; i < n; i++ {
			start := time.Now()
			status, body, err := op(i)
			ds = append(ds, time.Since(start))
			if err != nil || status != http.StatusOK {
				t.Fatalf("%s #%d: %v %d %s", name, i, err, status, body)
			}
		}
		sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
		results = append(results, result{name, ds})
	}
	// Wait for app-state keys.
	eventually(t, "app state ready", func() bool {
		r, err := e.c.UnarchiveChatWithResponse(e.ctx, e.sid, chat, nil)
		return err == nil && r.StatusCode() == http.StatusOK
	})
	ids := make([]string, n)
	measure("send text", func(i int) (int, []byte, error) {
		r, err := e.c.SendTextWithResponse(e.ctx, e.sid, nil, client.SendTextJSONRequestBody{To: chat, Text: "bench"})
		if err == nil && r.JSON200 != nil {
			ids[i] = r.JSON200.MessageId
		}
		return statusOf(r), r.Body, err
	})
	measure("edit message", func(i int) (int, []byte, error) {
		r, err := e.c.EditMessageWithResponse(e.ctx, e.sid, chat, ids[0], nil, client.EditMessageJSONRequestBody{Text: fmt.Sprint("edit ", i)})
		return statusOf(r), r.Body, err
	})
	measure("react", func(i int) (int, []byte, error) {
		emoji := []string{"👍", "❤️"}[i%2]
		r, err := e.c.ReactToMessageWithResponse(e.ctx, e.sid, ids[1], nil, client.ReactToMessageJSONRequestBody{ChatId: chat, Emoji: &emoji})
		return statusOf(r), r.Body, err
	})
	measure("pin", func(i int) (int, []byte, error) {
		r, err := e.c.PinMessageWithResponse(e.ctx, e.sid, chat, ids[2], nil, client.PinMessageJSONRequestBody{})
		return statusOf(r), r.Body, err
	})
	measure("unpin", func(i int) (int, []byte, error) {
		r, err := e.c.UnpinMessageWithResponse(e.ctx, e.sid, chat, ids[2], nil)
		return statusOf(r), r.Body, err
	})
	measure("star / unstar", func(i int) (int, []byte, error) {
		r, err := e.c.StarMessageWithResponse(e.ctx, e.sid, chat, ids[3], nil, client.StarMessageJSONRequestBody{Star: ptr(i%2 == 0)})
		return statusOf(r), r.Body, err
	})
	measure("archive", func(i int) (int, []byte, error) {
		r, err := e.c.ArchiveChatWithResponse(e.ctx, e.sid, chat, nil)
		return statusOf(r), r.Body, err
	})
	measure("unarchive", func(i int) (int, []byte, error) {
		r, err := e.c.UnarchiveChatWithResponse(e.ctx, e.sid, chat, nil)
		return statusOf(r), r.Body, err
	})
	measure("mark unread", func(i int) (int, []byte, error) {
		r, err := e.c.MarkChatUnreadWithResponse(e.ctx, e.sid, chat, nil)
		return statusOf(r), r.Body, err
	})
	measure("delete message", func(i int) (int, []byte, error) {
		r, err := e.c.DeleteMessageWithResponse(e.ctx, e.sid, chat, ids[i], nil)
		return statusOf(r), r.Body, err
	})
	measure("delete chat", func(i int) (int, []byte, error) {
		r, err := e.c.DeleteChatWithResponse(e.ctx, e.sid, chat, nil)
		return statusOf(r), r.Body, err
	})
	measure("list chats (store read)", func(i int) (int, []byte, error) {
		r, err := e.c.ListChatsWithResponse(e.ctx, e.sid, nil)
		return statusOf(r), r.Body, err
	})
	var b strings.Builder
	fmt.Fprintf(&b, "\n| Operation (%d calls each) | p50 | p99 |\n|---|---|---|\n", n)
	for _, r := range results {
		p := func(q float64) string {
			return fmt.Sprintf("%.1f ms", float64(r.d[int(q*float64(len(r.d)-1))].Microseconds())/1000)
		}
		fmt.Fprintf(&b, "| %s | %s | %s |\n", r.name, p(0.50), p(0.99))
	}
	t.Log(b.String())
}
