// Package backoff computes the delays between retries: exponential from a
// base delay, capped, optionally with jitter. It is the one copy the sync
// agent, HQ's mail retry worker, the badge readers and the camera source
// use; each keeps its own configuration fields and defaults and hands them
// over as a Policy.
package backoff

import (
	"math/rand/v2"
	"time"
)

// Policy is an exponential backoff: Base after the first failure in a
// row, doubled after each further one, never more than Max.
type Policy struct {
	Base time.Duration // the delay after the first failure; none if ≤ 0
	Max  time.Duration // the cap; ≤ 0 means none
}

// Delay returns the delay after the attempt-th failure in a row (1 for
// the first; a smaller attempt counts as 1): Base doubled attempt-1
// times, at most Max. It never overflows, however large attempt is.
func (p Policy) Delay(attempt int) time.Duration {
	limit := p.Max
	if limit <= 0 {
		limit = time.Duration(1<<63 - 1)
	}
	d := p.Base
	if d <= 0 {
		return 0
	}
	for i := 1; i < attempt && d < limit; i++ {
		if d > limit/2 {
			return limit
		}
		d *= 2
	}
	return min(d, limit)
}

// Jittered returns Base/2 plus a uniformly random delay below
// Delay(attempt) ("full jitter"), so that clients that failed together do
// not retry together. r supplies the randomness (a seeded one makes it
// repeatable); nil means the global source of math/rand/v2.
func (p Policy) Jittered(attempt int, r *rand.Rand) time.Duration {
	d := p.Delay(attempt)
	if d <= 0 {
		return max(p.Base/2, 0)
	}
	if r == nil {
		return p.Base/2 + rand.N(d)
	}
	return p.Base/2 + time.Duration(r.Int64N(int64(d)))
}
