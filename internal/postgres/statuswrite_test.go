package postgres_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/wagate-dev/wagate/internal/gateway"
	"github.com/wagate-dev/wagate/internal/postgres"
	"github.com/wagate-dev/wagate/internal/testkit"
)

// TestStatusWritesGroupCommitted: many sessions writing their state at
// once (a restore) are written a batch per transaction, and every caller
// still gets its own session's result: written (with its event, the
// previous state in it, and a delivery and job for each webhook that takes
// the event), not found, or refused by a stale lease fence. Two writes of
// one session commit in their order.
func TestStatusWritesGroupCommitted(t *testing.T) {
	ctx := context.Background()
	pool := testkit.NewDB(t)
	store, cl := postgres.NewStore(pool), postgres.NewClusterStore(pool)
	for _, id := range []string{"a", "b"} {
		if err := cl.RegisterNode(ctx, gateway.NodeRegistration{ID: id, Instance: uuid.New(), URL: "http://" + id, Capacity: 1}, time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	const sessions, stale, missing = 120, 10, 10
	type write struct {
		id    uuid.UUID
		ctx   context.Context
		want  gateway.Code
		hooks int // webhooks that take session.state
	}
	var writes []write
	for i := range sessions + stale {
		s, err := store.CreateSession(ctx, gateway.NewSession{Name: fmt.Sprintf("s%d", i), KeyHash: gateway.HashKey(fmt.Sprintf("wask_gc%d", i))})
		if err != nil {
			t.Fatal(err)
		}
		w := write{id: s.ID, ctx: ctx}
		switch i % 3 { // no webhook, one for every event, one for another event only
		case 1:
			if _, err := store.CreateWebhook(ctx, gateway.Webhook{SessionID: s.ID, URL: "https://hooks.example/all"}); err != nil {
				t.Fatal(err)
			}
			w.hooks = 1
		case 2:
			if _, err := store.CreateWebhook(ctx, gateway.Webhook{SessionID: s.ID, URL: "https://hooks.example/msg", Events: []string{gateway.EventMessage}}); err != nil {
				t.Fatal(err)
			}
		}
		if i >= sessions {
			// a claimed, then b took the lease over: a's fence is stale.
			la, ok, err := cl.ClaimLease(ctx, s.ID, "a", time.Millisecond)
			if err != nil || !ok {
				t.Fatalf("a claims: %v %v", ok, err)
			}
			time.Sleep(5 * time.Millisecond) //nolint:forbidigo // let a's lease expire (database time)
			if _, ok, err := cl.ClaimLease(ctx, s.ID, "b", time.Hour); err != nil || !ok {
				t.Fatalf("b claims: %v %v", ok, err)
			}
			w.ctx, w.want, w.hooks = gateway.WithLeaseFence(ctx, la), gateway.CodeConflict, 0
		}
		writes = append(writes, w)
	}
	for range missing {
		writes = append(writes, write{id: uuid.New(), ctx: ctx, want: gateway.CodeNotFound})
	}
	// One session written twice at once: both commit, in their order.
	twice := writes[0].id

	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make([]error, len(writes))
	for i, w := range writes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs[i] = store.UpdateStatus(w.ctx, w.id, gateway.StatusUpdate{State: gateway.StateConnected})
		}()
	}
	var twiceErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		<-start
		twiceErr = store.UpdateStatus(ctx, twice, gateway.StatusUpdate{State: gateway.StateDisconnected})
	}()
	close(start)
	wg.Wait()

	wantDeliveries := 0
	for i, w := range writes {
		switch {
		case w.want == "" && errs[i] != nil:
			t.Errorf("write %d: %v", i, errs[i])
		case w.want != "" && gateway.ErrorCode(errs[i]) != w.want:
			t.Errorf("write %d: %v, want %s", i, errs[i], w.want)
		case w.want == gateway.CodeConflict && !strings.Contains(errs[i].Error(), gateway.MsgStaleLease):
			t.Errorf("write %d: %v, want the stale-lease message", i, errs[i])
		}
		if w.want != "" {
			continue
		}
		wantDeliveries += w.hooks
		if w.id == twice {
			wantDeliveries += w.hooks
			continue
		}
		var state, prevState string
		if err := pool.QueryRow(ctx, `SELECT data->>'state', data->>'previousState' FROM events WHERE session_id = $1 AND type = $2`,
			w.id, gateway.EventSessionState).Scan(&state, &prevState); err != nil {
			t.Fatalf("write %d: its event: %v", i, err)
		}
		got, err := store.GetSession(ctx, w.id)
		if err != nil || got.State != gateway.StateConnected || state != "connected" || prevState != "starting" {
			t.Errorf("write %d: session %q %v, event state %q previous %q", i, got.State, err, state, prevState)
		}
	}
	if twiceErr != nil {
		t.Fatalf("second write of one session: %v", twiceErr)
	}
	// The two writes of one session: the later one's previous state is the
	// earlier one's state, and the row has the later state.
	rows, err := pool.Query(ctx, `SELECT data->>'state', data->>'previousState' FROM events WHERE session_id = $1 AND type = $2 ORDER BY seq`, twice, gateway.EventSessionState)
	if err != nil {
		t.Fatal(err)
	}
	var chain []string
	for rows.Next() {
		var st, prev string
		if err := rows.Scan(&st, &prev); err != nil {
			t.Fatal(err)
		}
		chain = append(chain, prev+">"+st)
	}
	rows.Close()
	got, _ := store.GetSession(ctx, twice)
	if len(chain) != 2 || !strings.HasSuffix(chain[0], ">"+strings.Split(chain[1], ">")[0]) || string(got.State) != strings.Split(chain[1], ">")[1] {
		t.Errorf("one session written twice: events %v, state %q", chain, got.State)
	}
	var events, txs, deliveries, jobs int
	if err := pool.QueryRow(ctx, `SELECT count(*), count(DISTINCT xmin::text) FROM events WHERE type = $1`, gateway.EventSessionState).Scan(&events, &txs); err != nil {
		t.Fatal(err)
	}
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM webhook_deliveries WHERE event_type = $1`, gateway.EventSessionState).Scan(&deliveries); err != nil {
		t.Fatal(err)
	}
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE kind = $1`, gateway.WebhookJob{}.Kind()).Scan(&jobs); err != nil {
		t.Fatal(err)
	}
	if events != sessions+1 || deliveries != wantDeliveries || jobs != wantDeliveries {
		t.Errorf("%d events, %d deliveries, %d jobs; want %d, %d, %d", events, deliveries, jobs, sessions+1, wantDeliveries, wantDeliveries)
	}
	// Written in batches: far fewer transactions than writes.
	if txs > events/4 {
		t.Errorf("%d events in %d transactions: not group-committed", events, txs)
	}
	t.Logf("%d events in %d transactions", events, txs)
}

// TestStatusBatchWithALockedLease: when a fence's lease row is locked (a
// renewal in progress) the batch is written one write at a time instead,
// so every write still commits, the one behind the lock once it is freed.
func TestStatusBatchWithALockedLease(t *testing.T) {
	ctx := context.Background()
	pool := testkit.NewDB(t)
	store, cl := postgres.NewStore(pool), postgres.NewClusterStore(pool)
	if err := cl.RegisterNode(ctx, gateway.NodeRegistration{ID: "a", Instance: uuid.New(), URL: "http://a", Capacity: 1}, time.Hour); err != nil {
		t.Fatal(err)
	}
	var ids []uuid.UUID
	var fences []gateway.Lease
	for i := range 40 {
		s, err := store.CreateSession(ctx, gateway.NewSession{Name: fmt.Sprintf("l%d", i), KeyHash: gateway.HashKey(fmt.Sprintf("wask_lk%d", i))})
		if err != nil {
			t.Fatal(err)
		}
		l, ok, err := cl.ClaimLease(ctx, s.ID, "a", time.Hour)
		if err != nil || !ok {
			t.Fatalf("claim: %v %v", ok, err)
		}
		ids, fences = append(ids, s.ID), append(fences, l)
	}
	// A renewal of a's leases holds the first lease row.
	lock, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = lock.Rollback(ctx) }()
	if _, err := lock.Exec(ctx, `UPDATE wagate_leases SET expires_at = expires_at WHERE session_id = $1`, ids[0]); err != nil {
		t.Fatal(err)
	}
	errs := make([]error, len(ids))
	var wg sync.WaitGroup
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = store.UpdateStatus(gateway.WithLeaseFence(ctx, fences[i]), ids[i], gateway.StatusUpdate{State: gateway.StateConnected})
		}()
	}
	// Everything but the locked session commits while the lock is held.
	deadline := time.Now().Add(10 * time.Second)
	for {
		var n int
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM sessions WHERE state = 'connected'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == len(ids)-1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d writes committed while one lease row was locked", n, len(ids)-1)
		}
		time.Sleep(10 * time.Millisecond) //nolint:forbidigo // polling a condition with a deadline
	}
	if err := lock.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("write %d: %v", i, err)
		}
	}
	if got, err := store.GetSession(ctx, ids[0]); err != nil || got.State != gateway.StateConnected {
		t.Fatalf("the session behind the lock: %q %v", got.State, err)
	}
}
