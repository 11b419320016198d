package hardware

import "time"

// A Clock tells the time and runs functions later. Drivers take one so that
// tests can drive timeouts deterministically (hardwaretest.Clock); production
// code uses SystemClock.
type Clock interface {
	// Now returns the current time; SystemClock's carries a monotonic
	// reading.
	Now() time.Time
	// AfterFunc calls f in its own goroutine once d has elapsed.
	AfterFunc(d time.Duration, f func()) Timer
}

// A Timer is a pending AfterFunc call.
type Timer interface {
	// Stop prevents the call if it has not happened yet and reports
	// whether it did so.
	Stop() bool
}

// SystemClock is the Clock of the running system.
type SystemClock struct{}

// Now returns time.Now().
func (SystemClock) Now() time.Time { return time.Now() }

// AfterFunc is time.AfterFunc.
func (SystemClock) AfterFunc(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }

// After returns a channel that receives the time once d has elapsed on c.
// Stop the returned Timer when the channel is no longer needed.
func After(c Clock, d time.Duration) (<-chan time.Time, Timer) {
	ch := make(chan time.Time, 1)
	t := c.AfterFunc(d, func() { ch <- c.Now() })
	return ch, t
}

// Interface guards.
var _ Clock = SystemClock{}
