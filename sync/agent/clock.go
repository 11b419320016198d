package agent

import (
	"net/http"
	"sync"
	"time"
)

// HQ accepts a signed request only when its date is within
// wire.ReplayWindow of HQ's clock, and a kiosk's wall clock may be far
// off: a Pi without a clock battery boots at 1970 until NTP answers, and
// one without network time drifts. So the agent signs with HQ's time as
// it has learnt it, its own clock plus an offset measured from the Date
// of HQ's answers, and never earlier than the newest HQ cosignature it
// holds (HQ signed that time, so HQ's clock was past it). The kiosk's log
// keeps the kiosk's own times, ordered by index; HQ flags those that its
// receipt times and the log's anchors show to be off (hq/store
// EventTimes).

// clockSlack is how far a measured offset may stray from the one in use
// before the agent takes the new one: a Date has a resolution of one
// second, and the round trip blurs it further.
const clockSlack = 2 * time.Second

// hqClock is the kiosk's estimate of HQ's clock.
type hqClock struct {
	mu     sync.Mutex
	offset time.Duration // HQ's clock minus the kiosk's
	floor  time.Time     // the newest HQ cosignature time seen
}

// now returns HQ's time when the kiosk's clock reads local.
func (c *hqClock) now(local time.Time) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := local.Add(c.offset)
	if t.Before(c.floor) {
		return c.floor
	}
	return t
}

// Offset returns HQ's clock minus the kiosk's, as last measured.
func (c *hqClock) Offset() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.offset
}

// raiseFloor notes a time HQ has signed.
func (c *hqClock) raiseFloor(at time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if at.After(c.floor) {
		c.floor = at
	}
}

// observe measures the offset from the Date of an answer to a request
// sent at local time sent and answered at got, and takes it when it
// differs from the one in use by more than clockSlack. It reports whether
// it did. An answer without a valid Date changes nothing.
func (c *hqClock) observe(date string, sent, got time.Time) (time.Duration, bool) {
	d, err := http.ParseTime(date)
	if err != nil || got.Before(sent) {
		return 0, false
	}
	// HQ's clock read somewhere in [d, d+1s) while the kiosk's read
	// somewhere in [sent, got]: take the middle of each.
	measured := d.Add(500 * time.Millisecond).Sub(sent.Add(got.Sub(sent) / 2)).Round(100 * time.Millisecond)
	c.mu.Lock()
	defer c.mu.Unlock()
	if diff := measured - c.offset; diff > -clockSlack && diff < clockSlack {
		return c.offset, false
	}
	if measured > -clockSlack && measured < clockSlack {
		measured = 0 // in step with HQ, as far as a Date can tell
	}
	c.offset = measured
	return measured, true
}
