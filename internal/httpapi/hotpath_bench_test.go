package httpapi_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/wagate-dev/wagate/internal/authcache"
	"github.com/wagate-dev/wagate/internal/gateway"
	"github.com/wagate-dev/wagate/internal/httpapi"
	"github.com/wagate-dev/wagate/internal/postgres"
	"github.com/wagate-dev/wagate/internal/sessions"
	"github.com/wagate-dev/wagate/internal/testkit"
)

// BenchmarkHotPathStatus is the in-process cost of an authenticated
// GET /sessions/{id}/status with the key and the session answered from the
// auth cache (no network, no database on a warm read): the middleware
// chain, routing, validation, the handler and JSON encoding. It reports
// allocations, which do not depend on the machine's load, and its CPU
// profile (-cpuprofile) shows where the time goes; make bench-http gives
// the figures through the network.
func BenchmarkHotPathStatus(b *testing.B) {
	pool := testkit.SharedDB(b)
	store := postgres.NewStore(pool)
	cache := authcache.New(store, store, authcache.Options{})
	cache.AuthFeedUp()
	rt := &testkit.FakeRuntime{Store: store}
	svc := sessions.New(cache, cache, rt, sessions.Options{})
	s2 := testkit.NewServer(b, testkit.Options{Pool: pool, Runtime: rt, RateLimits: &httpapi.RateLimits{}, Deps: func(d *httpapi.Deps) {
		d.Keys, d.Sessions, d.SessionService, d.KeyService = cache, cache, svc, svc
	}})
	sid, key := s2.CreateSession("hotpath-status-" + uuid.NewString())
	req := httptest.NewRequest(http.MethodGet, "/sessions/"+sid.String()+"/status", nil)
	req.Header.Set("X-API-Key", key)
	serve := func() *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		s2.Echo.ServeHTTP(w, req)
		return w
	}
	if w := serve(); w.Code != http.StatusOK {
		b.Fatalf("status %d: %s", w.Code, w.Body)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if w := serve(); w.Code != http.StatusOK {
			b.Fatalf("status %d", w.Code)
		}
	}
	b.StopTimer()
	if st := cache.Stats(); st.KeyMisses > 2 || st.SessionMisses > 2 {
		b.Fatalf("the warm reads reached the stores: %+v", st)
	}
}

// BenchmarkHotPathStatusLimited is BenchmarkHotPathStatus with a general
// limit too high to refuse: "local" counts it on the node (one node),
// "cluster" draws it from the PostgreSQL rate ledger in shares, as
// cmd/wagate does with WAGATE_CLUSTER_SECRET (three alive nodes). It
// reports the ledger's statements per 1,000 requests: the cluster limiter
// must not put a database round trip on the request. "cluster-3000" has a
// limit of 3,000 per minute, so a long run ends in local 429s: its
// statements per 1,000 requests are those of using a window up.
func BenchmarkHotPathStatusLimited(b *testing.B) {
	for _, mode := range []string{"local", "cluster", "cluster-3000"} {
		b.Run(mode, func(b *testing.B) {
			pool := testkit.NewDB(b)
			store := postgres.NewStore(pool)
			cache := authcache.New(store, store, authcache.Options{})
			cache.AuthFeedUp()
			rt := &testkit.FakeRuntime{Store: store}
			svc := sessions.New(cache, cache, rt, sessions.Options{})
			var ledger *countingLedger
			if mode != "local" {
				cl := postgres.NewClusterStore(pool)
				for _, id := range []string{"a", "b", "c"} {
					if err := cl.RegisterNode(context.Background(), gateway.NodeRegistration{ID: id, Instance: uuid.New(), URL: "http://" + id, Capacity: 1, Version: "bench"}, time.Hour); err != nil {
						b.Fatal(err)
					}
				}
				ledger = &countingLedger{RateLedger: postgres.NewRateLedger(pool, time.Hour)}
			}
			limits := httpapi.RateLimits{General: 100_000_000}
			if mode == "cluster-3000" {
				limits.General = 3000
			}
			s2 := testkit.NewServer(b, testkit.Options{Pool: pool, Runtime: rt, RateLimits: &limits, Deps: func(d *httpapi.Deps) {
				d.Keys, d.Sessions, d.SessionService, d.KeyService = cache, cache, svc, svc
				if ledger != nil {
					d.RateLedger = ledger
				}
			}})
			sid, key := s2.CreateSession("hotpath-limited-" + uuid.NewString())
			req := httptest.NewRequest(http.MethodGet, "/sessions/"+sid.String()+"/status", nil)
			req.Header.Set("X-API-Key", key)
			serve := func() *httptest.ResponseRecorder {
				w := httptest.NewRecorder()
				s2.Echo.ServeHTTP(w, req)
				return w
			}
			if w := serve(); w.Code != http.StatusOK || w.Header().Get("X-RateLimit-Limit") == "" {
				b.Fatalf("status %d: %s", w.Code, w.Body)
			}
			var before int64
			if ledger != nil {
				before = ledger.claims.Load()
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if w := serve(); w.Code != http.StatusOK && (w.Code != http.StatusTooManyRequests || mode != "cluster-3000") {
					b.Fatalf("status %d", w.Code)
				}
			}
			b.StopTimer()
			if ledger != nil {
				b.ReportMetric(float64(ledger.claims.Load()-before)*1000/float64(b.N), "ledger-stmts/1k-req")
			}
			if st := cache.Stats(); st.KeyMisses > 2 || st.SessionMisses > 2 {
				b.Fatalf("the warm reads reached the stores: %+v", st)
			}
		})
	}
}
