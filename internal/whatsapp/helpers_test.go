package whatsapp_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/rs/zerolog"

	"github.com/wagate-dev/wagate/internal/gateway"
	"github.com/wagate-dev/wagate/internal/postgres"
	"github.com/wagate-dev/wagate/internal/wasim"
	"github.com/wagate-dev/wagate/internal/whatsapp"
)

// waitTimeout bounds every wait on a condition in these tests.
const waitTimeout = 20 * time.Second

func testLogger(t testing.TB) zerolog.Logger {
	if os.Getenv("WAGATE_TEST_DEBUG") == "" {
		return zerolog.Nop()
	}
	return zerolog.New(zerolog.NewTestWriter(t)).With().Timestamp().Logger()
}

func baseURL() string {
	if u := os.Getenv("TEST_DATABASE_URL"); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
}

// newDB creates a fresh, migrated database, dropped at cleanup.
func newDB(t testing.TB, maxConns int) *pgxpool.Pool {
	t.Helper()
	ctx := context.Background()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "wagate_wa_" + hex.EncodeToString(b)
	admin, err := pgx.Connect(ctx, baseURL())
	if err != nil {
		t.Fatalf("connect to postgres: %v", err)
	}
	if _, err = admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create database: %v", err)
	}
	_ = admin.Close(ctx)
	url, err := postgres.WithDatabase(baseURL(), name)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxConns = int32(maxConns)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		pool.Close()
		c, err := pgx.Connect(context.Background(), baseURL())
		if err != nil {
			return
		}
		defer c.Close(context.Background())
		_, _ = c.Exec(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	})
	if _, err = postgres.Migrate(ctx, pool, zerolog.Nop()); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	return pool
}

// fixture is one test's database, simulator and manager.
type fixture struct {
	t       testing.TB
	pool    *pgxpool.Pool
	store   *postgres.Store
	devices *postgres.DeviceStore
	sim     *wasim.Server
	sink    *recordingSink
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	wasim.InstallRootKey()
	pool := newDB(t, 8)
	so := wasim.Options{Logger: testLogger(t).With().Str("component", "wasim").Logger()}
	if os.Getenv("WAGATE_TEST_WASIM_DB") != "" {
		so.DB = pool // the simulator keeps its state in Postgres, as in sandbox mode
	}
	sim, err := wasim.New(so)
	if err != nil {
		t.Fatal(err)
	}
	if err = sim.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sim.Close() })
	return &fixture{
		t: t, pool: pool, store: postgres.NewStore(pool), devices: postgres.NewDeviceStore(pool),
		sim: sim, sink: &recordingSink{},
	}
}

// fastOptions shortens every timing so that tests finish quickly.
func (f *fixture) options(mod ...func(*whatsapp.Options)) whatsapp.Options {
	o := whatsapp.Options{
		Pool:               f.pool,
		Status:             f.store,
		Devices:            f.devices,
		Inbound:            f.sink,
		Logger:             testLogger(f.t),
		TrustSimulator:     true,
		ReconnectBaseDelay: 50 * time.Millisecond,
		ReconnectMaxDelay:  500 * time.Millisecond,
		LoginTimeout:       10 * time.Second,
	}
	if f.sim != nil {
		o.HTTPClient = f.sim.HTTPClient()
	}
	for _, m := range mod {
		m(&o)
	}
	return o
}

func (f *fixture) manager(mod ...func(*whatsapp.Options)) *whatsapp.Manager {
	f.t.Helper()
	m, err := whatsapp.NewManager(context.Background(), f.options(mod...))
	if err != nil {
		f.t.Fatalf("NewManager: %v", err)
	}
	f.t.Cleanup(func() { _ = m.Close() })
	return m
}

func (f *fixture) createSession(name string) uuid.UUID {
	f.t.Helper()
	var h gateway.KeyHash
	_, _ = rand.Read(h[:])
	s, err := f.store.CreateSession(context.Background(), gateway.NewSession{Name: name, KeyHash: h})
	if err != nil {
		f.t.Fatalf("CreateSession: %v", err)
	}
	return s.ID
}

func (f *fixture) session(id uuid.UUID) gateway.Session {
	f.t.Helper()
	s, err := f.store.GetSession(context.Background(), id)
	if err != nil {
		f.t.Fatalf("GetSession: %v", err)
	}
	return s
}

// states returns the session.state events recorded for the session, in order.
func (f *fixture) states(id uuid.UUID) []string {
	f.t.Helper()
	rows, err := f.pool.Query(context.Background(),
		`SELECT data->>'state' FROM events WHERE session_id = $1 AND type = 'session.state' ORDER BY created_at, id`, id)
	if err != nil {
		f.t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		f.t.Fatal(err)
	}
	return out
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

func waitState(t testing.TB, m *whatsapp.Manager, id uuid.UUID, want gateway.SessionState) {
	t.Helper()
	var last gateway.SessionState
	eventually(t, fmt.Sprintf("state %s", want), func() bool {
		last, _ = m.State(id)
		return last == want
	})
}

// waitQR waits for a QR code and returns it.
func waitQR(t testing.TB, m *whatsapp.Manager, id uuid.UUID) string {
	t.Helper()
	var qr string
	eventually(t, "a QR code", func() bool {
		var err error
		qr, err = m.QR(context.Background(), id)
		return err == nil
	})
	return qr
}

// linkQR starts the session, lets phone scan its QR and waits until it is connected.
func (f *fixture) linkQR(m *whatsapp.Manager, id uuid.UUID, phone string) {
	f.t.Helper()
	ctx := context.Background()
	if err := m.Start(ctx, id); err != nil {
		f.t.Fatalf("Start: %v", err)
	}
	qr := waitQR(f.t, m, id)
	if _, err := f.sim.Phone(phone).ScanQR(ctx, qr); err != nil {
		f.t.Fatalf("ScanQR: %v", err)
	}
	waitState(f.t, m, id, gateway.StateConnected)
}

// recordingSink is a MessageSink that records the messages of the batches
// it stores and can fail.
type recordingSink struct {
	mu   sync.Mutex
	msgs []gateway.Message
	fail int // fail this many calls with messages first
}

func (r *recordingSink) StoreInbound(_ context.Context, _ uuid.UUID, b gateway.InboundBatch) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail > 0 && len(b.Messages) > 0 {
		r.fail--
		return fmt.Errorf("sink is failing")
	}
	r.msgs = append(r.msgs, b.Messages...)
	return nil
}

func (r *recordingSink) messages() []gateway.Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]gateway.Message(nil), r.msgs...)
}
