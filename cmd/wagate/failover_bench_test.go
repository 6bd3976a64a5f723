package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/wagate-dev/wagate/internal/testkit"
)

// TestFailoverBenchmark is the failover benchmark of docs/benchmarks.md
// ("Cluster: failover and lease renewal"), not a check: it is skipped unless
// WAGATE_BENCH_FAILOVER=N (sessions, e.g. 1000) is set (`make bench-failover`).
// Real processes: one `wagate simulator` and node-0 alone, which creates and
// links N sessions (so it owns them all); its idle load on PostgreSQL is
// sampled (statements/s from wagate_db_queries_total, and the renewing
// UPDATE of its N leases timed with EXPLAIN ANALYZE in a rolled-back
// transaction); then node-1 and node-2 start, node-0 is killed with SIGKILL,
// and the time until every session node-0 owned is connected again on a
// survivor (state connected, connected_at after the kill, lease on a
// survivor) is measured. WAGATE_BENCH_LEASE_TTL sets WAGATE_LEASE_TTL
// (default: the default, 15s).
func TestFailoverBenchmark(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("WAGATE_BENCH_FAILOVER"))
	if n <= 0 {
		t.Skip("set WAGATE_BENCH_FAILOVER=N to run the failover benchmark")
	}
	ttl := os.Getenv("WAGATE_BENCH_LEASE_TTL")
	if ttl == "" {
		ttl = "15s"
	}
	ttlD, err := time.ParseDuration(ttl)
	if err != nil {
		t.Fatal(err)
	}
	const admin = "wamk_00000000000000000000000000000000000000000000516b"
	ctx := context.Background()
	bin := buildWagate(t)
	simDB, db := testkit.NewDatabaseURL(t), testkit.NewDatabaseURL(t)
	simAddr := freeAddr(t)
	sim := startProcess(t, "simulator", bin, []string{"simulator"}, map[string]string{
		"DATABASE_URL": simDB, "WAGATE_ADDR": simAddr, "WAGATE_LOG_LEVEL": "warn",
	})
	waitFor(t, 30*time.Second, "the simulator listening", func() bool { return dialable(simAddr) }, sim)
	var nodes []*process
	var apis []*apiClient
	addNode := func() {
		i, addr := len(nodes), freeAddr(t)
		nodes = append(nodes, startGateway(t, bin, map[string]string{
			"DATABASE_URL": db, "WAGATE_ADDR": addr, "WAGATE_ADMIN_KEY": admin,
			"WAGATE_SANDBOX": "1", "WAGATE_SANDBOX_URL": "http://" + simAddr,
			"WAGATE_NODE_ID": "node-" + strconv.Itoa(i), "WAGATE_NODE_URL": "http://" + addr,
			"WAGATE_CLUSTER_SECRET": "bench-cluster-secret-0123456789",
			"WAGATE_LEASE_TTL":      ttl, "WAGATE_RATE_LIMIT_GENERAL": "0", "WAGATE_RATE_LIMIT_SESSIONS": "0",
			"WAGATE_RATE_LIMIT_MESSAGES": "0", "WAGATE_RATE_LIMIT_QR_SECONDS": "0",
			"WAGATE_LOG_LEVEL": "warn",
		}, "node-"+strconv.Itoa(i)))
		apis = append(apis, &apiClient{t: t, base: "http://" + addr, key: admin})
	}
	addNode()

	// Create and link N sessions on node-0, WAGATE_BENCH_LINK_WORKERS (8)
	// at a time (each created just
	// before its link: many unlinked sessions waiting in QR rounds slow the
	// node down).
	linkStart := time.Now()
	ids := make([]string, n)
	var wg sync.WaitGroup
	errs := make(chan string, n)
	next := make(chan int)
	workers, _ := strconv.Atoi(os.Getenv("WAGATE_BENCH_LINK_WORKERS"))
	if workers <= 0 {
		workers = 8
	}
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				status, _, body := apis[0].raw(http.MethodPost, "/sessions/create", map[string]any{"name": fmt.Sprintf("f%d", i)}, nil)
				var created struct {
					Session struct{ ID string } `json:"session"`
				}
				if status != http.StatusCreated || json.Unmarshal(body, &created) != nil {
					errs <- fmt.Sprintf("create: %d %s", status, body)
					continue
				}
				ids[i] = created.Session.ID
				status, _, body = apis[0].raw(http.MethodPost, "/sandbox/sessions/"+ids[i]+"/link",
					map[string]any{"phone": fmt.Sprintf("1666%07d", i)}, nil)
				if status != http.StatusOK {
					errs <- fmt.Sprintf("link %s: %d %s", ids[i], status, body)
				}
			}
		}()
	}
	for i := range ids {
		next <- i
	}
	close(next)
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Fatal(e)
	}
	conn, err := pgx.Connect(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	count := func(sql string, args ...any) int {
		var c int
		if err := conn.QueryRow(ctx, sql, args...).Scan(&c); err != nil {
			t.Fatal(err)
		}
		return c
	}
	waitFor(t, 10*time.Minute, "all sessions connected on node-0", func() bool {
		return count(`SELECT count(*) FROM sessions WHERE state = 'connected'`) == n
	}, nodes[0])
	t.Logf("linked %d sessions on node-0 in %v", n, time.Since(linkStart).Round(time.Millisecond))

	// Idle load of one node owning N sessions.
	const window = 30 * time.Second
	q0 := metricValue(t, apis[0].base, "wagate_db_queries_total")
	time.Sleep(window) //nolint:forbidigo // measurement window, not a wait on a condition
	q1 := metricValue(t, apis[0].base, "wagate_db_queries_total")
	// Each scrape sends no query of its own, or one: subtract it.
	perSec := (q1 - q0 - 1) / window.Seconds()
	var plan []byte
	func() {
		tx, err := conn.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = tx.Rollback(ctx) }()
		rows, err := tx.Query(ctx, `EXPLAIN (ANALYZE, FORMAT TEXT)
			UPDATE wagate_leases SET expires_at = now() + $1 * interval '1 millisecond'
			WHERE owner = 'node-0' AND expires_at > now()`, ttlD.Milliseconds())
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var line string
			_ = rows.Scan(&line)
			plan = append(plan, line+"\n"...)
		}
		rows.Close()
	}()
	t.Logf("node-0 idle with %d sessions (lease TTL %s, renewal every %s): %.2f statements/s over %v; the renewing UPDATE of its leases:\n%s",
		n, ttl, ttlD/3, perSec, window, plan)

	addNode()
	addNode()
	owned := count(`SELECT count(*) FROM wagate_leases WHERE owner = 'node-0' AND expires_at > now()`)
	var killedAt time.Time
	nodes[0].kill()
	killed := time.Now()
	// How long the killed node's leases still run: the part of the failover
	// that is the TTL, not the survivors' work.
	var expiresIn float64
	if err := conn.QueryRow(ctx, `SELECT now(), coalesce(extract(epoch FROM max(expires_at) - now()), 0)::float8
		FROM wagate_leases WHERE owner = 'node-0'`).Scan(&killedAt, &expiresIn); err != nil {
		t.Fatal(err)
	}
	// Sessions node-0 held at the kill, connected again on a survivor.
	back := func() int {
		return count(`SELECT count(*) FROM sessions s JOIN wagate_leases l ON l.session_id = s.id
			WHERE s.state = 'connected' AND s.connected_at > $1 AND l.owner <> 'node-0' AND l.expires_at > now()`, killedAt)
	}
	var first time.Duration
	waitFor(t, 10*time.Minute, "every session of node-0 connected on a survivor", func() bool {
		c := back()
		if c > 0 && first == 0 {
			first = time.Since(killed)
		}
		return c >= owned
	}, nodes[1])
	all := time.Since(killed)
	split := map[string]int{}
	rows, _ := conn.Query(ctx, `SELECT owner, count(*) FROM wagate_leases WHERE expires_at > now() GROUP BY owner`)
	for rows.Next() {
		var o string
		var c int
		_ = rows.Scan(&o, &c)
		split[o] = c
	}
	rows.Close()
	replaced := 0
	for _, id := range ids[:min(len(ids), 50)] {
		_, r := device(apis[1], id)
		replaced += r
	}
	t.Logf("RESULT sessions=%d ttl=%s owned-by-killed=%d leases-expired-after=%.2fs first-back=%v all-connected=%v owners-after=%v replaced(first 50)=%d",
		n, ttl, owned, expiresIn, first.Round(time.Millisecond), all.Round(time.Millisecond), split, replaced)
}
