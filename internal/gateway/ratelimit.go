package gateway

import (
	"context"
	"time"
)

// RateClaim is the answer of RateLedger.Claim.
type RateClaim struct {
	// Granted is how many requests of the window's budget the caller may
	// now admit on its own (0 when the budget is used up).
	Granted int
	// Used is the window's budget handed out to all nodes, this claim
	// included (at most the limit).
	Used int
	// ResetIn is the time left until the window ends, by database time.
	ResetIn time.Duration
	// Nodes is the number of alive nodes (at least 1): the caller sizes
	// its next claim by it.
	Nodes int
}

// RateLedger is the cluster-wide budget of the rate limits that are not
// counted on a session's owner (general requests per key, session
// creations per key): one window per (bucket, class), started by its first
// claim, in database time. Nodes admit requests from local buckets and
// claim budget in chunks, so a request costs no round trip; a claim is one
// statement (internal/postgres, migration 0064).
type RateLedger interface {
	// Claim takes up to want units of the budget limit of bucket's class
	// window (of length window), starting a new window when the last one
	// ended. It never hands out more than limit per window over all
	// callers.
	Claim(ctx context.Context, class, bucket string, window time.Duration, limit, want int) (RateClaim, error)
}
