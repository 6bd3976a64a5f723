package webhook_test

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/rs/zerolog"

	"github.com/wagate-dev/wagate/internal/gateway"
	"github.com/wagate-dev/wagate/internal/postgres"
	"github.com/wagate-dev/wagate/internal/testkit"
	"github.com/wagate-dev/wagate/internal/webhook"
)

// ---- receiver ----

type delivery struct {
	header http.Header
	body   []byte
	event  struct {
		ID        string          `json:"id"`
		Type      string          `json:"type"`
		SessionID string          `json:"sessionId"`
		Timestamp time.Time       `json:"timestamp"`
		Data      json.RawMessage `json:"data"`
	}
}

// receiver is a real HTTP receiver that answers status (200 by default)
// and remembers what it got.
type receiver struct {
	*httptest.Server
	status atomic.Int32
	mu     sync.Mutex
	got    []delivery
	hits   atomic.Int32
}

func newReceiver(t testing.TB) *receiver {
	r := &receiver{}
	r.status.Store(200)
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.hits.Add(1)
		body, _ := io.ReadAll(req.Body)
		code := int(r.status.Load())
		if code/100 == 2 {
			d := delivery{header: req.Header.Clone(), body: body}
			if err := json.Unmarshal(body, &d.event); err != nil {
				t.Errorf("receiver: body is not an envelope: %v", err)
			}
			r.mu.Lock()
			r.got = append(r.got, d)
			r.mu.Unlock()
		}
		w.WriteHeader(code)
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) deliveries() []delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]delivery(nil), r.got...)
}

// eventIDs returns the distinct event ids received.
func (r *receiver) eventIDs() map[string]int {
	out := map[string]int{}
	for _, d := range r.deliveries() {
		out[d.event.ID]++
	}
	return out
}

// independentVerify checks a delivery's signature without the package's
// code: HMAC-SHA256(secret, timestamp + "." + body), hex, "v1=" prefix.
func independentVerify(secret string, h http.Header, body []byte) error {
	ts := h.Get("X-Wagate-Timestamp")
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("timestamp %q: %w", ts, err)
	}
	if d := time.Since(time.Unix(sec, 0)); d > 5*time.Minute || d < -5*time.Minute {
		return fmt.Errorf("timestamp %d too far from now", sec)
	}
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts + "." + string(body)))
	want := "v1=" + hex.EncodeToString(m.Sum(nil))
	if got := h.Get("X-Wagate-Signature"); !hmac.Equal([]byte(got), []byte(want)) {
		return fmt.Errorf("signature %q, want %q", got, want)
	}
	return nil
}

// ---- bundle ----

type bundle struct {
	pool    *pgxpool.Pool
	store   *postgres.Store
	svc     *webhook.Service
	session uuid.UUID
}

func setup(t *testing.T, cfg webhook.Config) *bundle {
	t.Helper()
	pool := testkit.NewDB(t)
	store := postgres.NewStore(pool)
	if cfg.RetryBase == 0 {
		cfg.RetryBase = 50 * time.Millisecond
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 2 * time.Second
	}
	cfg.Log = zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)
	svc, err := webhook.New(pool, store, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := svc.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer scancel()
		_ = svc.Stop(sctx)
		cancel()
	})
	b := &bundle{pool: pool, store: store, svc: svc}
	b.session = b.createSession(t, nil)
	return b
}

func (b *bundle) createSession(t *testing.T, webhookURL *string) uuid.UUID {
	t.Helper()
	var kh gateway.KeyHash
	_, _ = rand.Read(kh[:])
	s, err := b.store.CreateSession(context.Background(), gateway.NewSession{
		Name: "s-" + uuid.NewString()[:8], WebhookURL: webhookURL, KeyHash: kh,
	})
	if err != nil {
		t.Fatal(err)
	}
	return s.ID
}

// record commits one event and returns its id.
func (b *bundle) record(t testing.TB, session uuid.UUID, typ string, data any) string {
	t.Helper()
	var id string
	err := postgres.InTx(context.Background(), b.pool, func(tx pgx.Tx) error {
		var err error
		id, err = postgres.RecordEvent(context.Background(), tx, session, typ, data)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func (b *bundle) addWebhook(t *testing.T, url string, events ...string) gateway.Webhook {
	t.Helper()
	w, err := b.svc.CreateWebhook(context.Background(), b.session, gateway.WebhookInput{URL: url, Events: events})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func (b *bundle) deliveries(t testing.TB, status *gateway.DeliveryStatus) []gateway.Delivery {
	t.Helper()
	out, _, err := b.svc.ListDeliveries(context.Background(), b.session, gateway.DeliveryFilter{Status: status, Limit: 200})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// eventually polls cond every 20 ms until it holds or timeout passes.
func eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		<-tick.C
	}
}

func statusPtr(s gateway.DeliveryStatus) *gateway.DeliveryStatus { return &s }

// ---- tests ----

func TestDeliverSignedEvent(t *testing.T) {
	t.Parallel()
	b := setup(t, webhook.Config{Guard: webhook.Guard{AllowPrivate: true}})
	rcv := newReceiver(t)
	w := b.addWebhook(t, rcv.URL+"/hook")
	if !strings.HasPrefix(w.Secret, "whsec_") {
		t.Fatalf("secret %q", w.Secret)
	}
	id := b.record(t, b.session, "message", map[string]any{"text": "hi"})

	eventually(t, 10*time.Second, "one delivery", func() bool { return len(rcv.deliveries()) == 1 })
	d := rcv.deliveries()[0]
	if err := independentVerify(w.Secret, d.header, d.body); err != nil {
		t.Fatal(err)
	}
	if err := webhook.Verify(w.Secret, d.header.Get(webhook.HeaderSignature), d.header.Get(webhook.HeaderTimestamp), d.body, time.Minute); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if d.header.Get("X-Wagate-Event-Id") != id || d.event.ID != id {
		t.Fatalf("event id header %q body %q, want %q", d.header.Get("X-Wagate-Event-Id"), d.event.ID, id)
	}
	if d.header.Get("X-Wagate-Event-Type") != "message" || d.event.Type != "message" {
		t.Fatalf("event type %q", d.event.Type)
	}
	if d.event.SessionID != b.session.String() || string(d.event.Data) != `{"text":"hi"}` || d.event.Timestamp.IsZero() {
		t.Fatalf("envelope %+v", d.event)
	}
	eventually(t, 5*time.Second, "delivery succeeded", func() bool {
		ds := b.deliveries(t, nil)
		return len(ds) == 1 && ds[0].Status == gateway.DeliverySucceeded && ds[0].Attempts == 1 &&
			ds[0].LastStatusCode != nil && *ds[0].LastStatusCode == 200 && ds[0].LastLatencyMs != nil
	})
}

func TestEventFilter(t *testing.T) {
	t.Parallel()
	b := setup(t, webhook.Config{Guard: webhook.Guard{AllowPrivate: true}})
	all, onlyState := newReceiver(t), newReceiver(t)
	b.addWebhook(t, all.URL)
	b.addWebhook(t, onlyState.URL, "session.state")
	b.record(t, b.session, "message", nil)
	stateID := b.record(t, b.session, "session.state", map[string]any{"state": "connected"})

	eventually(t, 10*time.Second, "both events at the all-events receiver", func() bool { return len(all.eventIDs()) == 2 })
	eventually(t, 10*time.Second, "the state event at the filtered receiver", func() bool { return onlyState.eventIDs()[stateID] == 1 })
	if got := b.deliveries(t, nil); len(got) != 3 {
		t.Fatalf("%d deliveries, want 3", len(got))
	}
	if n := len(onlyState.deliveries()); n != 1 {
		t.Fatalf("filtered receiver got %d deliveries", n)
	}
}

func TestReceiverDownThenUp(t *testing.T) {
	t.Parallel()
	b := setup(t, webhook.Config{Guard: webhook.Guard{AllowPrivate: true}, RetryBase: 100 * time.Millisecond})
	rcv := newReceiver(t)
	rcv.status.Store(503)
	b.addWebhook(t, rcv.URL)
	const n = 20
	ids := map[string]bool{}
	for i := range n {
		ids[b.record(t, b.session, "message", map[string]any{"i": i})] = true
	}
	eventually(t, 15*time.Second, "every delivery retrying after a 503", func() bool {
		ds := b.deliveries(t, statusPtr(gateway.DeliveryRetrying))
		return len(ds) == n
	})
	for _, d := range b.deliveries(t, nil) {
		if d.LastStatusCode == nil || *d.LastStatusCode != 503 || d.NextAttemptAt == nil {
			t.Fatalf("retrying delivery %+v", d)
		}
	}
	rcv.status.Store(200)
	eventually(t, 30*time.Second, "every event delivered", func() bool { return len(rcv.eventIDs()) == n })
	for id := range rcv.eventIDs() {
		if !ids[id] {
			t.Fatalf("unknown event id %s", id)
		}
	}
	eventually(t, 5*time.Second, "every delivery succeeded", func() bool {
		return len(b.deliveries(t, statusPtr(gateway.DeliverySucceeded))) == n
	})
	var attempts int
	if err := b.pool.QueryRow(context.Background(), `SELECT count(*) FROM webhook_attempts`).Scan(&attempts); err != nil {
		t.Fatal(err)
	}
	if attempts < 2*n {
		t.Fatalf("%d attempts recorded, want at least %d (a failure and a success each)", attempts, 2*n)
	}
}

func TestDeadThenRedeliver(t *testing.T) {
	t.Parallel()
	b := setup(t, webhook.Config{Guard: webhook.Guard{AllowPrivate: true}, MaxAttempts: 2, RetryBase: 20 * time.Millisecond})
	rcv := newReceiver(t)
	rcv.status.Store(500)
	b.addWebhook(t, rcv.URL)
	const n = 5
	for i := range n {
		b.record(t, b.session, "message", map[string]any{"i": i})
	}
	eventually(t, 15*time.Second, "every delivery dead", func() bool {
		return len(b.deliveries(t, statusPtr(gateway.DeliveryDead))) == n
	})
	for _, d := range b.deliveries(t, nil) {
		if d.Attempts != 2 || d.NextAttemptAt != nil || d.LastStatusCode == nil || *d.LastStatusCode != 500 {
			t.Fatalf("dead delivery %+v", d)
		}
	}
	rcv.status.Store(200)
	ctx := context.Background()

	one := b.deliveries(t, nil)[0]
	got, err := b.svc.Redeliver(ctx, b.session, one.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != one.ID || got.Status != gateway.DeliveryPending {
		t.Fatalf("redeliver answered %+v", got)
	}
	eventually(t, 10*time.Second, "the redelivered one succeeded", func() bool {
		return len(b.deliveries(t, statusPtr(gateway.DeliverySucceeded))) == 1
	})
	if ids := rcv.eventIDs(); len(ids) != 1 || ids[one.EventID] != 1 {
		t.Fatalf("receiver got %v, want only %s", ids, one.EventID)
	}

	count, err := b.svc.RedeliverDead(ctx, b.session)
	if err != nil || count != n-1 {
		t.Fatalf("RedeliverDead = %d, %v; want %d", count, err, n-1)
	}
	eventually(t, 10*time.Second, "every delivery succeeded", func() bool {
		return len(b.deliveries(t, statusPtr(gateway.DeliverySucceeded))) == n
	})
	if ids := rcv.eventIDs(); len(ids) != n {
		t.Fatalf("receiver got %d distinct events, want %d", len(ids), n)
	}
	if _, err := b.svc.Redeliver(ctx, b.session, 999999); gateway.ErrorCode(err) != gateway.CodeNotFound {
		t.Fatalf("unknown delivery: %v", err)
	}
}

func TestRolledBackEventIsNeverDelivered(t *testing.T) {
	t.Parallel()
	b := setup(t, webhook.Config{Guard: webhook.Guard{AllowPrivate: true}})
	rcv := newReceiver(t)
	b.addWebhook(t, rcv.URL)
	ctx := context.Background()
	errRollback := errors.New("roll back")
	err := postgres.InTx(ctx, b.pool, func(tx pgx.Tx) error {
		if _, err := postgres.RecordEvent(ctx, tx, b.session, "message", map[string]any{"rolled": "back"}); err != nil {
			return err
		}
		return gateway.Wrap(gateway.CodeInvalid, "test", errRollback)
	})
	if !errors.Is(err, errRollback) {
		t.Fatalf("InTx: %v", err)
	}
	var jobs int
	if err := b.pool.QueryRow(ctx, `SELECT count(*) FROM river_job`).Scan(&jobs); err != nil || jobs != 0 {
		t.Fatalf("%d jobs after rollback (%v)", jobs, err)
	}
	// A committed event after it is delivered, and it is the only one.
	id := b.record(t, b.session, "message", map[string]any{"committed": true})
	eventually(t, 10*time.Second, "the committed event", func() bool { return rcv.eventIDs()[id] == 1 })
	if ids := rcv.eventIDs(); len(ids) != 1 {
		t.Fatalf("receiver got %v", ids)
	}
	if ds := b.deliveries(t, nil); len(ds) != 1 || ds[0].EventID != id {
		t.Fatalf("deliveries %+v", ds)
	}
}

func TestSessionWebhookURL(t *testing.T) {
	t.Parallel()
	b := setup(t, webhook.Config{Guard: webhook.Guard{AllowPrivate: true}})
	rcv := newReceiver(t)
	url := rcv.URL + "/session-hook"
	sid := b.createSession(t, &url)
	hooks, err := b.svc.ListWebhooks(context.Background(), sid)
	if err != nil {
		t.Fatal(err)
	}
	if len(hooks) != 1 || hooks[0].URL != url || len(hooks[0].Events) != 0 || !hooks[0].Enabled || hooks[0].Secret != "" {
		t.Fatalf("session webhooks %+v", hooks)
	}
	w, err := b.svc.RotateWebhookSecret(context.Background(), sid, hooks[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	id := b.record(t, sid, "session.state", map[string]any{"state": "qr_ready"})
	eventually(t, 10*time.Second, "the session event", func() bool { return rcv.eventIDs()[id] == 1 })
	d := rcv.deliveries()[0]
	if err := independentVerify(w.Secret, d.header, d.body); err != nil {
		t.Fatal(err)
	}
}

// A slow receiver holds at most PerReceiver workers; another receiver's
// deliveries go on meanwhile.
func TestSlowReceiverDoesNotBlockOthers(t *testing.T) {
	t.Parallel()
	b := setup(t, webhook.Config{Guard: webhook.Guard{AllowPrivate: true}, PerReceiver: 2, WorkersPerQueue: 4, Timeout: 30 * time.Second})
	release := make(chan struct{})
	var inFlight, maxInFlight atomic.Int32
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := inFlight.Add(1)
		for {
			m := maxInFlight.Load()
			if n <= m || maxInFlight.CompareAndSwap(m, n) {
				break
			}
		}
		select {
		case <-release:
		case <-r.Context().Done():
		}
		inFlight.Add(-1)
	}))
	t.Cleanup(slow.Close)
	t.Cleanup(func() { close(release) })
	fast := newReceiver(t)
	other := b.createSession(t, nil)
	_, err := b.svc.CreateWebhook(context.Background(), other, gateway.WebhookInput{URL: fast.URL})
	if err != nil {
		t.Fatal(err)
	}
	b.addWebhook(t, slow.URL)
	for i := range 10 {
		b.record(t, b.session, "message", map[string]any{"i": i})
	}
	eventually(t, 10*time.Second, "the slow receiver busy", func() bool { return inFlight.Load() == 2 })
	for i := range 10 {
		b.record(t, other, "message", map[string]any{"i": i})
	}
	eventually(t, 10*time.Second, "the other session's events", func() bool { return len(fast.eventIDs()) == 10 })
	if m := maxInFlight.Load(); m > 2 {
		t.Fatalf("%d concurrent requests to one receiver, limit 2", m)
	}
}
