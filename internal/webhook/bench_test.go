package webhook_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/wagate-dev/wagate/internal/postgres"
	"github.com/wagate-dev/wagate/internal/webhook"
)

// TestBenchWebhooks measures deliveries per second to a local receiver and
// the latency from an event's commit to its arrival. It runs only with
// WAGATE_BENCH_WEBHOOKS=1 (numbers go to docs/benchmarks.md):
//
//	WAGATE_BENCH_WEBHOOKS=1 go test ./internal/webhook -run TestBenchWebhooks -v -count=1
func TestBenchWebhooks(t *testing.T) {
	if os.Getenv("WAGATE_BENCH_WEBHOOKS") != "1" {
		t.Skip("set WAGATE_BENCH_WEBHOOKS=1 to run the webhook benchmark")
	}
	b := setup(t, webhook.Config{Guard: webhook.Guard{AllowPrivate: true}, Timeout: 10 * time.Second})
	var mu sync.Mutex
	arrived := map[string]time.Time{}
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		now := time.Now()
		body, _ := io.ReadAll(r.Body)
		var ev struct {
			ID string `json:"id"`
		}
		_ = json.Unmarshal(body, &ev)
		mu.Lock()
		if _, dup := arrived[ev.ID]; !dup {
			arrived[ev.ID] = now
		}
		mu.Unlock()
	}))
	t.Cleanup(rcv.Close)
	b.addWebhook(t, rcv.URL)
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(arrived) }
	ctx := context.Background()

	// Throughput: a backlog of events committed 100 per transaction, drained.
	const burst = 5000
	start := time.Now()
	for i := 0; i < burst; i += 100 {
		err := postgres.InTx(ctx, b.pool, func(tx pgx.Tx) error {
			for j := i; j < i+100; j++ {
				if _, err := postgres.RecordEvent(ctx, tx, b.session, "message", map[string]any{"i": j}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	enqueued := time.Since(start)
	eventually(t, 5*time.Minute, "the burst delivered", func() bool { return count() == burst })
	total := time.Since(start)
	t.Logf("burst: %d events enqueued in %s (%.0f/s), all delivered after %s: %.0f deliveries/s",
		burst, enqueued.Round(time.Millisecond), burst/enqueued.Seconds(), total.Round(time.Millisecond), burst/total.Seconds())

	// Latency: one event per transaction at a steady 50/s, commit to arrival.
	const paced = 500
	committed := map[string]time.Time{}
	tick := time.NewTicker(20 * time.Millisecond)
	for i := range paced {
		<-tick.C
		id := b.record(t, b.session, "message", map[string]any{"paced": i})
		committed[id] = time.Now()
	}
	tick.Stop()
	eventually(t, time.Minute, "the paced events delivered", func() bool { return count() == burst+paced })
	mu.Lock()
	lat := make([]time.Duration, 0, paced)
	for id, c := range committed {
		lat = append(lat, arrived[id].Sub(c))
	}
	mu.Unlock()
	slices.Sort(lat)
	pct := func(p float64) time.Duration { return lat[int(p*float64(len(lat)-1))] }
	t.Logf("latency (commit to arrival, %d events at 50/s): p50 %s, p99 %s, max %s",
		paced, pct(0.50).Round(100*time.Microsecond), pct(0.99).Round(100*time.Microsecond), lat[len(lat)-1].Round(100*time.Microsecond))
}
