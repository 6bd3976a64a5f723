package webhook_test

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wagate-dev/wagate/internal/metrics"
	"github.com/wagate-dev/wagate/internal/webhook"
)

// TestDeliveryObserver: every attempt is reported to Config.Observer with
// its result, which cmd/wagate wires to the wagate_webhook_deliveries_total
// counter: a delivery answered 2xx counts once as success; a failing
// receiver counts a failure per retried attempt, then dead.
func TestDeliveryObserver(t *testing.T) {
	t.Parallel()
	mx := metrics.New()
	var mu sync.Mutex
	var results []string
	observe := func(result string, took time.Duration) {
		mu.Lock()
		results = append(results, result)
		mu.Unlock()
		if took <= 0 {
			t.Errorf("attempt reported as taking %s", took)
		}
		mx.WebhookDelivery(result, took)
	}
	observed := func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), results...)
	}
	counter := func(result string) string {
		text, err := mx.Text()
		if err != nil {
			t.Fatal(err)
		}
		prefix := `wagate_webhook_deliveries_total{result="` + result + `"} `
		for _, line := range strings.Split(text, "\n") {
			if v, ok := strings.CutPrefix(line, prefix); ok {
				return v
			}
		}
		t.Fatalf("no %s series in:\n%s", prefix, text)
		return ""
	}

	b := setup(t, webhook.Config{Guard: webhook.Guard{AllowPrivate: true}, MaxAttempts: 2, RetryBase: 20 * time.Millisecond, Observer: observe})
	rcv := newReceiver(t)
	b.addWebhook(t, rcv.URL+"/hook")
	if got := counter("success"); got != "0" {
		t.Fatalf("success counter before any delivery: %s", got)
	}
	b.record(t, b.session, "message", map[string]any{"text": "counted"})
	eventually(t, 10*time.Second, "the delivery observed", func() bool { return len(observed()) == 1 })
	if got := observed(); got[0] != webhook.ResultSuccess {
		t.Fatalf("observed %v, want [success]", got)
	}
	if s, f, d := counter("success"), counter("failure"), counter("dead"); s != "1" || f != "0" || d != "0" {
		t.Fatalf("counters after one delivery: success %s, failure %s, dead %s", s, f, d)
	}

	rcv.status.Store(500)
	b.record(t, b.session, "message", map[string]any{"text": "refused"})
	eventually(t, 10*time.Second, "two failed attempts observed", func() bool { return len(observed()) == 3 })
	if got := observed(); got[1] != webhook.ResultFailure || got[2] != webhook.ResultDead {
		t.Fatalf("observed %v, want [success failure dead]", got)
	}
	if s, f, d := counter("success"), counter("failure"), counter("dead"); s != "1" || f != "1" || d != "1" {
		t.Fatalf("counters: success %s, failure %s, dead %s; want 1, 1, 1", s, f, d)
	}
}
