// Package hardwaretest holds small, real implementations that tests of the
// hardware packages share: a manual Clock that only moves when told to, and a
// slog handler that records what drivers log.
package hardwaretest

import (
	"context"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"keycab.dev/keycab/hardware"
)

// Clock is a hardware.Clock whose time only moves on Advance. Timers whose
// deadline is reached run, in deadline order, in their own goroutines.
type Clock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*timer
	seq    int
}

type timer struct {
	c       *Clock
	when    time.Time
	seq     int
	f       func()
	stopped bool
	fired   bool
}

// NewClock returns a Clock at a fixed, arbitrary instant.
func NewClock() *Clock {
	return &Clock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
}

// Now returns the clock's current time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// AfterFunc schedules f to run once the clock has been advanced by d.
func (c *Clock) AfterFunc(d time.Duration, f func()) hardware.Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	t := &timer{c: c, when: c.now.Add(d), seq: c.seq, f: f}
	c.timers = append(c.timers, t)
	return t
}

// Pending returns how many timers are waiting to fire.
func (c *Clock) Pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.timers)
}

// Advance moves the clock forward by d and starts every timer that became
// due, earliest first. It returns how many timers it started.
func (c *Clock) Advance(d time.Duration) int {
	c.mu.Lock()
	c.now = c.now.Add(d)
	var due, keep []*timer
	for _, t := range c.timers {
		if !t.when.After(c.now) {
			t.fired = true
			due = append(due, t)
		} else {
			keep = append(keep, t)
		}
	}
	c.timers = keep
	c.mu.Unlock()
	sort.Slice(due, func(i, j int) bool {
		if !due[i].when.Equal(due[j].when) {
			return due[i].when.Before(due[j].when)
		}
		return due[i].seq < due[j].seq
	})
	var wg sync.WaitGroup
	for _, t := range due {
		wg.Add(1)
		go func() { defer wg.Done(); t.f() }()
		wg.Wait() // keep due timers ordered
	}
	return len(due)
}

func (t *timer) Stop() bool {
	c := t.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if t.stopped || t.fired {
		return false
	}
	t.stopped = true
	for i, u := range c.timers {
		if u == t {
			c.timers = append(c.timers[:i], c.timers[i+1:]...)
			break
		}
	}
	return true
}

// Logs is a slog.Handler that keeps every record, for tests that check what
// a driver logged.
type Logs struct {
	mu      sync.Mutex
	records []string
	attrs   []slog.Attr
	parent  *Logs
}

// NewLogs returns a recorder and a logger writing to it.
func NewLogs() (*Logs, *slog.Logger) {
	l := &Logs{}
	return l, slog.New(l)
}

func (l *Logs) root() *Logs {
	for l.parent != nil {
		l = l.parent
	}
	return l
}

// Enabled reports true for every level.
func (l *Logs) Enabled(context.Context, slog.Level) bool { return true }

// Handle records r as "LEVEL msg key=value ...".
func (l *Logs) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Level.String())
	b.WriteString(" ")
	b.WriteString(r.Message)
	for _, a := range l.attrs {
		b.WriteString(" " + a.String())
	}
	r.Attrs(func(a slog.Attr) bool {
		b.WriteString(" " + a.String())
		return true
	})
	root := l.root()
	root.mu.Lock()
	root.records = append(root.records, b.String())
	root.mu.Unlock()
	return nil
}

// WithAttrs returns a handler adding attrs to every record.
func (l *Logs) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &Logs{attrs: append(append([]slog.Attr(nil), l.attrs...), attrs...), parent: l.root()}
}

// WithGroup ignores groups.
func (l *Logs) WithGroup(string) slog.Handler { return l }

// Records returns a copy of everything logged so far.
func (l *Logs) Records() []string {
	root := l.root()
	root.mu.Lock()
	defer root.mu.Unlock()
	return append([]string(nil), root.records...)
}

// Count returns how many records contain every one of substrs.
func (l *Logs) Count(substrs ...string) int {
	n := 0
	for _, r := range l.Records() {
		ok := true
		for _, s := range substrs {
			if !strings.Contains(r, s) {
				ok = false
				break
			}
		}
		if ok {
			n++
		}
	}
	return n
}

// Interface guards.
var (
	_ hardware.Clock = (*Clock)(nil)
	_ slog.Handler   = (*Logs)(nil)
)
