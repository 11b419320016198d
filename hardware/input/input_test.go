package input_test

import (
	"fmt"
	"testing"
	"time"

	"keycab.dev/keycab/hardware/hardwaretest"
	"keycab.dev/keycab/hardware/input"
	"keycab.dev/keycab/hardware/sim"
	"periph.io/x/conn/v3/gpio"
	"periph.io/x/devices/v3/mcp23xxx"
)

const (
	debounce = 30 * time.Millisecond
	step     = 10 * time.Millisecond
)

// MustNextEvent advances clk a step at a time until w reports an event;
// the real-time bound only stops a broken test.
func MustNextEvent(tb testing.TB, w *input.Watcher, clk *hardwaretest.Clock) input.Event {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case ev := <-w.Events():
			return ev
		case <-time.After(time.Millisecond):
			clk.Advance(step)
		}
	}
	tb.Fatal("no input event")
	return input.Event{}
}

func MustOpen(tb testing.TB, cfg input.Config) (*input.Watcher, *hardwaretest.Clock) {
	tb.Helper()
	clk := hardwaretest.NewClock()
	cfg.Clock = clk
	cfg.Debounce = debounce
	cfg.PollInterval = step
	cfg.EdgeTimeout = 50 * time.Millisecond
	_, cfg.Logger = hardwaretest.NewLogs()
	w, err := input.Open(cfg)
	if err != nil {
		tb.Fatalf("open watcher: %v", err)
	}
	tb.Cleanup(func() { w.Close() })
	return w, clk
}

// pinSet is a set of input lines the test can drive, whatever is behind
// them: simulated GPIO pins or MCP23017 expander pins.
type pinSet struct {
	names []string
	set   func(i int, l gpio.Level)
	pins  func(string) gpio.PinIO // nil: gpioreg
}

func simPins(tb testing.TB, n int) pinSet {
	b := sim.NewBoard()
	var names []string
	for i := 0; i < n; i++ {
		names = append(names, b.Add(fmt.Sprintf("IN%d", i)).Name())
	}
	return pinSet{names: names, pins: b.ByName, set: func(i int, l gpio.Level) { b.Pin(names[i]).Set(l) }}
}

func expanderPins(tb testing.TB, n int) pinSet {
	tb.Helper()
	bus := sim.NewMCP23017(0x21)
	dev, err := mcp23xxx.NewI2C(bus, mcp23xxx.MCP23017, 0x21)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { dev.Close() })
	var names []string
	for i := 0; i < n; i++ {
		names = append(names, dev.Pins[i/8][i%8].Name())
	}
	return pinSet{names: names, set: func(i int, l gpio.Level) { bus.SetInput(i/8, i%8, l) }}
}

func configFor(ps pinSet) input.Config {
	cfg := input.Config{Pins: ps.pins}
	for i, n := range ps.names {
		cfg.Inputs = append(cfg.Inputs, input.Input{
			Name: fmt.Sprintf("slot%d", i+1), Kind: input.KeyPresent, Slot: i + 1,
			Pin: n, Pull: gpio.PullUp, ActiveLow: true,
		})
	}
	return cfg
}

// runInputSuite is the conformance suite every kind of input line passes.
func runInputSuite(t *testing.T, mk func(tb testing.TB, n int) pinSet) {
	t.Run("Initial", func(t *testing.T) {
		ps := mk(t, 2)
		ps.set(1, gpio.Low) // key in slot 2
		w, _ := MustOpen(t, configFor(ps))
		st := w.States()
		if st[0].Active || !st[1].Active {
			t.Fatalf("initial states %+v, want slot2 only", st)
		}
	})
	t.Run("ChatterDebounced", func(t *testing.T) {
		ps := mk(t, 2)
		w, clk := MustOpen(t, configFor(ps))
		// 101 level changes with no time passing: a bouncing contact.
		for i := 0; i <= 100; i++ {
			ps.set(0, gpio.Level(i%2 == 1))
		}
		// The contact settled Low (key in). Exactly one event follows.
		ev := MustNextEvent(t, w, clk)
		if ev.Input != "slot1" || !ev.Active || ev.Slot != 1 || ev.Kind != input.KeyPresent {
			t.Fatalf("event %v, want slot1 active", ev)
		}
		// Sentinel: anything chatter left behind would come before it.
		ps.set(1, gpio.Low)
		ev = MustNextEvent(t, w, clk)
		if ev.Input != "slot2" || ev.Seq != 2 {
			t.Fatalf("event %v (seq %d), want slot2 as the second event", ev, ev.Seq)
		}
	})
	t.Run("ShortGlitchIgnored", func(t *testing.T) {
		ps := mk(t, 2)
		w, clk := MustOpen(t, configFor(ps))
		ps.set(0, gpio.Low)
		clk.Advance(debounce / 3)
		ps.set(0, gpio.High)
		ps.set(1, gpio.Low)
		ev := MustNextEvent(t, w, clk)
		if ev.Input != "slot2" || ev.Seq != 1 {
			t.Fatalf("event %v, want only slot2", ev)
		}
	})
	t.Run("BurstNotLost", func(t *testing.T) {
		const n, rounds = 16, 5
		ps := mk(t, n)
		w, clk := MustOpen(t, configFor(ps))
		var lastSeq uint64
		for r := 0; r < rounds; r++ {
			lvl := gpio.Level(r%2 == 1) // Low first: every key goes in
			for i := 0; i < n; i++ {
				ps.set(i, lvl)
			}
			got := map[string]bool{}
			for len(got) < n {
				ev := MustNextEvent(t, w, clk)
				if ev.Seq != lastSeq+1 {
					t.Fatalf("seq %d after %d", ev.Seq, lastSeq)
				}
				lastSeq = ev.Seq
				if ev.Active != !bool(lvl) || got[ev.Input] {
					t.Fatalf("round %d: unexpected %v", r, ev)
				}
				got[ev.Input] = true
			}
		}
		if lastSeq != n*rounds {
			t.Fatalf("%d events, want %d", lastSeq, n*rounds)
		}
	})
	t.Run("MonotonicTimestamps", func(t *testing.T) {
		ps := mk(t, 1)
		w, clk := MustOpen(t, configFor(ps))
		var prev time.Duration = -1
		for i := 0; i < 4; i++ {
			ps.set(0, gpio.Level(i%2 == 1))
			ev := MustNextEvent(t, w, clk)
			if ev.Mono <= prev || ev.Mono < debounce {
				t.Fatalf("event %d at %v after %v", i, ev.Mono, prev)
			}
			prev = ev.Mono
		}
	})
}

func TestSimulatedPins(t *testing.T) { runInputSuite(t, simPins) }

func TestExpanderPins(t *testing.T) { runInputSuite(t, expanderPins) }

func TestKinds(t *testing.T) {
	b := sim.NewBoard("DOOR", "TAMPER", "FIRE")
	w, clk := MustOpen(t, input.Config{Pins: b.ByName, Inputs: []input.Input{
		{Name: "door", Kind: input.Door, Pin: "DOOR", Pull: gpio.PullDown},
		{Name: "tamper", Kind: input.Tamper, Pin: "TAMPER", Pull: gpio.PullDown},
		{Name: "emergency", Kind: input.Emergency, Pin: "FIRE", Pull: gpio.PullUp, ActiveLow: true},
	}})
	b.Pin("DOOR").Set(gpio.High)
	if ev := MustNextEvent(t, w, clk); ev.Kind != input.Door || !ev.Active {
		t.Fatalf("got %v", ev)
	}
	b.Pin("FIRE").Set(gpio.Low)
	if ev := MustNextEvent(t, w, clk); ev.Kind != input.Emergency || !ev.Active {
		t.Fatalf("got %v", ev)
	}
	b.Pin("TAMPER").Set(gpio.High)
	if ev := MustNextEvent(t, w, clk); ev.Kind != input.Tamper || !ev.Active {
		t.Fatalf("got %v", ev)
	}
}

func TestMissingPin(t *testing.T) {
	b := sim.NewBoard()
	_, err := input.Open(input.Config{Pins: b.ByName, Inputs: []input.Input{{Name: "door", Kind: input.Door, Pin: "NOPE"}}})
	if err == nil {
		t.Fatal("open with missing pin succeeded")
	}
}
