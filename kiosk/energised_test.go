package kiosk_test

import (
	"sync"
	"testing"
	"time"

	"periph.io/x/conn/v3/gpio"

	"keycab.dev/keycab/kiosk"
	"keycab.dev/keycab/kiosk/simulator"
)

// pinTrace records when each simulated lock output went High (energised:
// the simulator's locks are fail-secure and active-high) and Low, on the
// test's clock.
type pinTrace struct {
	mu      sync.Mutex
	changes map[string][]pinChange
}

type pinChange struct {
	at   time.Time
	high bool
}

func (p *pinTrace) intervals(name string, end time.Time) [][2]time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out [][2]time.Time
	var on time.Time
	high := false
	for _, c := range p.changes[name] {
		switch {
		case c.high && !high:
			on, high = c.at, true
		case !c.high && high:
			out, high = append(out, [2]time.Time{on, c.at}), false
		}
	}
	if high {
		out = append(out, [2]time.Time{on, end})
	}
	return out
}

// TestOutputsNeverEnergisedPastMax works the cabinet on a manual clock
// through every way an output is energised (a take that times out, a
// re-release at once, an admin lock test repeated, an emergency that
// lasts a minute) and checks from the outputs' recorded level changes
// that none was energised longer than its maximum at a time, nor again
// before resting as long as it was energised; and that during the
// emergency every lock was released again and again.
func TestOutputsNeverEnergisedPastMax(t *testing.T) {
	const (
		maxOn = 10 * time.Second // the simulator's default
		step  = 50 * time.Millisecond
	)
	r := newRig(t, testConfig(t))
	clock := r.clock
	trace := &pinTrace{changes: map[string][]pinChange{}}
	outputs := append([]string{simulator.BuzzerPin}, r.cab.Locks.Names()...)
	for _, name := range outputs {
		p := r.cab.Board.Pin(name)
		if p == nil {
			continue // the buzzer's lock name; its pin is BuzzerPin
		}
		p.Watch(func(l gpio.Level) {
			trace.mu.Lock()
			trace.changes[name] = append(trace.changes[name], pinChange{clock.Now(), l == gpio.High})
			trace.mu.Unlock()
		})
	}
	// run moves the clock on by d in steps, the controller acting on each
	// (the lock driver's timers chain: each step starts what the last one
	// scheduled).
	run := func(d time.Duration) {
		for e := time.Duration(0); e < d; e += step {
			r.advance(step)
		}
	}
	want := func(states ...kiosk.State) {
		t.Helper()
		s := r.c.Screen()
		for _, st := range states {
			if s.State == st {
				return
			}
		}
		t.Fatalf("screen %+v, want %v", s, states)
	}
	// toIdle lets a Message or Done screen time out, step by step.
	toIdle := func() {
		t.Helper()
		for e := time.Duration(0); r.c.Screen().State != kiosk.Idle; e += step {
			if e > r.showDone {
				t.Fatalf("not idle after %v: %+v", e, r.c.Screen())
			}
			r.advance(step)
		}
	}
	startTake := func() {
		t.Helper()
		r.badge("BADGE-BEN")
		want(kiosk.Menu)
		r.do(kiosk.ChooseTake{KeySetID: "ks-1"})
		want(kiosk.Reason)
		r.do(kiosk.GiveReason{Reason: "viewing"})
		want(kiosk.Unlocking, kiosk.Message) // Message: the lock, resting, did not open
	}

	// A take left open past the lock's limit, cancelled, and tried again
	// soon after: the second release comes during the rest.
	startTake()
	run(maxOn + time.Second)
	r.do(kiosk.Cancel{})
	toIdle()
	run(time.Second)
	startTake()
	r.do(kiosk.Cancel{})
	toIdle()
	run(maxOn)
	startTake()
	if err := r.takeKey(1, false); err != nil {
		t.Fatal(err)
	}
	want(kiosk.Done)
	run(time.Second)

	// The admin tests the door lock over and over.
	r.badge("BADGE-ANA")
	want(kiosk.EnterPIN)
	r.do(kiosk.PIN{Digits: "2468"})
	want(kiosk.Menu)
	r.do(kiosk.OpenAdmin{})
	want(kiosk.Admin)
	for range 40 {
		r.do(kiosk.PulseLock{Lock: "DOOR_LOCK"})
		run(500 * time.Millisecond)
	}
	r.do(kiosk.Cancel{})
	toIdle()

	// The fire panel holds the emergency input for a minute.
	emergencyFrom := clock.Now()
	r.emergency(true)
	want(kiosk.Emergency)
	run(60 * time.Second)
	r.emergency(false)
	want(kiosk.Idle)
	emergencyTo := clock.Now()
	run(maxOn)

	end := clock.Now()
	for _, name := range outputs {
		iv := trace.intervals(name, end)
		for i, on := range iv {
			if d := on[1].Sub(on[0]); d > maxOn {
				t.Errorf("%s energised for %v from %v, max %v", name, d, on[0].Sub(emergencyFrom), maxOn)
			}
			if i > 0 {
				prev := iv[i-1]
				if rest, need := on[0].Sub(prev[1]), prev[1].Sub(prev[0]); rest < need {
					t.Errorf("%s energised again at %v after a rest of %v, following %v energised", name, on[0].Sub(emergencyFrom), rest, need)
				}
			}
		}
	}
	for _, name := range []string{"DOOR_LOCK", "L1", "L2", "L3"} {
		n := 0
		for _, on := range trace.intervals(name, end) {
			if !on[0].Before(emergencyFrom) && on[0].Before(emergencyTo) {
				n++
			}
		}
		if n < 3 {
			t.Errorf("%s released %d times during a minute's emergency, want it released again after every rest", name, n)
		}
	}
	for _, st := range r.cab.Locks.States() {
		if st.Unlocked {
			t.Errorf("lock %s still released after the emergency", st.Name)
		}
	}
}
