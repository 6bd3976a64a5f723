package httpapi

import (
	"context"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/wagate-dev/wagate/internal/gateway"
)

// counter is one kind of limit: the per-node limiter, or sharedLimiter
// when the limit holds across the cluster.
type counter interface {
	allow(key string, limit int) decision
}

const (
	// shareDivisor sizes a claim: limit/(shareDivisor * alive nodes), at
	// least 1. Budget claimed by a node that then gets no more requests
	// for the key is what the cluster can admit less than the limit: at
	// most one share per node, so 1/shareDivisor (8 %) of the limit, and
	// only when a key's traffic moves between nodes within a window. A
	// window costs about shareDivisor * nodes claims per key when it is
	// used up, whatever the request rate (refusals cost none).
	shareDivisor = 12
	// claimTimeout bounds one claim; a slower database counts as down.
	claimTimeout = 500 * time.Millisecond
	// ledgerRetry is how long a node counts locally after a failed claim
	// before it asks the database again.
	ledgerRetry = time.Second
)

// sharedLimiter enforces a limit across all nodes without a database
// round trip per request: each node admits requests from a local share of
// the window's budget and claims the next share from the ledger
// (gateway.RateLedger, one statement) when its share is used up. Claims
// shrink as the budget runs out, the ledger never hands out more than the
// limit, and once it answers that nothing is left the node refuses locally
// until the window ends. While the ledger is unreachable the node counts
// on its own, like a single node (fallback), and asks again after
// ledgerRetry.
type sharedLimiter struct {
	ledger   gateway.RateLedger
	class    string
	window   time.Duration
	now      func() time.Time
	log      *zerolog.Logger
	fallback *limiter

	mu        sync.Mutex
	shares    map[string]*share
	lastSweep time.Time
	downUntil time.Time
	down      bool
	// nodes is the number of alive nodes of the last claim (of any key).
	nodes atomic.Int64
}

// share is a node's part of one bucket's window. mu is held across a
// claim: the requests of one key on one node wait for its claim, the
// other keys do not.
type share struct {
	mu     sync.Mutex
	reset  time.Time // local time the window ends
	limit  int
	used   int // handed out to all nodes, as of the last claim
	tokens int // claimed by this node, not yet admitted
	empty  bool
}

func newSharedLimiter(ledger gateway.RateLedger, class string, window time.Duration, now func() time.Time, log *zerolog.Logger) *sharedLimiter {
	return &sharedLimiter{
		ledger: ledger, class: class, window: window, now: now, log: log,
		fallback: newLimiter(window, now), shares: map[string]*share{},
	}
}

func (l *sharedLimiter) get(key string, now time.Time) *share {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.lastSweep) > l.window {
		for k, s := range l.shares {
			if s.mu.TryLock() {
				if !now.Before(s.reset) {
					delete(l.shares, k)
				}
				s.mu.Unlock()
			}
		}
		l.lastSweep = now
	}
	s := l.shares[key]
	if s == nil {
		s = &share{}
		l.shares[key] = s
	}
	return s
}

// ledgerDown reports whether the node counts locally now.
func (l *sharedLimiter) ledgerDown(now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.down && now.Before(l.downUntil)
}

func (l *sharedLimiter) ledgerResult(now time.Time, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err == nil {
		if l.down && l.log != nil {
			l.log.Info().Str("class", l.class).Msg("rate limits: the cluster ledger answers again; limits hold across nodes")
		}
		l.down = false
		return
	}
	if !l.down && l.log != nil {
		l.log.Warn().Err(err).Str("class", l.class).Msg("rate limits: cannot claim from the cluster ledger; counting on this node alone")
	}
	l.down, l.downUntil = true, now.Add(ledgerRetry)
}

func (l *sharedLimiter) allow(key string, limit int) decision {
	now := l.now()
	s := l.get(key, now)
	s.mu.Lock()
	defer s.mu.Unlock()
	if !now.Before(s.reset) || s.limit != limit {
		// A new window (or the key's limit changed): what was left of
		// the last share is not usable any more.
		s.tokens, s.empty, s.used, s.limit = 0, false, 0, limit
	}
	if s.tokens == 0 && !s.empty {
		if l.ledgerDown(now) {
			return l.fallback.allow(key, limit)
		}
		want := limit / (shareDivisor * max(int(l.nodes.Load()), 1))
		if want < 1 {
			want = 1
		}
		ctx, cancel := context.WithTimeout(context.Background(), claimTimeout)
		c, err := l.ledger.Claim(ctx, l.class, key, l.window, limit, want)
		cancel()
		l.ledgerResult(now, err)
		if err != nil {
			return l.fallback.allow(key, limit)
		}
		l.nodes.Store(int64(c.Nodes))
		s.reset, s.used, s.tokens, s.empty = now.Add(c.ResetIn), c.Used, c.Granted, c.Granted == 0
		if !now.Before(s.reset) { // the window ended as it was claimed
			s.reset = now.Add(time.Millisecond)
		}
	}
	d := decision{limit: limit, reset: s.reset}
	if s.tokens == 0 {
		d.retryAfter = int(math.Ceil(s.reset.Sub(now).Seconds()))
		if d.retryAfter < 1 {
			d.retryAfter = 1
		}
		return d
	}
	s.tokens--
	d.allowed = true
	// What the cluster has left: the budget nobody claimed yet plus this
	// node's unused share. Exact with one node; with several it does not
	// see the shares other nodes still hold.
	d.remaining = limit - s.used + s.tokens
	if d.remaining < 0 {
		d.remaining = 0
	}
	return d
}
