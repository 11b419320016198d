package sim

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpioreg"
	"periph.io/x/conn/v3/physic"
	"periph.io/x/conn/v3/pin"
)

// Pin is a simulated GPIO line implementing gpio.PinIO. The program under
// test drives it through the periph interfaces; the test (or the simulator
// panel) drives the outside world through Set, and watches outputs through
// Level and Writes.
//
// Unlike a real line, edges never merge: every edge that matches the edge
// detection set by In is queued and consumed by exactly one WaitForEdge, so
// tests of edge-driven code are deterministic.
type Pin struct {
	name string
	num  int

	mu       sync.Mutex
	out      bool
	level    gpio.Level // what Read returns, or the driven output
	outside  *gpio.Level
	pull     gpio.Pull
	edge     gpio.Edge
	edges    int
	waiters  int
	changed  chan struct{}
	writes   []gpio.Level
	writeErr error
	watch    func(gpio.Level)
}

// NewPin returns an unregistered simulated pin called name, configured as a
// floating input reading Low.
func NewPin(name string, num int) *Pin {
	return &Pin{name: name, num: num, changed: make(chan struct{})}
}

func (p *Pin) notifyLocked() {
	close(p.changed)
	p.changed = make(chan struct{})
}

// String implements conn.Resource.
func (p *Pin) String() string { return p.name }

// Halt implements conn.Resource; it does nothing.
func (p *Pin) Halt() error { return nil }

// Name implements pin.Pin.
func (p *Pin) Name() string { return p.name }

// Number implements pin.Pin.
func (p *Pin) Number() int { return p.num }

// Function implements pin.Pin.
func (p *Pin) Function() string { return string(p.Func()) }

// Func implements pin.PinFunc.
func (p *Pin) Func() pin.Func {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.out {
		return gpio.OUT
	}
	return gpio.IN
}

// SupportedFuncs implements pin.PinFunc.
func (p *Pin) SupportedFuncs() []pin.Func { return []pin.Func{gpio.IN, gpio.OUT} }

// SetFunc implements pin.PinFunc.
func (p *Pin) SetFunc(f pin.Func) error {
	switch f {
	case gpio.IN:
		return p.In(gpio.PullNoChange, gpio.NoEdge)
	case gpio.OUT:
		return p.Out(p.Read())
	}
	return fmt.Errorf("sim pin %s: function %s not supported", p.name, f)
}

// In implements gpio.PinIn. It clears queued edges.
func (p *Pin) In(pull gpio.Pull, edge gpio.Edge) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.out = false
	if pull != gpio.PullNoChange {
		p.pull = pull
	}
	p.edge = edge
	p.edges = 0
	p.level = p.inputLevelLocked()
	p.notifyLocked()
	return nil
}

func (p *Pin) inputLevelLocked() gpio.Level {
	if p.outside != nil {
		return *p.outside
	}
	return p.pull == gpio.PullUp
}

// Read implements gpio.PinIn.
func (p *Pin) Read() gpio.Level {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.level
}

// WaitForEdge implements gpio.PinIn: it consumes one queued edge, waiting up
// to timeout (-1: forever) for one.
func (p *Pin) WaitForEdge(timeout time.Duration) bool {
	var expire <-chan time.Time
	if timeout >= 0 {
		t := time.NewTimer(timeout)
		defer t.Stop()
		expire = t.C
	}
	p.mu.Lock()
	p.waiters++
	p.notifyLocked()
	defer func() {
		p.mu.Lock()
		p.waiters--
		p.mu.Unlock()
	}()
	for {
		if p.edges > 0 {
			p.edges--
			p.notifyLocked()
			p.mu.Unlock()
			return true
		}
		ch := p.changed
		p.mu.Unlock()
		select {
		case <-ch:
		case <-expire:
			return false
		}
		p.mu.Lock()
	}
}

// Pull implements gpio.PinIn.
func (p *Pin) Pull() gpio.Pull {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.pull
}

// DefaultPull implements gpio.PinIn.
func (p *Pin) DefaultPull() gpio.Pull { return gpio.Float }

// Out implements gpio.PinOut. It fails with the error given to FailWrites.
func (p *Pin) Out(l gpio.Level) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.writeErr != nil {
		return fmt.Errorf("sim pin %s: write %s: %w", p.name, l, p.writeErr)
	}
	p.out = true
	p.level = l
	p.writes = append(p.writes, l)
	if p.watch != nil {
		p.watch(l)
	}
	p.notifyLocked()
	return nil
}

// Watch calls f with every level written by Out, as it is written (f
// must not call the pin), so a test can time the writes on its own
// clock; nil stops watching.
func (p *Pin) Watch(f func(gpio.Level)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.watch = f
}

// PWM implements gpio.PinOut; simulated pins have no PWM.
func (p *Pin) PWM(gpio.Duty, physic.Frequency) error {
	return fmt.Errorf("sim pin %s: pwm not supported", p.name)
}

// Set drives the line from outside, as a switch or sensor would. On an
// input configured for a matching edge, a change queues one edge.
func (p *Pin) Set(l gpio.Level) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.outside = &l
	if p.out || p.level == l {
		return
	}
	p.level = l
	if p.edge == gpio.BothEdges || (p.edge == gpio.RisingEdge && l) || (p.edge == gpio.FallingEdge && !l) {
		p.edges++
	}
	p.notifyLocked()
}

// Level returns the line's level: the driven output or the input.
func (p *Pin) Level() gpio.Level { return p.Read() }

// IsOutput reports whether the program set the pin up as an output.
func (p *Pin) IsOutput() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out
}

// Writes returns every level written by Out, oldest first.
func (p *Pin) Writes() []gpio.Level {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]gpio.Level(nil), p.writes...)
}

// FailWrites makes every later Out fail with err (nil heals the pin).
func (p *Pin) FailWrites(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.writeErr = err
}

// AwaitIdle waits until every queued edge has been consumed and a goroutine
// is waiting in WaitForEdge again, so the consumer has finished with the
// previous edge. It reports false after timeout.
func (p *Pin) AwaitIdle(timeout time.Duration) bool {
	t := time.NewTimer(timeout)
	defer t.Stop()
	for {
		p.mu.Lock()
		ok := p.edges == 0 && p.waiters > 0
		ch := p.changed
		p.mu.Unlock()
		if ok {
			return true
		}
		select {
		case <-ch:
		case <-t.C:
			return false
		}
	}
}

// Board is a set of simulated pins, looked up by name like periph's
// registry. Register puts them into gpioreg under the same names, so code
// that calls gpioreg.ByName finds them.
type Board struct {
	mu   sync.Mutex
	pins map[string]*Pin
	next int
}

// NewBoard returns a board with a pin for each name.
func NewBoard(names ...string) *Board {
	b := &Board{pins: map[string]*Pin{}}
	for _, n := range names {
		b.Add(n)
	}
	return b
}

// Add returns the pin called name, creating it if needed.
func (b *Board) Add(name string) *Pin {
	b.mu.Lock()
	defer b.mu.Unlock()
	if p, ok := b.pins[name]; ok {
		return p
	}
	b.next++
	p := NewPin(name, 1000+b.next)
	b.pins[name] = p
	return p
}

// Pin returns the pin called name, or nil.
func (b *Board) Pin(name string) *Pin {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.pins[name]
}

// ByName returns the pin called name as a gpio.PinIO, or nil; it has the
// shape of gpioreg.ByName.
func (b *Board) ByName(name string) gpio.PinIO {
	if p := b.Pin(name); p != nil {
		return p
	}
	return nil
}

// Names returns the board's pin names.
func (b *Board) Names() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for n := range b.pins {
		out = append(out, n)
	}
	return out
}

// Register adds every pin to periph's gpioreg and returns a function that
// removes them again.
func (b *Board) Register() (unregister func() error, err error) {
	var done []string
	unregister = func() error {
		var errs []error
		for _, n := range done {
			if err := gpioreg.Unregister(n); err != nil {
				errs = append(errs, err)
			}
		}
		return errors.Join(errs...)
	}
	for _, n := range b.Names() {
		if err := gpioreg.Register(b.Pin(n)); err != nil {
			_ = unregister()
			return nil, fmt.Errorf("register sim pin %s: %w", n, err)
		}
		done = append(done, n)
	}
	return unregister, nil
}

// Interface guards.
var _ gpio.PinIO = (*Pin)(nil)
