package postgres_test

import (
	"context"
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
