package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/wagate-dev/wagate/internal/gateway"
)

var _ gateway.RateLedger = (*RateLedger)(nil)

// RateLedger implements gateway.RateLedger on wagate_rate_windows
// (migration 0064): one statement per claim, in database time. A claim
// also counts the alive nodes (wagate_nodes rows that heartbeat within
// nodeTTL).
type RateLedger struct {
	pool    *pgxpool.Pool
	nodeTTL time.Duration
}

// NewRateLedger returns a RateLedger on pool; nodeTTL is the cluster's
// lease TTL (WAGATE_LEASE_TTL).
func NewRateLedger(pool *pgxpool.Pool, nodeTTL time.Duration) *RateLedger {
	return &RateLedger{pool: pool, nodeTTL: nodeTTL}
}

// claimRateSQL takes up to $5 of the budget $4 of the window of (class,
// bucket), starting a new window (of $3 ms) when the stored one ended or
// its length changed. In ON CONFLICT's SET every w.* is the row before the
// update, so granted is the difference the claim made. The row lock of the
// upsert serialises concurrent claims of one bucket: the budget handed out
// never exceeds the limit.
const claimRateSQL = `
	INSERT INTO wagate_rate_windows AS w (class, bucket, window_start, window_ms, used, granted)
	VALUES ($1, $2, now(), $3, LEAST($5::int, $4::int), LEAST($5::int, $4::int))
	ON CONFLICT (class, bucket) DO UPDATE SET
		window_start = CASE WHEN w.window_start + w.window_ms * interval '1 millisecond' <= now()
			OR w.window_ms <> excluded.window_ms THEN now() ELSE w.window_start END,
		window_ms = excluded.window_ms,
		used = CASE WHEN w.window_start + w.window_ms * interval '1 millisecond' <= now()
			OR w.window_ms <> excluded.window_ms THEN excluded.used
			ELSE LEAST(w.used + $5::int, GREATEST($4::int, w.used)) END,
		granted = CASE WHEN w.window_start + w.window_ms * interval '1 millisecond' <= now()
			OR w.window_ms <> excluded.window_ms THEN excluded.used
			ELSE GREATEST(LEAST(w.used + $5::int, $4::int) - w.used, 0) END
	RETURNING granted, used,
		GREATEST(0, (EXTRACT(EPOCH FROM (window_start + window_ms * interval '1 millisecond' - now())) * 1000)::bigint),
		(SELECT count(*) FROM wagate_nodes WHERE state = 'alive' AND heartbeat_at > now() - $6 * interval '1 millisecond')`

// Claim implements gateway.RateLedger.
func (l *RateLedger) Claim(ctx context.Context, class, bucket string, window time.Duration, limit, want int) (gateway.RateClaim, error) {
	if want < 1 {
		want = 1
	}
	if limit < 0 {
		limit = 0
	}
	var c gateway.RateClaim
	var left int64
	err := l.pool.QueryRow(ctx, claimRateSQL, class, bucket, ms(window), limit, want, ms(l.nodeTTL)).Scan(&c.Granted, &c.Used, &left, &c.Nodes)
	c.ResetIn = time.Duration(left) * time.Millisecond
	if c.Nodes < 1 {
		c.Nodes = 1
	}
	return c, err
}
