package postgres_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/rs/zerolog"

	"github.com/wagate-dev/wagate/internal/gateway"
	"github.com/wagate-dev/wagate/internal/postgres"
	"github.com/wagate-dev/wagate/internal/testkit"
)

func TestMigrateConcurrentAndIdempotent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, testkit.NewDatabaseURL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	migs, err := postgres.Migrations()
	if err != nil || len(migs) == 0 || migs[0].Version != 1 {
		t.Fatalf("migrations: %v %v", migs, err)
	}
	var wg sync.WaitGroup
	applied := make([][]int, 3)
	errs := make([]error, 3)
	for i := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			applied[i], errs[i] = postgres.Migrate(ctx, pool, zerolog.Nop())
		}()
	}
	wg.Wait()
	total := 0
	for i := range 3 {
		if errs[i] != nil {
			t.Fatalf("migrate %d: %v", i, errs[i])
		}
		total += len(applied[i])
	}
	if total != len(migs) {
		t.Errorf("applied %d migrations in total, want each of %d once", total, len(migs))
	}
	again, err := postgres.Migrate(ctx, pool, zerolog.Nop())
	if err != nil || len(again) != 0 {
		t.Errorf("second run applied %v (%v)", again, err)
	}
	pending, err := postgres.Pending(ctx, pool)
	if err != nil || len(pending) != 0 {
		t.Errorf("pending %v (%v)", pending, err)
	}
}

func TestEnsureDatabaseCreatesMissing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	name := "wagate_test_create_" + strings.ReplaceAll(uuid.NewString()[:8], "-", "")
	url, err := postgres.WithDatabase(testkit.ServerURL(), name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		conn, err := pgx.Connect(ctx, testkit.ServerURL())
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Error(err)
		}
	})
	pool, err := postgres.Open(ctx, url, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	var got string
	if err := pool.QueryRow(ctx, "SELECT current_database()").Scan(&got); err != nil || got != name {
		t.Fatalf("current_database = %q (%v)", got, err)
	}
}

func TestStore(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testkit.NewDB(t)
	store := postgres.NewStore(pool)
	hook := "https://example.com/h"
	s, err := store.CreateSession(ctx, gateway.NewSession{Name: "a", WebhookURL: &hook, Metadata: map[string]any{"k": "v"}, KeyHash: gateway.HashKey("wask_x")})
	if err != nil {
		t.Fatal(err)
	}
	if s.State != gateway.StateStarting || s.Metadata["k"] != "v" || *s.WebhookURL != hook {
		t.Errorf("created %+v", s)
	}

	t.Run("ErrConflict", func(t *testing.T) {
		_, err := store.CreateSession(ctx, gateway.NewSession{Name: "a", KeyHash: gateway.HashKey("wask_y")})
		if gateway.ErrorCode(err) != gateway.CodeConflict || gateway.ErrorMessage(err) != gateway.MsgSessionNameTaken {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		_, err := store.GetSession(ctx, uuid.New())
		if gateway.ErrorCode(err) != gateway.CodeNotFound || gateway.ErrorMessage(err) != gateway.MsgSessionNotFound {
			t.Fatalf("err = %v", err)
		}
		if err := store.DeleteSession(ctx, uuid.New()); gateway.ErrorCode(err) != gateway.CodeNotFound {
			t.Fatalf("delete err = %v", err)
		}
		if err := store.UpdateStatus(ctx, uuid.New(), gateway.StatusUpdate{State: gateway.StateConnected}); gateway.ErrorCode(err) != gateway.CodeNotFound {
			t.Fatalf("update err = %v", err)
		}
	})
	t.Run("LookupSessionKey", func(t *testing.T) {
		p, err := store.LookupKey(ctx, gateway.HashKey("wask_x"))
		if err != nil || p.Kind != gateway.KindSession || p.SessionID != s.ID {
			t.Fatalf("principal %+v (%v)", p, err)
		}
		if _, err := store.LookupKey(ctx, gateway.HashKey("wask_unknown")); gateway.ErrorMessage(err) != gateway.MsgInvalidAPIKey {
			t.Fatalf("unknown key err = %v", err)
		}
	})
	t.Run("UpdateStatusRecordsEvent", func(t *testing.T) {
		jid := "919988066776@s.whatsapp.net"
		if err := store.UpdateStatus(ctx, s.ID, gateway.StatusUpdate{State: gateway.StateConnected, JID: &jid}); err != nil {
			t.Fatal(err)
		}
		lastErr := "boom"
		if err := store.UpdateStatus(ctx, s.ID, gateway.StatusUpdate{State: gateway.StateFailed, LastError: &lastErr}); err != nil {
			t.Fatal(err)
		}
		got, err := store.GetSession(ctx, s.ID)
		if err != nil || got.State != gateway.StateFailed || got.JID == nil || *got.JID != jid || got.LastError == nil || *got.LastError != "boom" {
			t.Fatalf("session %+v (%v)", got, err)
		}
		empty := ""
		if err := store.UpdateStatus(ctx, s.ID, gateway.StatusUpdate{State: gateway.StateStarting, LastError: &empty}); err != nil {
			t.Fatal(err)
		}
		if got, _ := store.GetSession(ctx, s.ID); got.LastError != nil {
			t.Errorf("lastError not cleared: %v", *got.LastError)
		}
		rows, err := pool.Query(ctx, `SELECT id, type, data->>'state', data->>'previousState' FROM events WHERE session_id = $1 ORDER BY created_at, id`, s.ID)
		if err != nil {
			t.Fatal(err)
		}
		type ev struct{ ID, Type, State, Prev string }
		evs, err := pgx.CollectRows(rows, pgx.RowToStructByPos[ev])
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) != 3 || evs[0].Type != "session.state" || evs[0].State != "connected" || evs[0].Prev != "starting" || !strings.HasPrefix(evs[0].ID, "evt_") {
			t.Fatalf("events %+v", evs)
		}
	})
	t.Run("RecordEventInCallerTx", func(t *testing.T) {
		err := postgres.InTx(ctx, pool, func(tx pgx.Tx) error {
			if _, err := postgres.RecordEvent(ctx, tx, s.ID, "chat.archived", map[string]any{"jid": "x"}); err != nil {
				return err
			}
			return gateway.E(gateway.CodeConflict, "roll back")
		})
		if gateway.ErrorCode(err) != gateway.CodeConflict {
			t.Fatalf("err = %v", err)
		}
		var n int
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM events WHERE type = 'chat.archived'`).Scan(&n); err != nil || n != 0 {
			t.Fatalf("rolled-back event persisted: %d (%v)", n, err)
		}
	})
	t.Run("DeleteCascades", func(t *testing.T) {
		if err := store.DeleteSession(ctx, s.ID); err != nil {
			t.Fatal(err)
		}
		var n int
		if err := pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM events) + (SELECT count(*) FROM session_keys)`).Scan(&n); err != nil || n != 0 {
			t.Fatalf("rows left: %d (%v)", n, err)
		}
	})
	t.Run("AdminKeyOnce", func(t *testing.T) {
		raw, h1, err := store.EnsureAdminKey(ctx)
		if err != nil || !strings.HasPrefix(raw, "wamk_") || !h1.Equal(gateway.HashKey(raw)) {
			t.Fatalf("first: %q %v", raw, err)
		}
		raw2, h2, err := store.EnsureAdminKey(ctx)
		if err != nil || raw2 != "" || !h2.Equal(h1) {
			t.Fatalf("second: %q %v", raw2, err)
		}
	})
}

// TestOpenHonoursPoolParams: pool_* parameters configure the pool and never
// reach the server (which refused them with FATAL when the creation step
// sent them), also when the database does not exist yet.
func TestOpenHonoursPoolParams(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	name := "wagate_test_pool_" + strings.ReplaceAll(uuid.NewString()[:8], "-", "")
	url, err := postgres.WithDatabase(testkit.ServerURL(), name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		conn, err := pgx.Connect(ctx, testkit.ServerURL())
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Error(err)
		}
	})
	sep := "?"
	if strings.Contains(url, "?") {
		sep = "&"
	}
	pool, err := postgres.Open(ctx, url+sep+"pool_max_conns=16&pool_min_conns=2&pool_max_conn_idle_time=5m&pool_health_check_period=30s", zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if got := pool.Config().MaxConns; got != 16 {
		t.Errorf("MaxConns = %d, want 16", got)
	}
	if got := pool.Stat().MaxConns(); got != 16 {
		t.Errorf("Stat().MaxConns() = %d, want 16", got)
	}
	if c := pool.Config(); c.MinConns != 2 || c.MaxConnIdleTime.Minutes() != 5 || c.HealthCheckPeriod.Seconds() != 30 {
		t.Errorf("pool config: min %d, idle %s, health %s", c.MinConns, c.MaxConnIdleTime, c.HealthCheckPeriod)
	}
	before := postgres.QueryCount(pool)
	for range 3 {
		if _, err := pool.Exec(ctx, "SELECT 1"); err != nil {
			t.Fatal(err)
		}
	}
	if got := postgres.QueryCount(pool) - before; got != 3 {
		t.Errorf("query counter counted %d of 3 queries", got)
	}

	// Without pool_max_conns: the documented default.
	def, err := postgres.Open(ctx, url, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer def.Close()
	if got := def.Config().MaxConns; got != postgres.DefaultMaxConns {
		t.Errorf("default MaxConns = %d, want %d", got, postgres.DefaultMaxConns)
	}
}

func TestStripPoolParams(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"postgres://u@h:5432/db?sslmode=disable&pool_max_conns=16": "postgres://u@h:5432/db?sslmode=disable",
		"postgres://u@h/db?pool_max_conns=16&pool_min_conns=1":     "postgres://u@h/db",
		"postgres://u@h/db?sslmode=disable":                        "postgres://u@h/db?sslmode=disable",
		"host=h dbname=db pool_max_conns=16 sslmode=disable":       "host=h dbname=db sslmode=disable",
	} {
		if got := postgres.StripPoolParams(in); got != want {
			t.Errorf("StripPoolParams(%q) = %q, want %q", in, got, want)
		}
	}
}

type recordingSink struct {
	mu      sync.Mutex
	changes []gateway.AuthChange
	ups     int
	downs   int
	changed chan struct{}
}

func (r *recordingSink) AuthChanged(c gateway.AuthChange) {
	r.mu.Lock()
	r.changes = append(r.changes, c)
	r.mu.Unlock()
	r.changed <- struct{}{}
}

func (r *recordingSink) AuthFeedUp() {
	r.mu.Lock()
	r.ups++
	r.mu.Unlock()
	r.changed <- struct{}{}
}

func (r *recordingSink) AuthFeedDown() {
	r.mu.Lock()
	r.downs++
	r.mu.Unlock()
}

// TestAuthChangesAreNotified: the triggers of migration 0045 announce key
// and session changes at commit, and ListenAuthChanges delivers them.
func TestAuthChangesAreNotified(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pool := testkit.NewDB(t)
	store := postgres.NewStore(pool)
	sink := &recordingSink{changed: make(chan struct{}, 100)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		postgres.ListenAuthChanges(ctx, pool, sink, zerolog.Nop())
	}()
	defer func() { cancel(); <-done }()
	<-sink.changed // up
	seen := 0
	next := func() gateway.AuthChange {
		t.Helper()
		<-sink.changed
		sink.mu.Lock()
		defer sink.mu.Unlock()
		seen++
		return sink.changes[seen-1]
	}

	k, err := store.CreateAPIKey(ctx, gateway.APIKey{Name: "n"}, gateway.HashKey("wamk_notify"))
	if err != nil {
		t.Fatal(err)
	}
	if c := next(); c.Kind != gateway.AuthKeyCreated {
		t.Fatalf("create key: %+v", c)
	}
	if _, err := pool.Exec(ctx, `UPDATE api_keys SET rate_limit_general = 5 WHERE id = $1`, k.ID); err != nil {
		t.Fatal(err)
	}
	if c := next(); c.Kind != gateway.AuthKeyChanged || c.KeyID != k.ID {
		t.Fatalf("limits changed: %+v", c)
	}
	s, err := store.CreateSession(ctx, gateway.NewSession{Name: "notify", KeyHash: gateway.HashKey("wask_notify")})
	if err != nil {
		t.Fatal(err)
	}
	if c := next(); c.Kind != gateway.AuthKeyCreated {
		t.Fatalf("create session: %+v", c)
	}
	if err := store.UpdateStatus(ctx, s.ID, gateway.StatusUpdate{State: gateway.StateConnected}); err != nil {
		t.Fatal(err)
	}
	if c := next(); c.Kind != gateway.AuthSessionChanged || c.SessionID != s.ID {
		t.Fatalf("status: %+v", c)
	}
	// A rolled-back change is never announced.
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `UPDATE api_keys SET revoked_at = now() WHERE id = $1`, k.ID); err != nil {
		t.Fatal(err)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if err := store.DeleteSession(ctx, s.ID); err != nil {
		t.Fatal(err)
	}
	got := map[gateway.AuthChange]bool{next(): true, next(): true}
	if !got[gateway.AuthChange{Kind: gateway.AuthSessionDeleted, SessionID: s.ID}] || !got[gateway.AuthChange{Kind: gateway.AuthSessionKeyChanged, SessionID: s.ID}] {
		t.Fatalf("delete session (the rolled-back revocation must not appear): %+v", got)
	}
	if err := store.RevokeAPIKey(ctx, k.ID); err != nil {
		t.Fatal(err)
	}
	if c := next(); c.Kind != gateway.AuthKeyChanged || c.KeyID != k.ID {
		t.Fatalf("revoke: %+v", c)
	}
}

// TestAuthFeedReconnects: when the listening connection is killed the sink
// is told (down), the listener reconnects and the sink is told again (up:
// drop everything), and changes are delivered again.
func TestAuthFeedReconnects(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pool := testkit.NewDB(t)
	sink := &recordingSink{changed: make(chan struct{}, 100)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		postgres.ListenAuthChanges(ctx, pool, sink, zerolog.Nop())
	}()
	defer func() { cancel(); <-done }()
	<-sink.changed // up
	var killed int
	err := pool.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE datname = current_database() AND query = 'LISTEN `+postgres.AuthChannel+`' AND pid <> pg_backend_pid()`).Scan(&killed)
	if err != nil || killed != 1 {
		t.Fatalf("terminated %d listening connections (%v), want 1", killed, err)
	}
	<-sink.changed // up again
	sink.mu.Lock()
	ups, downs := sink.ups, sink.downs
	sink.mu.Unlock()
	if ups != 2 || downs != 1 {
		t.Fatalf("ups %d, downs %d; want 2 and 1", ups, downs)
	}
	store := postgres.NewStore(pool)
	if _, err := store.CreateAPIKey(ctx, gateway.APIKey{Name: "after"}, gateway.HashKey("wamk_after_reconnect")); err != nil {
		t.Fatal(err)
	}
	<-sink.changed
	sink.mu.Lock()
	defer sink.mu.Unlock()
	if last := sink.changes[len(sink.changes)-1]; last.Kind != gateway.AuthKeyCreated {
		t.Fatalf("after reconnect: %+v", last)
	}
}

// TestMigrateRunsSchemaOwnersUnderTheLock: the other owners' upgrades
// (whatsmeow's store, the simulator's tables) run while the migration lock
// is held, in the order given, and their errors are returned.
func TestMigrateRunsSchemaOwnersUnderTheLock(t *testing.T) {
	ctx := context.Background()
	pool := testkit.NewDB(t)
	var order []string
	locked := func(name string) postgres.SchemaOwner {
		return func(ctx context.Context) error {
			var held bool
			err := pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted)`).Scan(&held)
			if err != nil {
				return err
			}
			if !held {
				t.Errorf("owner %s ran without the migration lock", name)
			}
			order = append(order, name)
			return nil
		}
	}
	if _, err := postgres.Migrate(ctx, pool, zerolog.Nop(), locked("a"), locked("b")); err != nil {
		t.Fatal(err)
	}
	if strings.Join(order, ",") != "a,b" {
		t.Errorf("owners ran as %v, want a,b", order)
	}
	boom := errors.New("boom")
	if _, err := postgres.Migrate(ctx, pool, zerolog.Nop(), func(context.Context) error { return boom }); !errors.Is(err, boom) {
		t.Errorf("owner error: %v, want boom", err)
	}
}
