package postgres_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/wagate-dev/wagate/internal/gateway"
	"github.com/wagate-dev/wagate/internal/postgres"
	"github.com/wagate-dev/wagate/internal/testkit"
)

func TestClusterNodesAndLeases(t *testing.T) {
	ctx := context.Background()
	pool := testkit.NewDB(t)
	store, cl := postgres.NewStore(pool), postgres.NewClusterStore(pool)
	const hour = time.Hour
	a := gateway.NodeRegistration{ID: "a", Instance: uuid.New(), URL: "http://a:3000", Capacity: 1, Version: "v1"}
	b := gateway.NodeRegistration{ID: "b", Instance: uuid.New(), URL: "http://b:3000", Capacity: 2, Version: "v1"}
	for _, n := range []gateway.NodeRegistration{a, b} {
		if err := cl.RegisterNode(ctx, n, hour); err != nil {
			t.Fatal(err)
		}
	}
	// A second process with a's id is refused while a heartbeats...
	imposter := a
	imposter.Instance = uuid.New()
	if err := cl.RegisterNode(ctx, imposter, hour); gateway.ErrorCode(err) != gateway.CodeConflict {
		t.Fatalf("second process with a live id: %v, want a conflict", err)
	}
	// ...and its heartbeat does not hold the row.
	if hb, err := cl.Heartbeat(ctx, "a", imposter.Instance, hour); err != nil || hb.NodeHeld {
		t.Fatalf("imposter heartbeat: %+v %v", hb, err)
	}

	s1, err := store.CreateSession(ctx, gateway.NewSession{Name: "one", KeyHash: gateway.HashKey("wask_c1")})
	if err != nil {
		t.Fatal(err)
	}
	l, ok, err := cl.ClaimLease(ctx, s1.ID, "a", hour)
	if err != nil || !ok || l.Epoch != 1 {
		t.Fatalf("claim of a free lease: %+v %v %v", l, ok, err)
	}
	if again, ok, err := cl.ClaimLease(ctx, s1.ID, "a", hour); err != nil || !ok || again.Epoch != 1 {
		t.Fatalf("owner claims again: %+v %v %v, want the same epoch", again, ok, err)
	}
	if _, ok, err := cl.ClaimLease(ctx, s1.ID, "b", hour); err != nil || ok {
		t.Fatalf("b claimed a's live lease: %v %v", ok, err)
	}
	if owner, url, err := cl.LeaseOwner(ctx, s1.ID); err != nil || owner != "a" || url != a.URL {
		t.Fatalf("owner %q %q %v", owner, url, err)
	}
	hb, err := cl.Heartbeat(ctx, "a", a.Instance, hour)
	if err != nil || !hb.NodeHeld || len(hb.Leases) != 1 || hb.Leases[0] != l {
		t.Fatalf("heartbeat: %+v %v, want the node and lease %+v", hb, err, l)
	}
	nodes, err := cl.Nodes(ctx, hour)
	if err != nil || len(nodes) != 2 || nodes[0].ID != "a" || nodes[0].SessionsOwned != 1 || nodes[0].State != gateway.NodeAlive || nodes[1].Capacity != 2 {
		t.Fatalf("nodes: %+v %v", nodes, err)
	}

	// Released: b takes it with a new epoch, and a stale release of the
	// old epoch does not free b's lease.
	if err := cl.ReleaseLease(ctx, l); err != nil {
		t.Fatal(err)
	}
	lb, ok, err := cl.ClaimLease(ctx, s1.ID, "b", hour)
	if err != nil || !ok || lb.Epoch != 2 {
		t.Fatalf("claim after release: %+v %v %v", lb, ok, err)
	}
	if err := cl.ReleaseLease(ctx, l); err != nil {
		t.Fatal(err)
	}
	if owner, _, _ := cl.LeaseOwner(ctx, s1.ID); owner != "b" {
		t.Fatalf("a stale release freed b's lease: owner %q", owner)
	}
	if hb, _ := cl.Heartbeat(ctx, "a", a.Instance, hour); len(hb.Leases) != 0 {
		t.Fatalf("a still renews a lease it lost: %+v", hb)
	}

	// An expired lease is not renewed and anyone may claim it.
	s2, err := store.CreateSession(ctx, gateway.NewSession{Name: "two", KeyHash: gateway.HashKey("wask_c2")})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := cl.ClaimLease(ctx, s2.ID, "b", 0); !ok {
		t.Fatal("claim with ttl 0")
	}
	if hb, _ := cl.Heartbeat(ctx, "b", b.Instance, hour); len(hb.Leases) != 1 || hb.Leases[0].SessionID != s1.ID {
		t.Fatalf("b renewed an expired lease: %+v", hb)
	}
	if la, ok, _ := cl.ClaimLease(ctx, s2.ID, "a", hour); !ok || la.Epoch != 2 {
		t.Fatalf("claim of an expired lease: %+v %v", la, ok)
	}

	// Leaving (dead) releases every lease of the node at once and lets the
	// id be registered again.
	if err := cl.SetNodeState(ctx, "b", b.Instance, gateway.NodeDead); err != nil {
		t.Fatal(err)
	}
	if owner, _, _ := cl.LeaseOwner(ctx, s1.ID); owner != "" {
		t.Fatalf("lease of a dead node still owned by %q", owner)
	}
	nodes, _ = cl.Nodes(ctx, hour)
	if nodes[1].State != gateway.NodeDead || nodes[1].SessionsOwned != 0 {
		t.Fatalf("b after leaving: %+v", nodes[1])
	}
	b2 := b
	b2.Instance = uuid.New()
	if err := cl.RegisterNode(ctx, b2, hour); err != nil {
		t.Fatalf("register again after leaving: %v", err)
	}
	// A deleted session takes its lease with it.
	if err := store.DeleteSession(ctx, s2.ID); err != nil {
		t.Fatal(err)
	}
	if owner, _, _ := cl.LeaseOwner(ctx, s2.ID); owner != "" {
		t.Fatalf("deleted session still leased by %q", owner)
	}
}

// TestStatusFencedByLeaseEpoch: a session-state write carrying a lease
// fence commits while the lease has that owner and epoch; once another node
// claimed the expired lease (a new epoch), the stale owner's write is
// refused (CodeConflict) and neither the state nor an event is written.
func TestStatusFencedByLeaseEpoch(t *testing.T) {
	ctx := context.Background()
	pool := testkit.NewDB(t)
	store, cl := postgres.NewStore(pool), postgres.NewClusterStore(pool)
	for _, id := range []string{"a", "b"} {
		if err := cl.RegisterNode(ctx, gateway.NodeRegistration{ID: id, Instance: uuid.New(), URL: "http://" + id, Capacity: 1}, time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	s, err := store.CreateSession(ctx, gateway.NewSession{Name: "fenced", KeyHash: gateway.HashKey("wask_f1")})
	if err != nil {
		t.Fatal(err)
	}
	la, ok, err := cl.ClaimLease(ctx, s.ID, "a", 50*time.Millisecond)
	if err != nil || !ok {
		t.Fatalf("a claims: %v %v", ok, err)
	}
	events := func() int {
		var n int
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM events WHERE session_id = $1`, s.ID).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if err := store.UpdateStatus(gateway.WithLeaseFence(ctx, la), s.ID, gateway.StatusUpdate{State: gateway.StateConnected}); err != nil {
		t.Fatalf("owner's fenced write: %v", err)
	}
	// b claims as soon as a's lease expired (database time).
	var lb gateway.Lease
	for deadline := time.Now().Add(10 * time.Second); ; {
		if lb, ok, err = cl.ClaimLease(ctx, s.ID, "b", time.Hour); err != nil || ok || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err != nil || !ok || lb.Epoch != la.Epoch+1 {
		t.Fatalf("b claims the expired lease: %+v %v %v", lb, ok, err)
	}
	if err := store.UpdateStatus(gateway.WithLeaseFence(ctx, lb), s.ID, gateway.StatusUpdate{State: gateway.StateStarting}); err != nil {
		t.Fatalf("new owner's fenced write: %v", err)
	}
	before := events()
	err = store.UpdateStatus(gateway.WithLeaseFence(ctx, la), s.ID, gateway.StatusUpdate{State: gateway.StateDisconnected})
	if gateway.ErrorCode(err) != gateway.CodeConflict || !strings.Contains(err.Error(), gateway.MsgStaleLease) {
		t.Fatalf("stale owner's write: %v, want a conflict", err)
	}
	got, err := store.GetSession(ctx, s.ID)
	if err != nil || got.State != gateway.StateStarting {
		t.Fatalf("state after the stale write: %q %v, want starting", got.State, err)
	}
	if n := events(); n != before {
		t.Fatalf("the stale write recorded %d events", n-before)
	}
	// Without a fence (API writes) nothing changes.
	if err := store.UpdateStatus(ctx, s.ID, gateway.StatusUpdate{State: gateway.StateStopped}); err != nil {
		t.Fatal(err)
	}
}
