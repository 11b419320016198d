// Package input watches a cabinet's inputs — door switch, key-present
// switch per slot, tamper switch, emergency (fire panel) contact — through
// periph gpio.PinIn, and reports debounced changes as typed events.
//
// Each input is read by pin name (gpioreg.ByName by default), so Pi GPIO
// lines, MCP23017 expander pins and simulated pins are interchangeable.
// Lines that support edge detection are watched with WaitForEdge (always
// with a finite timeout, so Close returns); lines that do not — MCP23017
// pins in periph have no edge support — are polled every PollInterval. Both
// feed the same debouncer: a level must hold for Debounce, as measured on
// the injected clock, before it is reported, so contact chatter never
// produces events. Events are queued without limit, so a slow consumer
// loses none.
package input

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"keycab.dev/keycab/hardware"
	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpioreg"
)

// Kind is what an input means.
type Kind int

const (
	Door       Kind = iota + 1 // active: door open
	KeyPresent                 // active: a key is in the slot
	Tamper                     // active: enclosure opened or wiring cut
	Emergency                  // active: the fire panel asks to release all
)

func (k Kind) String() string {
	switch k {
	case Door:
		return "door"
	case KeyPresent:
		return "key"
	case Tamper:
		return "tamper"
	case Emergency:
		return "emergency"
	}
	return fmt.Sprintf("kind(%d)", int(k))
}

// Input configures one line.
type Input struct {
	Name      string // e.g. "door", "slot3"
	Kind      Kind
	Slot      int    // for KeyPresent
	Pin       string // periph pin name
	Pull      gpio.Pull
	ActiveLow bool // active when the line reads Low (switch to ground)
	Poll      bool // never use edge detection for this line
}

// Config configures a Watcher.
type Config struct {
	Inputs []Input
	// Pins looks a pin up by name; nil means gpioreg.ByName.
	Pins func(name string) gpio.PinIO
	// Clock times debouncing and polling; nil means hardware.SystemClock.
	Clock  hardware.Clock
	Logger *slog.Logger
	// Debounce is how long a new level must hold; default 30ms.
	Debounce time.Duration
	// PollInterval is how often every line is sampled; default 10ms.
	PollInterval time.Duration
	// EdgeTimeout bounds each WaitForEdge (real time); default 250ms. It
	// is also the longest Close waits for an edge goroutine.
	EdgeTimeout time.Duration
}

// Event is a debounced change of one input.
type Event struct {
	Input  string
	Kind   Kind
	Slot   int
	Active bool
	// At is when the change was confirmed, from the Clock (with the
	// system clock it carries a monotonic reading).
	At time.Time
	// Mono is At as an offset from the Watcher's start, monotonic.
	Mono time.Duration
	// Seq numbers the Watcher's events from 1, without gaps.
	Seq uint64
}

func (e Event) String() string {
	return fmt.Sprintf("%s %s active=%v +%v", e.Input, e.Kind, e.Active, e.Mono)
}

type line struct {
	cfg       Input
	pin       gpio.PinIn
	committed bool
	last      bool
	since     time.Time
	polled    bool
}

// Watcher watches a set of inputs.
type Watcher struct {
	clock    hardware.Clock
	log      *slog.Logger
	debounce time.Duration
	poll     time.Duration
	edgeWait time.Duration
	start    time.Time

	mu    sync.Mutex
	lines []*line
	seq   uint64
	queue []Event
	wake  chan struct{} // to the delivery goroutine

	edges  chan int
	out    chan Event
	stop   chan struct{}
	wg     sync.WaitGroup
	closed sync.Once
}

// Open sets every line up as an input, reads its initial level (reported by
// States, not as an event) and starts watching.
func Open(cfg Config) (*Watcher, error) {
	w := &Watcher{
		clock:    cfg.Clock,
		log:      cfg.Logger,
		debounce: cfg.Debounce,
		poll:     cfg.PollInterval,
		edgeWait: cfg.EdgeTimeout,
		wake:     make(chan struct{}, 1),
		edges:    make(chan int, 64),
		out:      make(chan Event),
		stop:     make(chan struct{}),
	}
	if w.clock == nil {
		w.clock = hardware.SystemClock{}
	}
	if w.log == nil {
		w.log = slog.Default()
	}
	if w.debounce <= 0 {
		w.debounce = 30 * time.Millisecond
	}
	if w.poll <= 0 {
		w.poll = 10 * time.Millisecond
	}
	if w.edgeWait <= 0 {
		w.edgeWait = 250 * time.Millisecond
	}
	lookup := cfg.Pins
	if lookup == nil {
		lookup = gpioreg.ByName
	}
	w.start = w.clock.Now()
	var errs []error
	seen := map[string]bool{}
	for _, in := range cfg.Inputs {
		if in.Name == "" || seen[in.Name] {
			return nil, fmt.Errorf("open inputs: input name %q empty or repeated", in.Name)
		}
		seen[in.Name] = true
		p := lookup(in.Pin)
		if p == nil {
			errs = append(errs, fmt.Errorf("input %s: pin %s not found", in.Name, in.Pin))
			continue
		}
		l := &line{cfg: in, pin: p, polled: in.Poll, since: w.start}
		edge := gpio.BothEdges
		if in.Poll {
			edge = gpio.NoEdge
		}
		if err := p.In(in.Pull, edge); err != nil && edge != gpio.NoEdge {
			w.log.Info("input: no edge detection, polling", "input", in.Name, "pin", in.Pin, "err", err)
			l.polled = true
			err = p.In(in.Pull, gpio.NoEdge)
			if err != nil {
				errs = append(errs, fmt.Errorf("input %s: set up pin %s: %w", in.Name, in.Pin, err))
				continue
			}
		} else if err != nil {
			errs = append(errs, fmt.Errorf("input %s: set up pin %s: %w", in.Name, in.Pin, err))
			continue
		}
		l.committed = l.read()
		l.last = l.committed
		w.lines = append(w.lines, l)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	for i, l := range w.lines {
		if !l.polled {
			w.wg.Add(1)
			go w.watchEdges(i, l)
		}
	}
	w.wg.Add(2)
	go w.loop()
	go w.deliver()
	return w, nil
}

func (l *line) read() bool { return bool(l.pin.Read()) != l.cfg.ActiveLow }

// watchEdges turns edges on one line into wake-ups of the loop. A driver
// that returns from WaitForEdge at once without an edge (no edge support)
// is switched to polling.
func (w *Watcher) watchEdges(i int, l *line) {
	defer w.wg.Done()
	early := 0
	for {
		select {
		case <-w.stop:
			return
		default:
		}
		t0 := time.Now()
		if l.pin.WaitForEdge(w.edgeWait) {
			early = 0
			select {
			case w.edges <- i:
			case <-w.stop:
				return
			}
			continue
		}
		if time.Since(t0) < w.edgeWait/4 {
			if early++; early >= 3 {
				w.log.Info("input: edge wait returns at once, polling", "input", l.cfg.Name, "pin", l.cfg.Pin)
				return
			}
		}
	}
}

func (w *Watcher) loop() {
	defer w.wg.Done()
	for {
		tick, t := hardware.After(w.clock, w.poll)
		select {
		case <-w.stop:
			t.Stop()
			return
		case <-tick:
			w.sample(-1)
		case i := <-w.edges:
			t.Stop()
			w.sample(i)
		}
	}
}

// sample reads every line. edged is the line whose edge woke the loop (or
// -1): its stability clock restarts even if its level looks unchanged,
// because it moved in between.
func (w *Watcher) sample(edged int) {
	now := w.clock.Now()
	w.mu.Lock()
	defer w.mu.Unlock()
	for i, l := range w.lines {
		v := l.read()
		if v != l.last || i == edged {
			l.last = v
			l.since = now
			continue
		}
		if v != l.committed && now.Sub(l.since) >= w.debounce {
			l.committed = v
			w.seq++
			w.queue = append(w.queue, Event{
				Input: l.cfg.Name, Kind: l.cfg.Kind, Slot: l.cfg.Slot, Active: v,
				At: now, Mono: now.Sub(w.start), Seq: w.seq,
			})
			select {
			case w.wake <- struct{}{}:
			default:
			}
		}
	}
}

func (w *Watcher) deliver() {
	defer w.wg.Done()
	for {
		w.mu.Lock()
		var ev Event
		have := len(w.queue) > 0
		if have {
			ev = w.queue[0]
		}
		w.mu.Unlock()
		if !have {
			select {
			case <-w.wake:
				continue
			case <-w.stop:
				return
			}
		}
		select {
		case w.out <- ev:
			w.mu.Lock()
			w.queue = w.queue[1:]
			w.mu.Unlock()
		case <-w.stop:
			return
		}
	}
}

// Events returns the channel of debounced changes, in order. It is never
// closed; stop reading after Close.
func (w *Watcher) Events() <-chan Event { return w.out }

// State is an input's debounced state.
type State struct {
	Input  string
	Kind   Kind
	Slot   int
	Active bool
}

// States returns every input's debounced state, in Config order.
func (w *Watcher) States() []State {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]State, len(w.lines))
	for i, l := range w.lines {
		out[i] = State{Input: l.cfg.Name, Kind: l.cfg.Kind, Slot: l.cfg.Slot, Active: l.committed}
	}
	return out
}

// Close stops watching and waits for the Watcher's goroutines, at most
// about EdgeTimeout.
func (w *Watcher) Close() error {
	w.closed.Do(func() { close(w.stop) })
	w.wg.Wait()
	return nil
}
