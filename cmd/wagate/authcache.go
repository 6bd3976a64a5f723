package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/wagate-dev/wagate/internal/authcache"
	"github.com/wagate-dev/wagate/internal/gateway"
	"github.com/wagate-dev/wagate/internal/metrics"
	"github.com/wagate-dev/wagate/internal/postgres"
)

// authParts is the in-memory key and session cache of a running Main and
// the LISTEN connection that keeps it current.
type authParts struct {
	// AuthCache answers key and session lookups from memory (nil when
	// WAGATE_AUTH_CACHE_TTL is 0).
	AuthCache    *authcache.Cache
	stopAuthFeed func()
}

// startAuthCache builds the cache over m.Store and starts the change
// listener; it returns the stores the HTTP layer and the sessions use.
func (m *Main) startAuthCache(ctx context.Context) (gateway.KeyStore, gateway.SessionStore, gateway.SessionStatusStore) {
	c := m.Config
	if c.AuthCacheTTL == 0 {
		return m.Store, m.Store, m.Store
	}
	cache := authcache.New(m.Store, m.Store, authcache.Options{
		TTL:                  c.AuthCacheTTL,
		NegativeSize:         c.AuthNegativeSize,
		MissLookupsPerSecond: float64(c.AuthMissLookups),
	})
	m.AuthCache = cache
	lctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		defer close(done)
		postgres.ListenAuthChanges(lctx, m.Pool, cache, m.Logger.With().Str("component", "authcache").Logger())
	}()
	m.stopAuthFeed = func() { cancel(); <-done }
	return cache, cache, cache.Status(m.Store)
}

// closeAuthCache stops the change listener.
func (m *Main) closeAuthCache() {
	if m.stopAuthFeed != nil {
		m.stopAuthFeed()
		m.stopAuthFeed = nil
	}
}

// observePool reports the pool and the auth cache on /metrics.
func (m *Main) observePool(mx *metrics.Metrics) {
	pool := m.Pool
	mx.SetPoolStats(func() metrics.PoolStats {
		s := pool.Stat()
		return metrics.PoolStats{
			Acquired: s.AcquiredConns(), Idle: s.IdleConns(), Total: s.TotalConns(), Max: s.MaxConns(),
			AcquireCount: s.AcquireCount(), EmptyAcquireCount: s.EmptyAcquireCount(),
			AcquireDuration: s.AcquireDuration(), Queries: postgres.QueryCount(pool),
		}
	})
	if cache := m.AuthCache; cache != nil {
		mx.SetAuthCacheStats(func() metrics.AuthCacheStats {
			s := cache.Stats()
			return metrics.AuthCacheStats{
				KeyHits: s.KeyHits, KeyMisses: s.KeyMisses, NegativeHits: s.NegativeHits, MissRefused: s.MissRefused,
				SessionHits: s.SessionHits, SessionMisses: s.SessionMisses,
				Invalidations: s.Invalidations, Flushes: s.Flushes,
			}
		})
	}
}

// startPprof serves net/http/pprof on WAGATE_PPROF_ADDR until ctx ends.
func (m *Main) startPprof(ctx context.Context) error {
	if m.Config.PprofAddr == "" {
		return nil
	}
	ln, err := net.Listen("tcp", m.Config.PprofAddr)
	if err != nil {
		return fmt.Errorf("listen on WAGATE_PPROF_ADDR %s: %w", m.Config.PprofAddr, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	m.Logger.Warn().Str("addr", ln.Addr().String()).Msg("serving pprof profiles")
	return nil
}
