package backoff_test

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"keycab.dev/keycab/internal/backoff"
)

func TestDelay(t *testing.T) {
	const forever = time.Duration(math.MaxInt64)
	for _, c := range []struct {
		p       backoff.Policy
		attempt int
		want    time.Duration
	}{
		{backoff.Policy{Base: time.Second, Max: time.Minute}, 1, time.Second},
		{backoff.Policy{Base: time.Second, Max: time.Minute}, 2, 2 * time.Second},
		{backoff.Policy{Base: time.Second, Max: time.Minute}, 3, 4 * time.Second},
		{backoff.Policy{Base: time.Second, Max: time.Minute}, 6, 32 * time.Second},
		{backoff.Policy{Base: time.Second, Max: time.Minute}, 7, time.Minute},
		{backoff.Policy{Base: time.Second, Max: time.Minute}, 0, time.Second},
		{backoff.Policy{Base: time.Second, Max: time.Minute}, -5, time.Second},
		// overflow: huge attempts stay at the cap.
		{backoff.Policy{Base: time.Second, Max: time.Minute}, 64, time.Minute},
		{backoff.Policy{Base: time.Second, Max: time.Minute}, math.MaxInt, time.Minute},
		{backoff.Policy{Base: time.Nanosecond, Max: forever}, math.MaxInt, forever},
		{backoff.Policy{Base: time.Nanosecond}, math.MaxInt, forever},
		{backoff.Policy{Base: 3 * time.Nanosecond}, 62, 3 << 61},
		{backoff.Policy{Base: 3 * time.Nanosecond}, 63, forever},
		{backoff.Policy{Base: time.Nanosecond}, 63, 1 << 62},
		{backoff.Policy{Base: 50 * time.Millisecond, Max: 2 * time.Second}, math.MaxInt, 2 * time.Second},
		// a cap below the base wins.
		{backoff.Policy{Base: time.Minute, Max: time.Second}, 1, time.Second},
		// no base: no delay, at once.
		{backoff.Policy{Max: time.Minute}, math.MaxInt, 0},
		{backoff.Policy{Base: -time.Second, Max: time.Minute}, 3, 0},
	} {
		if got := c.p.Delay(c.attempt); got != c.want {
			t.Errorf("%+v.Delay(%d) = %v, want %v", c.p, c.attempt, got, c.want)
		}
	}
}

func TestJittered(t *testing.T) {
	p := backoff.Policy{Base: time.Second, Max: 5 * time.Minute}
	for _, attempt := range []int{1, 2, 5, 9, 10, 1000, math.MaxInt} {
		d := p.Delay(attempt)
		lo, hi := p.Base/2, p.Base/2+d
		for range 200 {
			if got := p.Jittered(attempt, nil); got < lo || got >= hi {
				t.Fatalf("Jittered(%d) = %v, want in [%v, %v)", attempt, got, lo, hi)
			}
		}
		a := p.Jittered(attempt, rand.New(rand.NewPCG(1, 2)))
		b := p.Jittered(attempt, rand.New(rand.NewPCG(1, 2)))
		if a != b || a < lo || a >= hi {
			t.Errorf("Jittered(%d) with one seed: %v and %v, want equal and in [%v, %v)", attempt, a, b, lo, hi)
		}
	}
	if got := (backoff.Policy{}).Jittered(3, nil); got != 0 {
		t.Errorf("zero policy: Jittered = %v, want 0", got)
	}
}
