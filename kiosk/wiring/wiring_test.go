package wiring_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"periph.io/x/conn/v3/gpio"

	"keycab.dev/keycab/hardware/input"
	"keycab.dev/keycab/hardware/lock"
	"keycab.dev/keycab/hardware/sim"
	"keycab.dev/keycab/kiosk/wiring"
)

func TestExampleFile(t *testing.T) {
	w, err := wiring.Load("testdata/kiosk.conf")
	if err != nil {
		t.Fatal(err)
	}
	if w.DataDir != "/var/lib/keycab" || w.HQ != "https://hq.example.com" || w.Buzzer != "buzzer" {
		t.Fatalf("kiosk section %+v", w)
	}
	if len(w.Locks) != 4 || w.Locks[0] != (lock.Lock{Name: "door", Pin: "GPIO17", Mode: lock.Hold, MaxOn: 10 * time.Second}) || w.Locks[3].Mode != lock.Pulse || w.Locks[3].Pulse != 2*time.Second {
		t.Fatalf("locks %+v", w.Locks)
	}
	if len(w.Inputs) != 5 || w.Inputs[1] != (input.Input{Name: "slot1", Kind: input.KeyPresent, Slot: 1, Pin: "MCP23017_20_PORTB_0", Pull: gpio.PullUp, ActiveLow: true, Poll: true}) || w.Inputs[4].Kind != input.Emergency {
		t.Fatalf("inputs %+v", w.Inputs)
	}
	if len(w.Expanders) != 1 || w.Expanders[0].Address != 0x20 || w.Expanders[0].Bus != "1" {
		t.Fatalf("expanders %+v", w.Expanders)
	}
	if len(w.Readers) != 1 || w.Readers[0].Type != "rdm6300" || w.Readers[0].Port != "/dev/ttyAMA0" || w.Camera.Type != "rpicam" || w.Camera.FPS != 15 {
		t.Fatalf("readers %+v camera %+v", w.Readers, w.Camera)
	}
}

func TestErrorsNameTheLine(t *testing.T) {
	for _, tc := range []struct{ file, want string }{
		{"pin = GPIO1\n", "t.conf:1: \"pin = GPIO1\" comes before any [section]"},
		{"[lock door]\npin = GPIO1\n\n[lock door]\n", "t.conf:4: [lock door] repeats the section of line 1"},
		{"[lock door]\npinn = GPIO1\n", "t.conf:2: [lock door] unknown key \"pinn\""},
		{"[lock door]\npin = GPIO1\nmax_on = forever\n", "t.conf:3: [lock door] max_on = \"forever\" is not a positive duration"},
		{"[lock door]\npin = GPIO1\npin = GPIO2\n", "t.conf:3: pin is set twice"},
		{"[lock]\n", "t.conf:1: [lock] needs a name"},
		{"[gadget x]\n", "t.conf:1: unknown section kind \"gadget\""},
		{"[input s]\nkind = key\npin = X\n", "t.conf: line 1: [input s] is a key sensor without a slot"},
		{"[input a]\nkind = key\nslot = 1\npin = X\n[input b]\nkind = key\nslot = 1\npin = Y\n", "line 5: [input b] senses slot 1, as [input a] does"},
		{"[input a]\nkind = latch\n", "t.conf:2: [input a] kind \"latch\""},
		{"[lock a]\n", "t.conf: line 1: [lock a] has no pin"},
		{"[reader w]\ntype = wiegand\nd0 = A\n", "[reader w] needs d0 and d1 pins"},
		{"[buzzer]\nlock = horn\n", "[buzzer] names lock \"horn\", which no [lock] section defines"},
		{"[camera]\ntype = rpicam\nwidth = 600\n", "rpicam width 600 must be a multiple of 64"},
		{"[expander e]\naddress = 0x200\n", "t.conf:2: [expander e] address \"0x200\" is not a 7-bit"},
		{"[lock door\n", "t.conf:1: section header \"[lock door\" lacks its closing ]"},
	} {
		_, err := wiring.Parse(strings.NewReader(tc.file), "t.conf")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Parse(%q) = %v, want an error containing %q", tc.file, err, tc.want)
		}
	}
}

// TestOpenOnSimulatedPins builds the hardware of a wiring file whose pins
// are simulated, through the same Open the Pi uses: the locks are secured
// first, the inputs report changes.
func TestOpenOnSimulatedPins(t *testing.T) {
	const conf = `
[lock door]
pin = SIMW_DOOR_LOCK
[lock slot1]
pin = SIMW_SLOT1_LOCK
[input door]
kind = door
pin = SIMW_DOOR
[input slot1]
kind = key
slot = 1
pin = SIMW_SLOT1
[reader rfid]
type = rdm6300
port = /dev/null-reader
`
	w, err := wiring.Parse(strings.NewReader(conf), "sim.conf")
	if err != nil {
		t.Fatal(err)
	}
	board := sim.NewBoard("SIMW_DOOR_LOCK", "SIMW_SLOT1_LOCK", "SIMW_DOOR", "SIMW_SLOT1")
	board.Pin("SIMW_DOOR_LOCK").Out(gpio.High) // released, as a crash might leave it
	h, err := w.Open(wiring.Options{Init: func() error { return nil }, Pins: board.ByName})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if board.Pin("SIMW_DOOR_LOCK").Level() != gpio.Low || board.Pin("SIMW_SLOT1_LOCK").Level() != gpio.Low {
		t.Fatal("locks not secured by Open")
	}
	if len(h.Scanners) != 1 {
		t.Fatalf("%d scanners", len(h.Scanners))
	}
	board.Pin("SIMW_DOOR").Set(gpio.High)
	select {
	case ev := <-h.Inputs.Events():
		if ev.Kind != input.Door || !ev.Active {
			t.Fatalf("event %+v", ev)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no door event")
	}
	// A line missing from the board, a lock's or an input's: Open fails
	// and says which (there is no fallback to a simulated pin), and the
	// locks it found are secure.
	h.Close()
	lockPin := w.Locks[1].Pin
	w.Locks[1].Pin = "NO_SUCH_PIN"
	board.Pin("SIMW_DOOR_LOCK").Out(gpio.High)
	if _, err := w.Open(wiring.Options{Init: func() error { return nil }, Pins: board.ByName}); err == nil || !strings.Contains(err.Error(), "lock slot1: pin NO_SUCH_PIN not found") {
		t.Fatalf("missing lock pin: %v", err)
	}
	if board.Pin("SIMW_DOOR_LOCK").Level() != gpio.Low {
		t.Fatal("the door lock is not secured when another lock's pin is missing")
	}
	w.Locks[1].Pin = lockPin
	w.Inputs[1].Pin = "NO_SUCH_SENSOR"
	if _, err := w.Open(wiring.Options{Init: func() error { return nil }, Pins: board.ByName}); err == nil || !strings.Contains(err.Error(), "input slot1: pin NO_SUCH_SENSOR not found") {
		t.Fatalf("missing input pin: %v", err)
	}
	if _, err := w.Open(wiring.Options{Init: func() error { return errors.New("no GPIO here") }}); err == nil || !strings.Contains(err.Error(), "no GPIO here") {
		t.Fatalf("failing host init: %v", err)
	}
}
