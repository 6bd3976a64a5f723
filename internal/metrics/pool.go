package metrics

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// PoolStats is a snapshot of the database connection pool.
type PoolStats struct {
	Acquired, Idle, Total, Max int32
	// AcquireCount and AcquireDuration count every connection acquire and
	// the time spent waiting in them; EmptyAcquireCount those that found
	// no idle connection.
	AcquireCount, EmptyAcquireCount int64
	AcquireDuration                 time.Duration
	// Queries counts the queries sent through the pool.
	Queries int64
}

// AuthCacheStats are the counters of the in-memory key and session cache.
type AuthCacheStats struct {
	KeyHits, KeyMisses, NegativeHits, MissRefused int64
	SessionHits, SessionMisses                    int64
	Invalidations, Flushes                        int64
}

// SetPoolStats makes /metrics report the pool: wagate_db_pool_* and
// wagate_db_queries_total, read from f at scrape time.
func (m *Metrics) SetPoolStats(f func() PoolStats) { m.pool.setPool(f) }

// SetAuthCacheStats makes /metrics report wagate_auth_cache_*, read from f
// at scrape time.
func (m *Metrics) SetAuthCacheStats(f func() AuthCacheStats) { m.pool.setAuth(f) }

type poolCollector struct {
	mu   sync.RWMutex
	pool func() PoolStats
	auth func() AuthCacheStats

	acquired, idle, total, max             *prometheus.Desc
	acquires, emptyAcquires, acquireSecond *prometheus.Desc
	queries                                *prometheus.Desc
	authKeys, authSessions, authEvents     *prometheus.Desc
}

func newPoolCollector() *poolCollector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(name, help, labels, nil)
	}
	return &poolCollector{
		acquired:      d("wagate_db_pool_acquired_conns", "Database connections currently in use."),
		idle:          d("wagate_db_pool_idle_conns", "Idle database connections in the pool."),
		total:         d("wagate_db_pool_total_conns", "Database connections open in the pool (acquired, idle and being opened)."),
		max:           d("wagate_db_pool_max_conns", "Largest number of connections the pool opens (pool_max_conns)."),
		acquires:      d("wagate_db_pool_acquires_total", "Connections acquired from the pool."),
		emptyAcquires: d("wagate_db_pool_empty_acquires_total", "Acquires that found no idle connection and waited for one."),
		acquireSecond: d("wagate_db_pool_acquire_duration_seconds_total", "Time spent acquiring connections."),
		queries:       d("wagate_db_queries_total", "Queries sent to PostgreSQL through the pool."),
		authKeys:      d("wagate_auth_cache_key_lookups_total", "API key lookups by result: hit (memory), negative (known unknown key), miss (database), refused (over WAGATE_AUTH_MISS_LOOKUPS).", "result"),
		authSessions:  d("wagate_auth_cache_session_lookups_total", "Session lookups for authorization and status by result: hit (memory) or miss (database).", "result"),
		authEvents:    d("wagate_auth_cache_events_total", "Invalidations (a change of a key or session) and flushes (everything dropped) of the auth cache.", "event"),
	}
}

func (p *poolCollector) setPool(f func() PoolStats) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.pool = f
}

func (p *poolCollector) setAuth(f func() AuthCacheStats) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.auth = f
}

func (p *poolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{p.acquired, p.idle, p.total, p.max, p.acquires, p.emptyAcquires,
		p.acquireSecond, p.queries, p.authKeys, p.authSessions, p.authEvents} {
		ch <- d
	}
}

func (p *poolCollector) Collect(ch chan<- prometheus.Metric) {
	p.mu.RLock()
	pool, auth := p.pool, p.auth
	p.mu.RUnlock()
	g := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	c := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
	}
	if pool != nil {
		s := pool()
		g(p.acquired, float64(s.Acquired))
		g(p.idle, float64(s.Idle))
		g(p.total, float64(s.Total))
		g(p.max, float64(s.Max))
		c(p.acquires, float64(s.AcquireCount))
		c(p.emptyAcquires, float64(s.EmptyAcquireCount))
		c(p.acquireSecond, s.AcquireDuration.Seconds())
		c(p.queries, float64(s.Queries))
	}
	if auth != nil {
		s := auth()
		c(p.authKeys, float64(s.KeyHits), "hit")
		c(p.authKeys, float64(s.NegativeHits), "negative")
		c(p.authKeys, float64(s.KeyMisses), "miss")
		c(p.authKeys, float64(s.MissRefused), "refused")
		c(p.authSessions, float64(s.SessionHits), "hit")
		c(p.authSessions, float64(s.SessionMisses), "miss")
		c(p.authEvents, float64(s.Invalidations), "invalidation")
		c(p.authEvents, float64(s.Flushes), "flush")
	}
}
