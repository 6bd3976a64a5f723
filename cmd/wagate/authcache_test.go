package main

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wagate-dev/wagate/internal/postgres"
	"github.com/wagate-dev/wagate/internal/testkit"
)

// status returns the status code of GET base+path with key.
func statusOf(t *testing.T, base, path, key string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, base+path, nil)
	req.Header.Set("X-API-Key", key)
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// metricValue returns the value of one series of base's /metrics (0 when
// absent).
func metricValue(t *testing.T, base, series string) float64 {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			f, _ := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return f
		}
	}
	return 0
}

// refusedWithin polls base+path with key until it answers want and fails
// when that takes longer than limit (the acceptance of issue 11: one second).
func refusedWithin(t *testing.T, limit time.Duration, base, path, key string, want int, what string) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		got := statusOf(t, base, path, key)
		took := time.Since(start)
		if got == want {
			t.Logf("%s: node B answered %d after %s", what, want, took)
			return took
		}
		if took > limit {
			t.Fatalf("%s: node B still answers %d after %s, want %d within %s", what, got, took, want, limit)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestAuthChangesReachOtherNodeWithinOneSecond is the acceptance of issue
// 11 item 1: two wagate processes on one database; node B answers from its
// cache (proved by its hit counter), then a key revoked and a session
// deleted through node A are refused by node B within one second.
func TestAuthChangesReachOtherNodeWithinOneSecond(t *testing.T) {
	bin := buildWagate(t)
	dbURL := testkit.NewDatabaseURL(t)
	adminKey := "wamk_" + strings.Repeat("cd", 24)
	env := func() map[string]string {
		return map[string]string{
			"DATABASE_URL": dbURL, "WAGATE_ADDR": freeAddr(t), "WAGATE_ADMIN_KEY": adminKey,
			"WAGATE_SANDBOX": "true", "WAGATE_RATE_LIMIT_GENERAL": "0", "WAGATE_LOG_LEVEL": "warn",
		}
	}
	envA, envB := env(), env()
	pa := startGateway(t, bin, envA, "node-a")
	pb := startGateway(t, bin, envB, "node-b")
	a, b := "http://"+envA["WAGATE_ADDR"], "http://"+envB["WAGATE_ADDR"]
	admin := &apiClient{t: t, base: a, key: adminKey}

	var key struct {
		ApiKey struct {
			Id  string `json:"id"`
			Key string `json:"key"`
		} `json:"apiKey"`
	}
	admin.do(http.MethodPost, "/admin/api-keys", map[string]any{"name": "customer"}, http.StatusCreated, &key)
	var created struct {
		Session struct {
			Id string `json:"id"`
		} `json:"session"`
		ApiKey string `json:"apiKey"`
	}
	(&apiClient{t: t, base: a, key: key.ApiKey.Key}).do(http.MethodPost, "/sessions/create",
		map[string]any{"name": "node-test"}, http.StatusCreated, &created)
	status := "/sessions/" + created.Session.Id + "/status"

	// A second session with its own key, to be deleted.
	var other struct {
		Session struct {
			Id string `json:"id"`
		} `json:"session"`
		ApiKey string `json:"apiKey"`
	}
	admin.do(http.MethodPost, "/sessions/create", map[string]any{"name": "node-test-2"}, http.StatusCreated, &other)
	otherStatus := "/sessions/" + other.Session.Id + "/status"

	hits := `wagate_auth_cache_key_lookups_total{result="hit"}`
	before := metricValue(t, b, hits)
	for range 5 {
		for _, c := range []struct{ path, key string }{{status, key.ApiKey.Key}, {status, created.ApiKey}, {otherStatus, other.ApiKey}} {
			if got := statusOf(t, b, c.path, c.key); got != http.StatusOK {
				t.Fatalf("node B GET %s: %d", c.path, got)
			}
		}
	}
	if got := metricValue(t, b, hits) - before; got < 10 {
		t.Fatalf("node B answered %v of 15 key lookups from memory, want at least 10\n%s", got, pb.tail(30))
	}

	// Revoke the managed key through A: B refuses it within one second.
	admin.do(http.MethodDelete, "/admin/api-keys/"+key.ApiKey.Id, nil, http.StatusOK, nil)
	refusedWithin(t, time.Second, b, status, key.ApiKey.Key, http.StatusUnauthorized, "revoked key")

	// Delete a session through A: B refuses its key and no longer finds it.
	admin.do(http.MethodDelete, "/sessions/"+other.Session.Id, nil, http.StatusOK, nil)
	refusedWithin(t, time.Second, b, otherStatus, other.ApiKey, http.StatusUnauthorized, "deleted session's key")
	refusedWithin(t, time.Second, b, otherStatus, adminKey, http.StatusNotFound, "deleted session")

	// The session key of the session the revoked key created still works
	// (as before the cache: sessions outlive their creator's revocation).
	if got := statusOf(t, b, status, created.ApiKey); got != http.StatusOK {
		t.Errorf("session key after its creator's revocation: %d", got)
	}
	if pa.exited() || pb.exited() {
		t.Fatal("a node exited")
	}
}

// TestPoolMaxConnsAndWarmReadsWithoutQueries: DATABASE_URL with
// pool_max_conns=16 starts and the pool has 16 connections (issue 11's
// acceptance); warm authenticated reads send no query (only background
// work such as the webhook workers' polling does).
func TestPoolMaxConnsAndWarmReadsWithoutQueries(t *testing.T) {
	dbURL := testkit.NewDatabaseURL(t)
	sep := "?"
	if strings.Contains(dbURL, "?") {
		sep = "&"
	}
	adminKey := "wamk_" + strings.Repeat("ef", 24)
	m, _ := start(t, dbURL+sep+"pool_max_conns=16", adminKey)
	if got := m.Pool.Config().MaxConns; got != 16 {
		t.Fatalf("MaxConns = %d, want 16", got)
	}
	base := "http://" + m.Addr.String()
	if got := metricValue(t, base, "wagate_db_pool_max_conns"); got != 16 {
		t.Errorf("wagate_db_pool_max_conns = %v, want 16", got)
	}
	var created struct {
		Session struct {
			Id string `json:"id"`
		} `json:"session"`
		ApiKey string `json:"apiKey"`
	}
	(&apiClient{t: t, base: base, key: adminKey}).do(http.MethodPost, "/sessions/create",
		map[string]any{"name": "warm"}, http.StatusCreated, &created)
	path := "/sessions/" + created.Session.Id + "/status"
	if got := statusOf(t, base, path, created.ApiKey); got != http.StatusOK { // warms the cache
		t.Fatalf("status: %d", got)
	}
	const n = 80 // under the default 100 requests per minute per key
	before := postgres.QueryCount(m.Pool)
	for range n {
		if got := statusOf(t, base, path, created.ApiKey); got != http.StatusOK {
			t.Fatalf("status: %d", got)
		}
	}
	queries := postgres.QueryCount(m.Pool) - before
	t.Logf("%d warm authenticated reads: %d queries on the pool (background work included)", n, queries)
	if queries >= n/4 {
		t.Errorf("%d warm reads sent %d queries; without the cache they send 2 each", n, queries)
	}
}
