package httpapi

import (
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/rs/zerolog"

	"github.com/wagate-dev/wagate/internal/gateway"
)

// limiter counts requests per bucket in fixed windows that start at a
// bucket's first request. It is in-memory and per node.
type limiter struct {
	window time.Duration
	now    func() time.Time

	mu        sync.Mutex
	buckets   map[string]*bucket
	lastSweep time.Time
}

type bucket struct {
	start time.Time
	count int
}

// decision is the outcome of one limiter.allow call.
type decision struct {
	limit, remaining int
	reset            time.Time
	allowed          bool
	retryAfter       int // seconds, when !allowed
}

func newLimiter(window time.Duration, now func() time.Time) *limiter {
	return &limiter{window: window, now: now, buckets: map[string]*bucket{}}
}

// allow counts one request for key against limit (> 0).
func (l *limiter) allow(key string, limit int) decision {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.lastSweep) > l.window {
		for k, b := range l.buckets {
			if now.Sub(b.start) >= l.window {
				delete(l.buckets, k)
			}
		}
		l.lastSweep = now
	}
	b := l.buckets[key]
	if b == nil || now.Sub(b.start) >= l.window {
		b = &bucket{start: now}
		l.buckets[key] = b
	}
	reset := b.start.Add(l.window)
	d := decision{limit: limit, reset: reset}
	if b.count >= limit {
		d.retryAfter = int(math.Ceil(reset.Sub(now).Seconds()))
		if d.retryAfter < 1 {
			d.retryAfter = 1
		}
		return d
	}
	b.count++
	d.allowed = true
	d.remaining = limit - b.count
	return d
}

// setHeaders writes the X-RateLimit-* headers of d.
func (d decision) setHeaders(h http.Header) {
	h.Set("X-RateLimit-Limit", strconv.Itoa(d.limit))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(d.remaining))
	h.Set("X-RateLimit-Reset", strconv.FormatInt(d.reset.Unix(), 10))
}

// err is the 429 error of a denied decision.
func (d decision) err() error {
	return &gateway.Error{Code: gateway.CodeRateLimited, Message: gateway.MsgRateLimited(d.retryAfter), RetryAfter: d.retryAfter}
}

// RateLimits are the default limits the HTTP layer enforces; 0 turns one
// off. Managed keys' own limits override General, Messages and Sessions.
type RateLimits struct {
	General   int // requests per minute per key
	Messages  int // sends per minute per session
	Sessions  int // session creations per hour per key
	QRSeconds int // minimum seconds between QR requests per session
}

// rateLimiter holds the four limiters.
type rateLimiter struct {
	cfg               RateLimits
	general, sessions counter
	messages, qr      *limiter
}

// Rate-limit classes of the cluster ledger (wagate_rate_windows.class).
const (
	ledgerGeneral  = "general"
	ledgerSessions = "sessions"
)

// newRateLimiter builds the limiters. With a ledger (a cluster: cmd/wagate
// passes one when WAGATE_CLUSTER_SECRET is set) the general and the
// session-creation limits hold across all nodes (ratelimit_shared.go);
// sends and QR polls are counted on the session's owner, where forwarding
// sends them, so they hold across nodes as they are.
func newRateLimiter(cfg RateLimits, now func() time.Time, ledger gateway.RateLedger, log *zerolog.Logger) *rateLimiter {
	qrWindow := time.Duration(cfg.QRSeconds) * time.Second
	r := &rateLimiter{
		cfg:      cfg,
		general:  newLimiter(time.Minute, now),
		messages: newLimiter(time.Minute, now),
		sessions: newLimiter(time.Hour, now),
		qr:       newLimiter(qrWindow, now),
	}
	if ledger != nil {
		r.general = newSharedLimiter(ledger, ledgerGeneral, time.Minute, now, log)
		r.sessions = newSharedLimiter(ledger, ledgerSessions, time.Hour, now, log)
	}
	return r
}

func pick(own *int, def int) int {
	if own != nil {
		return *own
	}
	return def
}

// checkGeneral applies the per-key request limit.
func (r *rateLimiter) checkGeneral(c echo.Context, p *gateway.Principal) error {
	if n := pick(p.Limits.General, r.cfg.General); n > 0 {
		d := r.general.allow(p.KeyID, n)
		d.setHeaders(c.Response().Header())
		if !d.allowed {
			return d.err()
		}
	}
	return nil
}

// checkClass applies the limit of an operation's rate-limit class
// (policy.go), if any: sends per session, creations per key, QR polls per
// session. Its headers replace the general ones: they describe the most
// specific limit.
func (r *rateLimiter) checkClass(c echo.Context, class rateClass, p *gateway.Principal, sessionID string) error {
	h := c.Response().Header()
	var d decision
	switch class {
	case rateSend:
		n := pick(p.Limits.Messages, r.cfg.Messages)
		if n <= 0 || sessionID == "" {
			return nil
		}
		d = r.messages.allow(sessionID, n)
	case rateSessionCreate:
		n := pick(p.Limits.Sessions, r.cfg.Sessions)
		if n <= 0 {
			return nil
		}
		d = r.sessions.allow(p.KeyID, n)
	case rateQR:
		if r.cfg.QRSeconds <= 0 || sessionID == "" {
			return nil
		}
		d = r.qr.allow(sessionID, 1)
	default:
		return nil
	}
	d.setHeaders(h)
	if !d.allowed {
		return d.err()
	}
	return nil
}
