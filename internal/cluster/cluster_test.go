package cluster_test

import (
	"context"
	"errors"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/rs/zerolog"

	"github.com/wagate-dev/wagate/internal/cluster"
	"github.com/wagate-dev/wagate/internal/gateway"
	"github.com/wagate-dev/wagate/internal/postgres"
	"github.com/wagate-dev/wagate/internal/testkit"
)

func TestMain(m *testing.M) { os.Exit(testkit.Main(m)) }

// cutStore is the real store whose heartbeats fail while cut is set: the
// node is cut off from the database, the database itself is fine.
type cutStore struct {
	*postgres.ClusterStore
	cut atomic.Bool
}

func (s *cutStore) Heartbeat(ctx context.Context, node string, instance uuid.UUID, ttl time.Duration) (gateway.Heartbeat, error) {
	if s.cut.Load() {
		return gateway.Heartbeat{}, errors.New("cut off")
	}
	return s.ClusterStore.Heartbeat(ctx, node, instance, ttl)
}

// TestCutOffNodeStopsBeforeItsLeasesExpire: a node that cannot renew calls
// OnLost while its leases are still valid in the database (nobody else can
// have claimed them yet), and a second process with the same id is
// refused while the first heartbeats.
func TestCutOffNodeStopsBeforeItsLeasesExpire(t *testing.T) {
	ctx := context.Background()
	pool := testkit.NewDB(t)
	real := postgres.NewClusterStore(pool)
	store := &cutStore{ClusterStore: real}
	sess, err := postgres.NewStore(pool).CreateSession(ctx, gateway.NewSession{Name: "s", KeyHash: gateway.HashKey("wask_cut")})
	if err != nil {
		t.Fatal(err)
	}
	type lostAt struct {
		owner string
		err   error
	}
	lost := make(chan lostAt, 1)
	const ttl = 3 * time.Second
	var node *cluster.Node
	node, err = cluster.Start(ctx, cluster.Options{
		Store: store, ID: "n1", URL: "http://n1", Version: "test", TTL: ttl, Logger: zerolog.Nop(),
		OnLost: func() {
			owner, _, err := real.LeaseOwner(context.Background(), sess.ID)
			lost <- lostAt{owner, err}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = node.Close(context.Background()) }()
	if _, err := cluster.Start(ctx, cluster.Options{Store: real, ID: "n1", TTL: ttl, RegisterWait: time.Millisecond, Logger: zerolog.Nop()}); gateway.ErrorCode(err) != gateway.CodeConflict {
		t.Fatalf("second process with the id: %v, want a conflict", err)
	}
	if _, ok, err := node.Claim(ctx, sess.ID); !ok || err != nil {
		t.Fatalf("claim: %v %v", ok, err)
	}
	if _, ok := node.Holds(sess.ID); !ok {
		t.Fatal("node does not hold its claimed lease")
	}
	// Two heartbeats go through (the lease is renewed past its first TTL).
	time.Sleep(ttl + ttl/3)
	if _, ok := node.Holds(sess.ID); !ok {
		t.Fatal("the heartbeat did not keep the lease")
	}
	store.cut.Store(true)
	select {
	case l := <-lost:
		if l.err != nil || l.owner != "n1" {
			t.Fatalf("OnLost came after the lease expired in the database (owner %q, %v)", l.owner, l.err)
		}
	case <-time.After(2 * ttl):
		t.Fatal("a cut-off node never stopped its clients")
	}
	if _, ok := node.Holds(sess.ID); ok {
		t.Error("a cut-off node still claims to hold its lease")
	}
	nodes, err := node.Nodes(ctx)
	if err != nil || len(nodes) != 1 || nodes[0].ID != "n1" || nodes[0].Version != "test" {
		t.Fatalf("nodes: %+v %v", nodes, err)
	}
}
