package lock_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"keycab.dev/keycab/hardware/hardwaretest"
	"keycab.dev/keycab/hardware/lock"
	"keycab.dev/keycab/hardware/sim"
	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpioreg"
)

var testLocks = []lock.Lock{
	{Name: "slot1", Pin: "LOCKTEST_SLOT1", Mode: lock.Pulse, Pulse: 2 * time.Second, MaxOn: 5 * time.Second},
	{Name: "slot2", Pin: "LOCKTEST_SLOT2", ActiveLow: true, Mode: lock.Hold, MaxOn: 8 * time.Second},
	{Name: "door", Pin: "LOCKTEST_DOOR", FailSafe: true, Mode: lock.Hold, MaxOn: 30 * time.Second},
	{Name: "door2", Pin: "LOCKTEST_DOOR2", FailSafe: true, ActiveLow: true, Mode: lock.Pulse, MaxOn: 3 * time.Second},
}

type rig struct {
	board *sim.Board
	clock *hardwaretest.Clock
	logs  *hardwaretest.Logs
	bank  *lock.Bank
}

func MustRig(tb testing.TB, cfg lock.Config) *rig {
	tb.Helper()
	r := &rig{board: sim.NewBoard(), clock: hardwaretest.NewClock()}
	for _, l := range cfg.Locks {
		p := r.board.Add(l.Pin)
		// Power-on garbage: every output starts released.
		p.Set(!lock.SecureLevel(l))
	}
	r.logs, cfg.Logger = hardwaretest.NewLogs()
	cfg.Clock = r.clock
	cfg.Pins = r.board.ByName
	b, err := lock.Open(cfg)
	if err != nil {
		tb.Fatalf("open bank: %v", err)
	}
	r.bank = b
	return r
}

func (r *rig) MustSecure(tb testing.TB, l lock.Lock) {
	tb.Helper()
	p := r.board.Pin(l.Pin)
	if !p.IsOutput() || p.Level() != lock.SecureLevel(l) {
		tb.Fatalf("lock %s: pin %s at %v (output %v), want secure level %v", l.Name, l.Pin, p.Level(), p.IsOutput(), lock.SecureLevel(l))
	}
}

func (r *rig) MustReleased(tb testing.TB, l lock.Lock) {
	tb.Helper()
	p := r.board.Pin(l.Pin)
	if p.Level() == lock.SecureLevel(l) {
		tb.Fatalf("lock %s: pin %s secure, want released", l.Name, l.Pin)
	}
}

func TestStartSecuresEverything(t *testing.T) {
	r := MustRig(t, lock.Config{Locks: testLocks})
	for _, l := range testLocks {
		r.MustSecure(t, l)
		if w := r.board.Pin(l.Pin).Writes(); len(w) != 1 {
			t.Errorf("lock %s: %d writes at start, want exactly one (the secure level)", l.Name, len(w))
		}
	}
}

func TestLevels(t *testing.T) {
	for _, tc := range []struct {
		l    lock.Lock
		want gpio.Level
	}{
		{lock.Lock{}, gpio.Low},                                // fail-secure active-high: de-energised = Low
		{lock.Lock{ActiveLow: true}, gpio.High},                // fail-secure active-low
		{lock.Lock{FailSafe: true}, gpio.High},                 // maglock energised to lock
		{lock.Lock{FailSafe: true, ActiveLow: true}, gpio.Low}, // maglock, active-low
	} {
		if got := lock.SecureLevel(tc.l); got != tc.want {
			t.Errorf("SecureLevel(%+v) = %v, want %v", tc.l, got, tc.want)
		}
	}
}

func TestNeverReleasedPastLimit(t *testing.T) {
	r := MustRig(t, lock.Config{Locks: testLocks})
	// The caller asks for far more than the limit and keeps re-asking,
	// and never calls Lock.
	for _, l := range testLocks {
		if err := r.bank.Unlock(l.Name, time.Hour); err != nil {
			t.Fatalf("unlock %s: %v", l.Name, err)
		}
		r.MustReleased(t, l)
	}
	const step = 500 * time.Millisecond
	elapsed := time.Duration(0)
	for elapsed < 40*time.Second {
		r.clock.Advance(step)
		elapsed += step
		for _, l := range testLocks {
			released := r.board.Pin(l.Pin).Level() != lock.SecureLevel(l)
			if released && elapsed >= l.MaxOn {
				t.Fatalf("lock %s still released after %v, limit %v", l.Name, elapsed, l.MaxOn)
			}
			if released {
				// A caller hammering Unlock must not extend the period.
				if err := r.bank.Unlock(l.Name, time.Hour); err != nil {
					t.Fatalf("re-unlock %s: %v", l.Name, err)
				}
			}
		}
	}
}

func TestPulseEndsByItself(t *testing.T) {
	r := MustRig(t, lock.Config{Locks: testLocks})
	l := testLocks[0]
	if err := r.bank.Unlock(l.Name, 0); err != nil {
		t.Fatal(err)
	}
	r.clock.Advance(l.Pulse - time.Millisecond)
	r.MustReleased(t, l)
	r.clock.Advance(time.Millisecond)
	r.MustSecure(t, l)
	if got := r.bank.States()[0]; got.Unlocked {
		t.Fatalf("state after pulse: %+v", got)
	}
}

func TestLockBeforeExpiry(t *testing.T) {
	r := MustRig(t, lock.Config{Locks: testLocks})
	l := testLocks[1]
	if err := r.bank.Unlock(l.Name, 0); err != nil {
		t.Fatal(err)
	}
	if err := r.bank.Lock(l.Name); err != nil {
		t.Fatal(err)
	}
	r.MustSecure(t, l)
	if n := r.clock.Pending(); n != 0 {
		t.Fatalf("%d timers pending after Lock", n)
	}
}

func TestHaltSecuresAll(t *testing.T) {
	r := MustRig(t, lock.Config{Locks: testLocks})
	for _, l := range testLocks {
		if err := r.bank.Unlock(l.Name, 0); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.bank.Halt(); err != nil {
		t.Fatal(err)
	}
	for _, l := range testLocks {
		r.MustSecure(t, l)
	}
	if err := r.bank.Unlock("slot1", 0); !errors.Is(err, lock.ErrHalted) {
		t.Fatalf("unlock after halt: %v, want ErrHalted", err)
	}
}

func TestHaltTriesEveryOutput(t *testing.T) {
	r := MustRig(t, lock.Config{Locks: testLocks})
	for _, l := range testLocks {
		if err := r.bank.Unlock(l.Name, 0); err != nil {
			t.Fatal(err)
		}
	}
	broken := errors.New("i2c nack")
	r.board.Pin(testLocks[0].Pin).FailWrites(broken)
	err := r.bank.Halt()
	if !errors.Is(err, broken) || !strings.Contains(err.Error(), "slot1") {
		t.Fatalf("halt: %v, want the slot1 write failure", err)
	}
	for _, l := range testLocks[1:] {
		r.MustSecure(t, l)
	}
}

func TestFailingWriteReported(t *testing.T) {
	r := MustRig(t, lock.Config{Locks: testLocks})
	l := testLocks[0]
	broken := errors.New("line busy")
	r.board.Pin(l.Pin).FailWrites(broken)
	err := r.bank.Unlock(l.Name, 0)
	if !errors.Is(err, broken) {
		t.Fatalf("unlock on broken pin: %v, want %v", err, broken)
	}
	if s := r.bank.States()[0]; s.Fault == nil {
		t.Fatalf("state after failed write has no fault: %+v", s)
	}
}

func TestFailingRelockRetriedAndReported(t *testing.T) {
	faults := make(chan error, 100)
	r := MustRig(t, lock.Config{Locks: testLocks, Retry: time.Second, OnFault: func(err error) { faults <- err }})
	l := testLocks[0]
	if err := r.bank.Unlock(l.Name, 0); err != nil {
		t.Fatal(err)
	}
	broken := errors.New("brown-out")
	p := r.board.Pin(l.Pin)
	p.FailWrites(broken)
	r.clock.Advance(l.Pulse)
	select {
	case err := <-faults:
		if !errors.Is(err, broken) {
			t.Fatalf("fault %v, want %v", err, broken)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no fault reported for failing re-lock")
	}
	if r.logs.Count("re-lock failed", "slot1") == 0 {
		t.Fatalf("re-lock failure not logged: %q", r.logs.Records())
	}
	p.FailWrites(nil)
	r.clock.Advance(time.Second)
	r.MustSecure(t, l)
}

func TestMissingPinReportedOthersSecured(t *testing.T) {
	board := sim.NewBoard("LOCKTEST_SLOT1")
	board.Pin("LOCKTEST_SLOT1").Set(gpio.High)
	_, log := hardwaretest.NewLogs()
	bank, err := lock.Open(lock.Config{Locks: testLocks, Pins: board.ByName, Clock: hardwaretest.NewClock(), Logger: log})
	if err == nil || !strings.Contains(err.Error(), "LOCKTEST_DOOR") {
		t.Fatalf("open with missing pins: %v", err)
	}
	if bank == nil {
		t.Fatal("bank nil for missing pins; want degraded bank")
	}
	if board.Pin("LOCKTEST_SLOT1").Level() != gpio.Low {
		t.Fatal("present pin not secured")
	}
	if err := bank.Unlock("door", 0); err == nil {
		t.Fatal("unlock of lock without a pin succeeded")
	}
}

func TestThroughGPIORegistry(t *testing.T) {
	board := sim.NewBoard("LOCKTEST_REG_A")
	board.Pin("LOCKTEST_REG_A").Set(gpio.High)
	unregister, err := board.Register()
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := unregister(); err != nil {
			t.Error(err)
		}
	}()
	if err := gpioreg.RegisterAlias("LOCKTEST_ALIAS", "LOCKTEST_REG_A"); err != nil {
		t.Fatal(err)
	}
	defer gpioreg.Unregister("LOCKTEST_ALIAS")
	clk := hardwaretest.NewClock()
	bank, err := lock.Open(lock.Config{Locks: []lock.Lock{{Name: "a", Pin: "LOCKTEST_ALIAS"}}, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	if board.Pin("LOCKTEST_REG_A").Level() != gpio.Low {
		t.Fatal("registry pin not secured at open")
	}
	if err := bank.Unlock("a", 0); err != nil {
		t.Fatal(err)
	}
	if board.Pin("LOCKTEST_REG_A").Level() != gpio.High {
		t.Fatal("registry pin not released")
	}
	clk.Advance(time.Second)
	if board.Pin("LOCKTEST_REG_A").Level() != gpio.Low {
		t.Fatal("registry pin not secured after pulse")
	}
}

func TestUnknownLock(t *testing.T) {
	r := MustRig(t, lock.Config{Locks: testLocks})
	if err := r.bank.Unlock("nope", 0); !errors.Is(err, lock.ErrUnknownLock) {
		t.Fatalf("got %v", err)
	}
}

// TestRestAfterRelease: a fail-secure output refuses to be energised
// again until it has rested as long as its last release, in proportion to
// Rest; a fail-safe one (de-energised to release) needs no rest.
func TestRestAfterRelease(t *testing.T) {
	r := MustRig(t, lock.Config{Locks: testLocks})
	l := testLocks[1] // fail-secure, hold, MaxOn 8s, Rest 8s
	if err := r.bank.Unlock(l.Name, 0); err != nil {
		t.Fatal(err)
	}
	r.clock.Advance(4 * time.Second)
	if err := r.bank.Lock(l.Name); err != nil {
		t.Fatal(err)
	}
	r.clock.Advance(4*time.Second - time.Millisecond)
	if err := r.bank.Unlock(l.Name, 0); !errors.Is(err, lock.ErrResting) {
		t.Fatalf("unlock during the rest: %v, want ErrResting", err)
	}
	r.MustSecure(t, l)
	r.clock.Advance(time.Millisecond)
	if err := r.bank.Unlock(l.Name, 0); err != nil {
		t.Fatalf("unlock after the rest: %v", err)
	}
	door := testLocks[2] // fail-safe
	for range 3 {
		if err := r.bank.Unlock(door.Name, time.Second); err != nil {
			t.Fatalf("fail-safe unlock again: %v", err)
		}
		r.clock.Advance(time.Second)
	}
}

// TestEmergency: a fail-safe lock stays de-energised for the whole
// emergency; a fail-secure one is energised for MaxOn, rested, and
// energised again; Lock ends both.
func TestEmergency(t *testing.T) {
	r := MustRig(t, lock.Config{Locks: testLocks})
	safe, secure := testLocks[2], testLocks[1]
	for _, l := range []lock.Lock{safe, secure} {
		if err := r.bank.Emergency(l.Name); err != nil {
			t.Fatal(err)
		}
	}
	const step = 500 * time.Millisecond
	var on, off time.Duration
	for elapsed := time.Duration(0); elapsed < 5*time.Minute; elapsed += step {
		r.MustReleased(t, safe)
		if r.board.Pin(secure.Pin).Level() != lock.SecureLevel(secure) {
			on += step
			if on > secure.MaxOn {
				t.Fatalf("fail-secure lock energised for %v in an emergency, max %v", on, secure.MaxOn)
			}
			if off > 0 && off < secure.MaxOn {
				t.Fatalf("fail-secure lock energised again after a rest of %v", off)
			}
			off = 0
		} else {
			if on > 0 && off == 0 && elapsed > 0 {
				on = 0
			}
			off += step
		}
		r.clock.Advance(step)
	}
	for _, l := range []lock.Lock{safe, secure} {
		if err := r.bank.Lock(l.Name); err != nil {
			t.Fatal(err)
		}
	}
	r.clock.Advance(time.Minute)
	r.MustSecure(t, safe)
	r.MustSecure(t, secure)
}
