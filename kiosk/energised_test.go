package kiosk_test

import (
	"sync"
	"testing"
	"time"

	"periph.io/x/conn/v3/gpio"

	"keycab.dev/keycab/hardware/hardwaretest"
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
	clock := hardwaretest.NewClock()
	r := newRigWith(t, testConfig(t), simulator.Options{Clock: clock}, func(kc *kiosk.Config) { kc.Clock = clock })
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
	// run moves the clock on by d in steps, letting the controller keep up
	// (a bounded pause, not a timing assertion).
	run := func(d time.Duration) {
		for e := time.Duration(0); e < d; e += step {
			clock.Advance(step)
			time.Sleep(time.Millisecond)
		}
	}
	until := func(what string, cond func() bool) {
		t.Helper()
		hardwaretest.Eventually(t, 4*wait, what, func() bool {
			clock.Advance(step)
			return cond()
		})
	}
	state := func(s kiosk.State) func() bool { return func() bool { return r.c.Screen().State == s } }
	startTake := func() {
		r.cab.Badge("BADGE-BEN")
		until("menu", state(kiosk.Menu))
		r.c.Do(kiosk.ChooseTake{KeySetID: "ks-1"})
		until("reason", state(kiosk.Reason))
		r.c.Do(kiosk.GiveReason{Reason: "viewing"})
		until("unlocking or refused", func() bool { s := r.c.Screen().State; return s == kiosk.Unlocking || s == kiosk.Message })
	}

	// A take left open past the lock's limit, cancelled, and tried again
	// at once: the second release comes during the rest.
	startTake()
	run(maxOn + time.Second)
	r.c.Do(kiosk.Cancel{})
	until("idle", state(kiosk.Idle))
	run(time.Second)
	startTake()
	r.c.Do(kiosk.Cancel{})
	until("idle", state(kiosk.Idle))
	run(maxOn)
	startTake()
	if err := r.cab.TakeKey(1, false); err != nil {
		t.Fatal(err)
	}
	until("done", state(kiosk.Done))
	run(time.Second)

	// The admin tests the door lock over and over.
	r.cab.Badge("BADGE-ANA")
	until("pin", state(kiosk.EnterPIN))
	r.c.Do(kiosk.PIN{Digits: "2468"})
	until("menu", state(kiosk.Menu))
	r.c.Do(kiosk.OpenAdmin{})
	until("admin", state(kiosk.Admin))
	for range 40 {
		r.c.Do(kiosk.PulseLock{Lock: "DOOR_LOCK"})
		run(500 * time.Millisecond)
	}
	r.c.Do(kiosk.Cancel{})
	until("idle", state(kiosk.Idle))

	// The fire panel holds the emergency input for a minute.
	emergencyFrom := clock.Now()
	if err := r.cab.Emergency(true); err != nil {
		t.Fatal(err)
	}
	until("emergency", state(kiosk.Emergency))
	run(60 * time.Second)
	if err := r.cab.Emergency(false); err != nil {
		t.Fatal(err)
	}
	until("idle after the emergency", state(kiosk.Idle))
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
