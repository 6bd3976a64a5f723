package postgres_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/wagate-dev/wagate/internal/gateway"
	"github.com/wagate-dev/wagate/internal/postgres"
	"github.com/wagate-dev/wagate/internal/testkit"
)

// TestRateLedgerClaims: claims hand out the window's budget in chunks and
// never more than the limit, also when many claim at once; the window's
// end comes from the database; a new window starts once the last ended.
func TestRateLedgerClaims(t *testing.T) {
	ctx := context.Background()
	l := postgres.NewRateLedger(testkit.SharedDB(t), time.Minute)
	bucket := uuid.NewString()

	c, err := l.Claim(ctx, "general", bucket, time.Minute, 10, 4)
	if err != nil || c.Granted != 4 || c.Used != 4 || c.ResetIn <= 55*time.Second || c.ResetIn > time.Minute {
		t.Fatalf("first claim: %+v %v", c, err)
	}
	if c, err = l.Claim(ctx, "general", bucket, time.Minute, 10, 4); err != nil || c.Granted != 4 || c.Used != 8 {
		t.Fatalf("second claim: %+v %v", c, err)
	}
	if c, err = l.Claim(ctx, "general", bucket, time.Minute, 10, 4); err != nil || c.Granted != 2 || c.Used != 10 {
		t.Fatalf("claim past the limit: %+v %v, want the 2 left", c, err)
	}
	if c, err = l.Claim(ctx, "general", bucket, time.Minute, 10, 4); err != nil || c.Granted != 0 || c.Used != 10 {
		t.Fatalf("claim of a used-up window: %+v %v", c, err)
	}
	// Another class and another bucket have their own windows.
	if c, err = l.Claim(ctx, "sessions", bucket, time.Hour, 10, 1); err != nil || c.Granted != 1 || c.ResetIn <= 59*time.Minute {
		t.Fatalf("other class: %+v %v", c, err)
	}
	// A lower limit (the key's limits changed) grants nothing more.
	if c, err = l.Claim(ctx, "general", bucket, time.Minute, 5, 4); err != nil || c.Granted != 0 {
		t.Fatalf("lower limit: %+v %v", c, err)
	}

	// 40 concurrent claimers of 3 against a limit of 100: exactly 100.
	other := uuid.NewString()
	var mu sync.Mutex
	var wg sync.WaitGroup
	total := 0
	for range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := l.Claim(ctx, "general", other, time.Minute, 100, 3)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			total += c.Granted
			mu.Unlock()
		}()
	}
	wg.Wait()
	if total != 100 {
		t.Fatalf("concurrent claims granted %d, want 100", total)
	}

	// A short window ends (database time) and the next claim starts anew.
	short := uuid.NewString()
	if c, err = l.Claim(ctx, "general", short, 50*time.Millisecond, 2, 2); err != nil || c.Granted != 2 {
		t.Fatalf("short window: %+v %v", c, err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err = l.Claim(ctx, "general", short, 50*time.Millisecond, 2, 1)
		if err != nil {
			t.Fatal(err)
		}
		if c.Granted == 1 && c.Used == 1 {
			break
		}
		if c.Granted != 0 || time.Now().After(deadline) {
			t.Fatalf("claim in the ended window: %+v", c)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestRateLedgerCountsNodes: a claim answers the number of alive nodes
// (at least 1), by which the caller sizes its next claim.
func TestRateLedgerCountsNodes(t *testing.T) {
	ctx := context.Background()
	pool := testkit.NewDB(t)
	l, cl := postgres.NewRateLedger(pool, time.Minute), postgres.NewClusterStore(pool)
	if c, err := l.Claim(ctx, "general", "k", time.Minute, 10, 1); err != nil || c.Nodes != 1 {
		t.Fatalf("no nodes: %+v %v", c, err)
	}
	for _, id := range []string{"a", "b", "c"} {
		if err := cl.RegisterNode(ctx, gateway.NodeRegistration{ID: id, Instance: uuid.New(), URL: "http://" + id, Capacity: 1, Version: "v"}, time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	if c, err := l.Claim(ctx, "general", "k", time.Minute, 10, 1); err != nil || c.Nodes != 3 {
		t.Fatalf("three nodes: %+v %v", c, err)
	}
}
