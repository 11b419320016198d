// Package simulator is a whole simulated key cabinet: simulated pins for
// every lock and sensor of a cabinet config, driven by the real lock bank
// and input watcher, an in-memory badge reader, and hands to open the door,
// take a key out of a slot or put one in, present a badge, show a QR code,
// or trip the tamper and emergency inputs. The kiosk's tests and its --sim
// mode run the real controller on it.
package simulator

import (
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"periph.io/x/conn/v3/gpio"

	"keycab.dev/keycab"
	"keycab.dev/keycab/hardware"
	"keycab.dev/keycab/hardware/camera"
	"keycab.dev/keycab/hardware/input"
	"keycab.dev/keycab/hardware/lock"
	"keycab.dev/keycab/hardware/sim"
	"keycab.dev/keycab/kiosk"
)

// Pin names of the cabinet-wide lines.
const (
	TamperPin    = "SIM_TAMPER"
	EmergencyPin = "SIM_EMERGENCY"
	BuzzerPin    = "SIM_BUZZER"
	// Buzzer is the lock-bank output name of the buzzer.
	Buzzer = "buzzer"
)

// Cabinet is a simulated cabinet.
type Cabinet struct {
	Board  *sim.Board
	Locks  *lock.Bank
	Inputs *input.Watcher
	Badges *sim.Badges
	// Camera is the simulated camera when Options.Camera asked for one:
	// codes shown to it reach the controller through real frames and the
	// real QR decoder.
	Camera *sim.Camera
	cab    keycab.Cabinet
	slots  map[int]keycab.Slot
	clock  hardware.Clock
	mu     sync.Mutex
	clear  hardware.Timer
}

// Options tune the simulation.
type Options struct {
	// Clock runs the locks' timers and how long a QR code stays shown;
	// nil means hardware.SystemClock.
	Clock hardware.Clock
	// InputClock times the input watcher's debouncing and polling; nil
	// means Clock. A test that moves Clock by hand can give the inputs
	// the system clock, so that a hand on the cabinet is seen without
	// moving Clock (and the controller's timers with it).
	InputClock hardware.Clock
	Logger     *slog.Logger
	// MaxOn caps every lock's release; default 10s.
	MaxOn time.Duration
	// Rest is every lock's rest after a release (lock.Lock.Rest): 0 for
	// the driver's default, negative for none.
	Rest time.Duration
	// Out are the key sets custody says are out now (store.DB.KeysOut):
	// their slots start empty, so that a restarted simulator shows the
	// cabinet custody and HQ describe rather than every slot full.
	Out []keycab.Checkout
	// Camera adds a simulated camera running at 10 frames a second; without
	// it ShowQR hands the code to the controller as a decoded scan.
	Camera bool
}

// New builds the simulated hardware for a cabinet and its slots: every
// slot starts with its key present but the slots of o.Out, the door
// closed, and every lock secure.
func New(cab keycab.Cabinet, slots []keycab.Slot, o Options) (*Cabinet, error) {
	if o.MaxOn <= 0 {
		o.MaxOn = 10 * time.Second
	}
	if o.Clock == nil {
		o.Clock = hardware.SystemClock{}
	}
	if o.InputClock == nil {
		o.InputClock = o.Clock
	}
	c := &Cabinet{Board: sim.NewBoard(), Badges: sim.NewBadges(), cab: cab, slots: map[int]keycab.Slot{}, clock: o.Clock}
	if o.Camera {
		c.Camera = sim.NewCamera()
		c.Camera.Interval = 100 * time.Millisecond
	}
	var locks []lock.Lock
	var inputs []input.Input
	addLock := func(name string) {
		c.Board.Add(name)
		locks = append(locks, lock.Lock{Name: name, Pin: name, Mode: lock.Hold, MaxOn: o.MaxOn, Rest: o.Rest})
	}
	if cab.DoorLock != "" {
		addLock(cab.DoorLock)
	}
	if cab.DoorSensor != "" {
		c.Board.Add(cab.DoorSensor)
		inputs = append(inputs, input.Input{Name: "door", Kind: input.Door, Pin: cab.DoorSensor})
	}
	out := map[int]bool{}
	for _, k := range o.Out {
		out[k.Slot] = k.Slot > 0
	}
	for _, s := range slots {
		c.slots[s.Number] = s
		if s.Lock != "" {
			addLock(s.Lock)
		}
		if s.Sensor != "" {
			level := gpio.High // the key is home
			if out[s.Number] {
				level = gpio.Low
			}
			c.Board.Add(s.Sensor).Set(level)
			inputs = append(inputs, input.Input{Name: fmt.Sprintf("slot%d", s.Number), Kind: input.KeyPresent, Slot: s.Number, Pin: s.Sensor})
		}
	}
	c.Board.Add(TamperPin)
	c.Board.Add(EmergencyPin)
	inputs = append(inputs,
		input.Input{Name: "tamper", Kind: input.Tamper, Pin: TamperPin},
		input.Input{Name: "emergency", Kind: input.Emergency, Pin: EmergencyPin})
	c.Board.Add(BuzzerPin)
	locks = append(locks, lock.Lock{Name: Buzzer, Pin: BuzzerPin, Mode: lock.Hold, MaxOn: o.MaxOn, Rest: -1}) // a buzzer does not heat

	var err error
	c.Locks, err = lock.Open(lock.Config{Locks: locks, Pins: c.Board.ByName, Clock: o.Clock, Logger: o.Logger})
	if err != nil {
		return nil, fmt.Errorf("simulated locks: %w", err)
	}
	c.Inputs, err = input.Open(input.Config{Inputs: inputs, Pins: c.Board.ByName, Clock: o.InputClock, Logger: o.Logger,
		Debounce: 5 * time.Millisecond, PollInterval: 2 * time.Millisecond})
	if err != nil {
		return nil, fmt.Errorf("simulated inputs: %w", err)
	}
	return c, nil
}

// Close stops the input watcher and secures the locks.
func (c *Cabinet) Close() error {
	c.Badges.Close()
	c.Locks.Halt()
	return c.Inputs.Close()
}

func (c *Cabinet) set(pin string, active bool) error {
	p := c.Board.Pin(pin)
	if p == nil {
		return fmt.Errorf("simulated cabinet has no pin %s", pin)
	}
	l := gpio.Low
	if active {
		l = gpio.High
	}
	p.Set(l)
	return nil
}

// Door opens (true) or closes the door. Like a real door, it opens even
// when locked: that is what the door-forced alarm is for.
func (c *Cabinet) Door(open bool) error { return c.set(c.cab.DoorSensor, open) }

// TakeKey takes the key out of slot n. A latched slot cannot be emptied
// while its lock is secure: it returns an error then, as a real slot would
// refuse, unless force is set (someone yanking the fob).
func (c *Cabinet) TakeKey(n int, force bool) error {
	s, ok := c.slots[n]
	if !ok {
		return fmt.Errorf("no slot %d", n)
	}
	if s.Lock != "" && !force && !c.Released(s.Lock) {
		return fmt.Errorf("slot %d is locked", n)
	}
	return c.set(s.Sensor, false)
}

// PutKey puts a key into slot n.
func (c *Cabinet) PutKey(n int) error {
	s, ok := c.slots[n]
	if !ok {
		return fmt.Errorf("no slot %d", n)
	}
	return c.set(s.Sensor, true)
}

// KeyIn reports whether slot n's key-present sensor is active (false for
// a slot without a sensor).
func (c *Cabinet) KeyIn(n int) bool {
	s, ok := c.slots[n]
	if !ok || s.Sensor == "" {
		return false
	}
	p := c.Board.Pin(s.Sensor)
	return p != nil && p.Level() == gpio.High
}

// Slots returns the cabinet's slots in number order.
func (c *Cabinet) Slots() []keycab.Slot {
	out := make([]keycab.Slot, 0, len(c.slots))
	for _, s := range c.slots {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Number < out[j].Number })
	return out
}

// DoorOpen reports whether the door sensor reads open.
func (c *Cabinet) DoorOpen() bool {
	p := c.Board.Pin(c.cab.DoorSensor)
	return p != nil && p.Level() == gpio.High
}

// Released reports whether the named lock's output is energised (released,
// for the fail-secure, active-high locks the simulator builds).
func (c *Cabinet) Released(name string) bool {
	for _, st := range c.Locks.States() {
		if st.Name == name {
			return st.Unlocked
		}
	}
	return false
}

// PinHigh reports the level a lock output drives, as a meter on the wire
// would read it.
func (c *Cabinet) PinHigh(name string) bool {
	p := c.Board.Pin(name)
	return p != nil && p.Level() == gpio.High
}

// Badge presents a badge code to the reader.
func (c *Cabinet) Badge(code string) { c.Badges.Present(code, "sim") }

// ShowQR shows a QR code to the camera. With a simulated camera the code
// is drawn into its frames for a second of Options.Clock, as a person
// holds a fob up, and the real decoder reads it; without one the code
// arrives as a decoded scan at once.
func (c *Cabinet) ShowQR(text string) {
	if c.Camera == nil {
		c.Badges.Present(text, "qr")
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.clear != nil {
		c.clear.Stop()
	}
	c.Camera.Show(text)
	c.clear = c.clock.AfterFunc(time.Second, func() { c.Camera.Show() })
}

// Scanners returns the cabinet's code sources for the controller: the
// badge reader, and the camera's QR scanner when there is a camera.
func (c *Cabinet) Scanners() []kiosk.Scanner {
	out := []kiosk.Scanner{c.Badges}
	if c.Camera != nil {
		out = append(out, kiosk.NewQRScanner(camera.NewSource(camera.SourceConfig{Open: c.Camera.Open})))
	}
	return out
}

// Tamper sets the tamper input.
func (c *Cabinet) Tamper(on bool) error { return c.set(TamperPin, on) }

// Emergency sets the fire panel's emergency input.
func (c *Cabinet) Emergency(on bool) error { return c.set(EmergencyPin, on) }
