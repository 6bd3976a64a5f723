package httpapi_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/google/uuid"

	"github.com/wagate-dev/wagate/internal/authcache"
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
