package webhook

import (
	"encoding/binary"
	"hash/fnv"
	"time"
)

// backoff returns the delay after failed attempt n (1-based): base·2^(n-1),
// capped at maxDelay, times a jitter factor in [0.8, 1.2). The jitter is
// derived from (seed, n) rather than drawn, so that the worker, which
// records the next attempt's time, and River, which schedules it (through
// the worker's NextRetry), compute the same instant.
func backoff(base, maxDelay time.Duration, n int, seed int64) time.Duration {
	d := base
	for i := 1; i < n && d < maxDelay; i++ {
		d *= 2
	}
	d = min(d, maxDelay)
	h := fnv.New64a()
	var b [16]byte
	binary.LittleEndian.PutUint64(b[:8], uint64(seed))
	binary.LittleEndian.PutUint64(b[8:], uint64(n))
	h.Write(b[:])
	frac := float64(h.Sum64()%10000) / 10000 // [0, 1)
	return time.Duration(float64(d) * (0.8 + 0.4*frac))
}

// Schedule returns the nominal delays (without jitter) before attempts
// 2..maxAttempts, for documentation and tests.
func Schedule(base, maxDelay time.Duration, maxAttempts int) []time.Duration {
	out := make([]time.Duration, 0, maxAttempts-1)
	d := base
	for n := 1; n < maxAttempts; n++ {
		out = append(out, min(d, maxDelay))
		if d < maxDelay {
			d *= 2
		}
	}
	return out
}
