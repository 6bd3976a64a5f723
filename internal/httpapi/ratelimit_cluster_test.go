package httpapi_test

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/wagate-dev/wagate/gen/client"
	"github.com/wagate-dev/wagate/internal/gateway"
	"github.com/wagate-dev/wagate/internal/httpapi"
	"github.com/wagate-dev/wagate/internal/postgres"
	"github.com/wagate-dev/wagate/internal/testkit"
)

// countingLedger counts the ledger's statements (one per claim).
type countingLedger struct {
	gateway.RateLedger
	claims atomic.Int64
}

func (l *countingLedger) Claim(ctx context.Context, class, bucket string, window time.Duration, limit, want int) (gateway.RateClaim, error) {
	l.claims.Add(1)
	return l.RateLedger.Claim(ctx, class, bucket, window, limit, want)
}

// clusterNodes are n API servers ("nodes") on one database, each with its
// own limiter drawing on one PostgreSQL rate ledger.
func clusterNodes(t *testing.T, pool *pgxpool.Pool, n int, limits httpapi.RateLimits) ([]*testkit.Server, []*countingLedger) {
	// The nodes are alive in the nodes table: the ledger sizes shares by
	// their number.
	cl := postgres.NewClusterStore(pool)
	for i := range n {
		reg := gateway.NodeRegistration{ID: "node-" + strconv.Itoa(i), Instance: uuid.New(), URL: "http://node", Capacity: 1, Version: "test"}
		if err := cl.RegisterNode(context.Background(), reg, time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	var nodes []*testkit.Server
	var ledgers []*countingLedger
	for range n {
		l := &countingLedger{RateLedger: postgres.NewRateLedger(pool, time.Minute)}
		ledgers = append(ledgers, l)
		nodes = append(nodes, testkit.NewServer(t, testkit.Options{Pool: pool, RateLimits: &limits, Deps: func(d *httpapi.Deps) {
			d.RateLedger = l
		}}))
	}
	return nodes, ledgers
}

// hammer sends total requests through the nodes in turn from 8 workers and
// returns how many were admitted (want) and how many refused with 429;
// every 429 is checked (body, Retry-After, X-RateLimit-*).
func hammer(t *testing.T, nodes []*testkit.Server, total, limit, want int, req func(i int, n *testkit.Server) testkit.Response) (ok, refused int) {
	t.Helper()
	var mu sync.Mutex
	var wg sync.WaitGroup
	next := atomic.Int64{}
	var refusals []testkit.Response
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= total {
					return
				}
				r := req(i, nodes[i%len(nodes)])
				mu.Lock()
				switch r.Status {
				case want:
					ok++
				case http.StatusTooManyRequests:
					refused++
					refusals = append(refusals, r)
				default:
					t.Errorf("request %d: %d %s", i, r.Status, r.Body)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	for _, r := range refusals {
		assert429(t, r, limit)
	}
	return ok, refused
}

// TestRateLimitGeneralAcrossNodes: three limiters ("nodes") on one
// database admit a key's requests sent through all of them within 10 % of
// the general limit (never above it), refuse the rest with exact 429s, and
// reach the database once per claimed share, not per request.
func TestRateLimitGeneralAcrossNodes(t *testing.T) {
	t.Parallel()
	pool := testkit.NewDB(t)
	const limit, total = 60, 300
	nodes, ledgers := clusterNodes(t, pool, 3, httpapi.RateLimits{General: limit})
	id, key := nodes[0].CreateSession(uniq("rl-cluster"))
	path := "/sessions/" + id.String()
	ok, refused := hammer(t, nodes, total, limit, http.StatusOK, func(_ int, n *testkit.Server) testkit.Response {
		return n.Do("GET", path, key, nil)
	})
	var claims int64
	for _, l := range ledgers {
		claims += l.claims.Load()
	}
	t.Logf("general limit %d over 3 nodes: %d admitted, %d refused, %d ledger statements for %d requests", limit, ok, refused, claims, total)
	if ok > limit || ok < limit*9/10 || ok+refused != total {
		t.Fatalf("admitted %d of %d (refused %d), want %d..%d", ok, total, refused, limit*9/10, limit)
	}
	if claims >= total/2 {
		t.Errorf("%d ledger statements for %d requests", claims, total)
	}
	// Another key (the admin key of each node) has its own budget.
	if r := nodes[1].Do("GET", path, nodes[1].AdminKey, nil); r.Status != 200 {
		t.Fatalf("other key: %d %s", r.Status, r.Body)
	}

	// A key whose traffic moves between nodes: node-0, then node-1,
	// then node-2 only. What the earlier nodes claimed and did not use
	// is the most the cluster admits below the limit (one share each).
	const own = 240
	mk, err := nodes[0].Admin().CreateApiKeyWithResponse(context.Background(), client.CreateApiKeyJSONRequestBody{Name: "moving", RateLimitGeneral: intp(own)})
	if err != nil || mk.JSON201 == nil {
		t.Fatalf("create key: %v", err)
	}
	moving := *mk.JSON201.ApiKey.Key
	admitted := 0
	for _, part := range []struct{ node, n int }{{0, 100}, {1, 100}, {2, 200}} {
		for range part.n {
			switch r := nodes[part.node].Do("GET", "/sessions", moving, nil); r.Status {
			case 200:
				admitted++
			case 429:
				assert429(t, r, own)
			default:
				t.Fatalf("node-%d: %d %s", part.node, r.Status, r.Body)
			}
		}
	}
	t.Logf("limit %d, traffic moving between nodes: %d admitted", own, admitted)
	if admitted > own || admitted < own*9/10 {
		t.Fatalf("admitted %d, want %d..%d", admitted, own*9/10, own)
	}
}

// TestRateLimitSessionCreationAcrossNodes: session creations of one
// managed key through three nodes hold its hourly limit cluster-wide.
func TestRateLimitSessionCreationAcrossNodes(t *testing.T) {
	t.Parallel()
	pool := testkit.NewDB(t)
	const limit, total = 20, 45
	nodes, _ := clusterNodes(t, pool, 3, httpapi.RateLimits{Sessions: limit})
	mk, err := nodes[0].Admin().CreateApiKeyWithResponse(context.Background(), client.CreateApiKeyJSONRequestBody{Name: "many", MaxSessions: intp(1000)})
	if err != nil || mk.JSON201 == nil {
		t.Fatalf("create key: %v %s", err, mk.Body)
	}
	managed := *mk.JSON201.ApiKey.Key
	ok, refused := hammer(t, nodes, total, limit, http.StatusCreated, func(i int, n *testkit.Server) testkit.Response {
		return n.Do("POST", "/sessions/create", managed, []byte(`{"name":"`+uniq("rl-cc-"+strconv.Itoa(i))+`"}`))
	})
	t.Logf("session-creation limit %d over 3 nodes: %d created, %d refused", limit, ok, refused)
	if ok > limit || ok < limit*9/10 || ok+refused != total {
		t.Fatalf("created %d of %d (refused %d), want %d..%d", ok, total, refused, limit*9/10, limit)
	}
}

// TestRateLimitSharedHeadersExactOnOneNode: with the ledger and one node,
// the headers are what the per-node limiter answers: Remaining counts
// down by one per request, Reset is the window's end.
func TestRateLimitSharedHeadersExactOnOneNode(t *testing.T) {
	t.Parallel()
	pool := testkit.NewDB(t)
	const limit = 40
	nodes, ledgers := clusterNodes(t, pool, 1, httpapi.RateLimits{General: limit})
	id, key := nodes[0].CreateSession(uniq("rl-one"))
	path := "/sessions/" + id.String()
	start := time.Now()
	for i := range limit {
		r := nodes[0].Do("GET", path, key, nil)
		if r.Status != 200 {
			t.Fatalf("request %d: %d %s", i, r.Status, r.Body)
		}
		if got, want := r.Header.Get("X-RateLimit-Remaining"), strconv.Itoa(limit-1-i); got != want || r.Header.Get("X-RateLimit-Limit") != strconv.Itoa(limit) {
			t.Fatalf("request %d: remaining %q, want %s", i, got, want)
		}
		reset, _ := strconv.ParseInt(r.Header.Get("X-RateLimit-Reset"), 10, 64)
		if end := start.Add(time.Minute).Unix(); reset < end-1 || reset > time.Now().Add(time.Minute).Unix()+1 {
			t.Fatalf("request %d: reset %d, want about %d", i, reset, end)
		}
	}
	assert429(t, nodes[0].Do("GET", path, key, nil), limit)
	t.Logf("%d requests, %d ledger statements", limit+1, ledgers[0].claims.Load())
}

// TestRateLimitSharedFallsBack: when the database cannot be reached the
// limiter counts on its own node (requests are neither failed nor
// unlimited).
func TestRateLimitSharedFallsBack(t *testing.T) {
	t.Parallel()
	dead, err := pgxpool.New(context.Background(), "postgres://postgres@127.0.0.1:1/none?connect_timeout=1")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(dead.Close)
	const limit = 3
	ts := testkit.NewServer(t, testkit.Options{Pool: testkit.SharedDB(t), RateLimits: &httpapi.RateLimits{General: limit}, Deps: func(d *httpapi.Deps) {
		d.RateLedger = postgres.NewRateLedger(dead, time.Minute)
	}})
	id, key := ts.CreateSession(uniq("rl-down"))
	for i := range limit {
		r := ts.Do("GET", "/sessions/"+id.String(), key, nil)
		if r.Status != 200 || r.Header.Get("X-RateLimit-Remaining") != strconv.Itoa(limit-1-i) {
			t.Fatalf("request %d: %d remaining %q %s", i, r.Status, r.Header.Get("X-RateLimit-Remaining"), r.Body)
		}
	}
	assert429(t, ts.Do("GET", "/sessions/"+id.String(), key, nil), limit)
}
