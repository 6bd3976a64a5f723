package webhook_test

import (
	"context"
	"testing"
	"time"

	"github.com/wagate-dev/wagate/internal/gateway"
	"github.com/wagate-dev/wagate/internal/webhook"
)

// TestEventRetention: events older than Retention go with their deliveries
// and attempts, whatever their outcome, except those with a delivery still
// pending or retrying; recent events stay; the periodic cleanup does it
// while the service runs.
func TestEventRetention(t *testing.T) {
	t.Parallel()
	const retention = 30 * 24 * time.Hour
	b := setup(t, webhook.Config{Guard: webhook.Guard{AllowPrivate: true}, Retention: retention, CleanupInterval: 100 * time.Millisecond})
	ctx := context.Background()
	rcv := newReceiver(t)
	b.addWebhook(t, rcv.URL+"/hook")

	// Delivered events, then aged: one by one so that each has its outcome.
	type ev struct {
		id      string
		age     time.Duration
		status  gateway.DeliveryStatus
		removed bool
	}
	evs := []*ev{
		{age: 31 * 24 * time.Hour, status: gateway.DeliverySucceeded, removed: true},
		{age: 45 * 24 * time.Hour, status: gateway.DeliveryDead, removed: true},
		{age: 40 * 24 * time.Hour, status: gateway.DeliveryRetrying},
		{age: 40 * 24 * time.Hour, status: gateway.DeliveryPending},
		{age: 29 * 24 * time.Hour, status: gateway.DeliverySucceeded},
		{age: time.Minute, status: gateway.DeliverySucceeded},
	}
	for _, e := range evs {
		e.id = b.record(t, b.session, "message", map[string]any{"text": "retention"})
	}
	eventually(t, 10*time.Second, "every event delivered", func() bool {
		return len(b.deliveries(t, statusPtr(gateway.DeliverySucceeded))) == len(evs)
	})
	count := func(q, id string) int {
		var n int
		if err := b.pool.QueryRow(ctx, q, id).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	for _, e := range evs {
		if a := count(`SELECT count(*) FROM webhook_attempts a JOIN webhook_deliveries d ON d.id = a.delivery_id WHERE d.event_id = $1`, e.id); a == 0 {
			t.Fatalf("event %s has no attempt recorded", e.id)
		}
	}

	for _, e := range evs {
		// The outcome and the age are set directly: the cleanup only looks
		// at them.
		if _, err := b.pool.Exec(ctx, `UPDATE webhook_deliveries SET status = $2 WHERE event_id = $1`, e.id, string(e.status)); err != nil {
			t.Fatal(err)
		}
		if _, err := b.pool.Exec(ctx, `UPDATE events SET created_at = now() - $2::interval WHERE id = $1`, e.id, e.age.String()); err != nil {
			t.Fatal(err)
		}
	}
	// The periodic cleanup (every 100 ms here) removes the expired ones.
	eventually(t, 10*time.Second, "the expired events removed", func() bool {
		return count(`SELECT count(*) FROM events WHERE id = $1`, evs[0].id)+count(`SELECT count(*) FROM events WHERE id = $1`, evs[1].id) == 0
	})
	for _, e := range evs {
		events := count(`SELECT count(*) FROM events WHERE id = $1`, e.id)
		deliveries := count(`SELECT count(*) FROM webhook_deliveries WHERE event_id = $1`, e.id)
		attempts := count(`SELECT count(*) FROM webhook_attempts a JOIN webhook_deliveries d ON d.id = a.delivery_id WHERE d.event_id = $1`, e.id)
		if e.removed && events+deliveries+attempts != 0 {
			t.Errorf("%s event aged %s: %d events, %d deliveries, %d attempts left, want none", e.status, e.age, events, deliveries, attempts)
		}
		if !e.removed && (events != 1 || deliveries != 1 || attempts == 0) {
			t.Errorf("%s event aged %s: %d events, %d deliveries, %d attempts, want it kept", e.status, e.age, events, deliveries, attempts)
		}
	}
	var orphans int
	if err := b.pool.QueryRow(ctx, `SELECT count(*) FROM webhook_attempts a WHERE NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.id = a.delivery_id)`).Scan(&orphans); err != nil || orphans != 0 {
		t.Errorf("%d orphan attempts (%v)", orphans, err)
	}

	// A pass with nothing expired removes nothing; once the retrying
	// delivery is over, its event goes too.
	if n, err := b.svc.CleanupOnce(ctx); err != nil || n != 0 {
		t.Errorf("second pass: %d removed, %v", n, err)
	}
	if _, err := b.pool.Exec(ctx, `UPDATE webhook_deliveries SET status = 'dead' WHERE event_id = $1`, evs[2].id); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "the finished old event removed", func() bool {
		return count(`SELECT count(*) FROM events WHERE id = $1`, evs[2].id) == 0
	})
}

// TestEventRetentionOff: without a Retention nothing is removed.
func TestEventRetentionOff(t *testing.T) {
	t.Parallel()
	b := setup(t, webhook.Config{Guard: webhook.Guard{AllowPrivate: true}})
	ctx := context.Background()
	id := b.record(t, b.session, "message", map[string]any{"text": "kept"})
	if _, err := b.pool.Exec(ctx, `UPDATE events SET created_at = now() - interval '10 years' WHERE id = $1`, id); err != nil {
		t.Fatal(err)
	}
	if n, err := b.svc.CleanupOnce(ctx); err != nil || n != 0 {
		t.Fatalf("cleanup without retention: %d removed, %v", n, err)
	}
	var n int
	if err := b.pool.QueryRow(ctx, `SELECT count(*) FROM events WHERE id = $1`, id).Scan(&n); err != nil || n != 1 {
		t.Fatalf("event removed without retention: %d (%v)", n, err)
	}
}
