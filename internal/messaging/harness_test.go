package messaging_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/wagate-dev/wagate/gen/client"
	"github.com/wagate-dev/wagate/internal/gateway"
	"github.com/wagate-dev/wagate/internal/httpapi"
	"github.com/wagate-dev/wagate/internal/messaging"
	"github.com/wagate-dev/wagate/internal/postgres"
	"github.com/wagate-dev/wagate/internal/sandbox"
	"github.com/wagate-dev/wagate/internal/testkit"
	"github.com/wagate-dev/wagate/internal/wasim"
	"github.com/wagate-dev/wagate/internal/whatsapp"
)

// waitTimeout bounds every wait on a condition.
const waitTimeout = 20 * time.Second

// faultySink wraps the messaging service as the manager's inbound sink and
// can fail: before storing (a database outage) or after storing (a crash
// between commit and acknowledgement).
type faultySink struct {
	inner *messaging.Sink

	mu          sync.Mutex
	failBefore  int // fail this many calls without storing
	failAfter   int // store, then report failure this many times
	storedCalls int

	// beforeStore and afterStore, when set, run once for the next batch
	// with messages: before it reaches the store, and after it was stored
	// (e.g. to take the database down at exactly that point).
	beforeStore, afterStore func()
}

// takeHook returns *hook and clears it, for a batch with messages.
func (f *faultySink) takeHook(b gateway.InboundBatch, hook *func()) func() {
	f.mu.Lock()
	defer f.mu.Unlock()
	h := *hook
	if h == nil || len(b.Messages) == 0 {
		return nil
	}
	*hook = nil
	return h
}

func (f *faultySink) StoreInbound(ctx context.Context, sid uuid.UUID, b gateway.InboundBatch) error {
	f.mu.Lock()
	if f.failBefore > 0 && len(b.Messages) > 0 {
		f.failBefore--
		f.mu.Unlock()
		return gateway.E(gateway.CodeUnavailable, "database unavailable (injected)")
	}
	after := f.failAfter > 0 && len(b.Messages) > 0
	if after {
		f.failAfter--
	}
	f.mu.Unlock()
	if h := f.takeHook(b, &f.beforeStore); h != nil {
		h()
	}
	if err := f.inner.StoreInbound(ctx, sid, b); err != nil {
		return err
	}
	f.mu.Lock()
	f.storedCalls++
	f.mu.Unlock()
	if h := f.takeHook(b, &f.afterStore); h != nil {
		h()
	}
	if after {
		return gateway.E(gateway.CodeUnavailable, "crashed after commit (injected)")
	}
	return nil
}

func (f *faultySink) pending() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.failBefore + f.failAfter
}

// e2e is one linked session: the real HTTP server (generated client,
// contract-validated), the real whatsmeow manager, the message store on a
// fresh database, and the simulator with the account's phone.
type e2e struct {
	t     *testing.T
	ctx   context.Context
	sim   *wasim.Server
	pool  *pgxpool.Pool
	msgs  *postgres.Messages
	svc   *messaging.Service
	sink  *faultySink
	mgr   *whatsapp.Manager
	srv   *testkit.Server
	c     *client.ClientWithResponses
	sid   uuid.UUID
	key   string
	own   string // own phone number
	phone *wasim.Phone
}

func newE2E(t *testing.T, own string, opts messaging.Options) *e2e {
	t.Helper()
	return newE2EWith(t, own, opts, func(srv *testkit.Server) (uuid.UUID, string) { return srv.CreateSession("e2e-" + own) })
}

// newE2EWith is newE2E with the session created by create (which returns
// its id and session key), e.g. with a trial key.
func newE2EWith(t *testing.T, own string, opts messaging.Options, create func(srv *testkit.Server) (uuid.UUID, string)) *e2e {
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
	msgs := postgres.NewMessages(pool)
	store := postgres.NewStore(pool)
	opts.Log = testkit.Logger(t)
	opts.Recipients = store
	sink := &faultySink{inner: messaging.NewSink(msgs, opts)}
	mgr, err := whatsapp.NewManager(ctx, whatsapp.Options{
		Pool: pool, Status: store, Devices: postgres.NewDeviceStore(pool), Inbound: sink,
		Logger: testkit.Logger(t), HTTPClient: sim.HTTPClient(), TrustSimulator: true,
		ReconnectBaseDelay: 50 * time.Millisecond, ReconnectMaxDelay: 500 * time.Millisecond, LoginTimeout: 10 * time.Second,
		MediaRetryTimeout: 3 * time.Second, // the offline phone of TestExpiredMediaRecovery
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = mgr.Close() })
	opts.Groups = mgr
	svc := messaging.New(msgs, mgr, opts)
	limits := httpapi.RateLimits{General: 100000, Messages: 100000, Sessions: 100, QRSeconds: 0}
	srv := testkit.NewServer(t, testkit.Options{Pool: pool, Runtime: mgr, RateLimits: &limits,
		Deps: func(d *httpapi.Deps) {
			d.Messaging = svc
			d.Groups = messaging.NewGroups(mgr)
			d.Sandbox = &sandbox.Service{Runtime: mgr, Control: sandbox.Local{Sim: sim}, LinkTimeout: waitTimeout}
		}})

	e := &e2e{t: t, ctx: ctx, sim: sim, pool: pool, msgs: msgs, svc: svc, sink: sink, mgr: mgr, srv: srv, own: own, phone: sim.Phone(own)}
	e.sid, e.key = create(srv)
	e.c = srv.Client(e.key)
	var qr string
	eventually(t, "a QR code", func() bool {
		var err error
		qr, err = mgr.QR(ctx, e.sid)
		return err == nil
	})
	if _, err := e.phone.ScanQR(ctx, qr); err != nil {
		t.Fatalf("ScanQR: %v", err)
	}
	eventually(t, "connected", func() bool { st, _ := mgr.State(e.sid); return st == gateway.StateConnected })
	return e
}

// eventually waits until cond holds, checking every 10 ms.
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

func (e *e2e) waitCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(e.ctx, waitTimeout)
}

// received waits until the contact decrypted a message matching pred.
func (e *e2e) received(contact *wasim.Contact, what string, pred func(wasim.Received) bool) wasim.Received {
	e.t.Helper()
	ctx, cancel := e.waitCtx()
	defer cancel()
	r, err := contact.WaitReceived(ctx, pred)
	if err != nil {
		e.t.Fatalf("contact %s never received %s: %v", contact.JID(), what, err)
	}
	return r
}

// stored waits until the store has message id in chat and returns it.
func (e *e2e) stored(chat, id string) *gateway.Message {
	e.t.Helper()
	var m *gateway.Message
	eventually(e.t, "message "+id+" stored", func() bool {
		var err error
		m, err = e.svc.GetMessage(e.ctx, e.sid, chat, id)
		return err == nil
	})
	return m
}

// message reads a message from the store through the API.
func (e *e2e) message(chat, id string) client.Message {
	e.t.Helper()
	r, err := e.c.GetMessageWithResponse(e.ctx, e.sid, chat, id)
	if err != nil || r.JSON200 == nil {
		e.t.Fatalf("get message %s: %v %d %s", id, err, statusOf(r), bodyOf(r))
	}
	return r.JSON200.Message
}

// events returns the types of the session's message and chat events.
func (e *e2e) events() []string {
	e.t.Helper()
	rows, err := e.pool.Query(e.ctx, `SELECT type FROM events WHERE session_id = $1 AND type <> 'session.state' ORDER BY created_at, id`, e.sid)
	if err != nil {
		e.t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		_ = rows.Scan(&s)
		out = append(out, s)
	}
	return out
}

// readReceiptEvents counts message.receipt events of type read: delivery
// receipts for the same messages may or may not come first (the contact
// sends both), so tests wait for the one they caused.
func (e *e2e) readReceiptEvents() int {
	e.t.Helper()
	var n int
	if err := e.pool.QueryRow(e.ctx, `SELECT count(*) FROM events WHERE session_id = $1 AND type = 'message.receipt' AND data->>'type' = 'read'`, e.sid).Scan(&n); err != nil {
		e.t.Fatal(err)
	}
	return n
}

// eventsExceptReceipts is events() without message.receipt: receipts for
// messages sent earlier arrive whenever the contact's device sends them.
func (e *e2e) eventsExceptReceipts() []string {
	var out []string
	for _, ev := range e.events() {
		if ev != "message.receipt" {
			out = append(out, ev)
		}
	}
	return out
}

func (e *e2e) countEvents(typ string) int {
	n := 0
	for _, ev := range e.events() {
		if ev == typ {
			n++
		}
	}
	return n
}

type httpResp interface{ StatusCode() int }

func statusOf(r httpResp) int {
	if r == nil {
		return 0
	}
	return r.StatusCode()
}

func bodyOf(r any) string {
	if r == nil {
		return ""
	}
	b, _ := json.Marshal(r)
	return string(b)
}

// wantOK fails unless the call succeeded with 200 and the exact success text.
func wantOK(t testing.TB, what string, status int, body []byte, err error, message string) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if status != http.StatusOK {
		t.Fatalf("%s: status %d: %s", what, status, body)
	}
	var out struct {
		Success bool   `json:"success"`
		Message string `json:"message"`
	}
	if err := json.Unmarshal(body, &out); err != nil || !out.Success || out.Message != message {
		t.Fatalf("%s: body %s, want message %q", what, body, message)
	}
}

// wantErr fails unless the call failed with status and the exact error text.
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

func ptr[T any](v T) *T { return &v }

func idem(key string) *client.IdempotencyKey { k := key; return &k }

func sfmt(format string, a ...any) string { return fmt.Sprintf(format, a...) }
