// Package lock drives a cabinet's lock outputs (solenoids, strikes,
// maglocks, relays) through periph gpio.PinOut, with the safety rules of the
// design built into the driver rather than left to callers:
//
//   - every output is set to its secure state before Open returns, before
//     anything else happens;
//   - every unlock has a maximum duration the driver enforces with its own
//     timer: a caller that forgets to lock again cannot leave a solenoid
//     energised, and repeated Unlock calls never extend a period past it;
//   - a fail-secure output (energised to release) must cool off after each
//     release before it is energised again: a release of t needs a rest of
//     Rest×t/MaxOn (by default as long as the release), and Unlock during
//     the rest fails with ErrResting, so no output is ever energised for
//     longer than MaxOn at a time nor more than MaxOn/(MaxOn+Rest) of any
//     stretch of time;
//   - Emergency releases a lock until Lock or Halt: a fail-safe lock is
//     simply left de-energised (open) for as long as it takes, a
//     fail-secure one is energised for MaxOn, rested, and energised again
//     in turn by the driver's own timers;
//   - Halt secures every output and is what shutdown and panic paths call;
//   - a failing pin write is returned, and a failing re-lock is retried and
//     reported through Config.OnFault until it succeeds.
//
// A fail-secure lock (solenoid, strike) is locked when de-energised; a
// fail-safe lock (maglock) is locked when energised. The driver's limit is on
// the unlocked period, which for a fail-secure lock is the energised period.
//
// Pins are found by name through Config.Pins (gpioreg.ByName by default), so
// Pi GPIO lines, MCP23017 expander pins and simulated pins are
// interchangeable.
package lock

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/bits"
	"sort"
	"sync"
	"time"

	"keycab.dev/keycab/hardware"
	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpioreg"
)

// Mode says how a lock is released.
type Mode int

const (
	// Pulse releases for Lock.Pulse (a strike that only needs a kick).
	Pulse Mode = iota
	// Hold releases until Lock is called, at most Lock.MaxOn.
	Hold
)

func (m Mode) String() string {
	if m == Hold {
		return "hold"
	}
	return "pulse"
}

// Lock configures one output.
type Lock struct {
	Name      string // how callers address the lock, e.g. "slot3"
	Pin       string // periph pin name, e.g. "GPIO17" or "MCP23017_20_PORTA_0"
	ActiveLow bool   // the output energises the lock when Low
	FailSafe  bool   // energised means locked (maglock); default fail-secure
	Mode      Mode
	Pulse     time.Duration // Pulse mode's release time; default 1s
	// MaxOn is the longest the lock may stay released, enforced by the
	// driver; default 10s. It caps Pulse and every Unlock duration. An
	// emergency release of a fail-safe lock is not capped (de-energised,
	// the lock cannot overheat).
	MaxOn time.Duration
	// Rest is how long a fail-secure output stays de-energised after a
	// release of MaxOn before it may be energised again; a shorter release
	// needs a proportionally shorter rest. Default MaxOn (at most a 50%
	// duty cycle); set it from the solenoid's rated duty cycle. Negative:
	// no rest, for an output that does not heat (a buzzer, a relay to an
	// alarm panel).
	Rest time.Duration
}

// Config configures a Bank.
type Config struct {
	Locks []Lock
	// Pins looks a pin up by name; nil means gpioreg.ByName.
	Pins func(name string) gpio.PinIO
	// Clock runs the release timers; nil means hardware.SystemClock.
	Clock hardware.Clock
	// Logger receives faults; nil means slog.Default().
	Logger *slog.Logger
	// OnFault, when set, is called (from a timer goroutine) with every
	// error the driver meets outside a caller's call, such as a failing
	// re-lock. The driver keeps retrying every Retry until the lock is
	// secure.
	OnFault func(error)
	// Retry is the interval between re-lock attempts; default 100ms.
	Retry time.Duration
}

// State is one lock's state.
type State struct {
	Name     string
	Unlocked bool      // the driver holds the lock released
	Since    time.Time // when the current period started
	Until    time.Time // when the driver will lock it again (if Unlocked)
	Fault    error     // the last write error, if the output is not known good
}

type output struct {
	cfg      Lock
	pin      gpio.PinOut
	unlocked bool
	since    time.Time
	until    time.Time
	timer    hardware.Timer
	gen      int
	fault    error

	emergency bool          // released by Emergency until Lock or Halt
	offAt     time.Time     // when a fail-secure output was last de-energised
	lastOn    time.Duration // how long it was energised before that
}

// burns reports whether the output is energised while released: a
// fail-secure lock, whose energised time is limited.
func (o *output) burns() bool { return !o.cfg.FailSafe }

// restUntil is when a fail-secure output has cooled off after its last
// release.
func (o *output) restUntil() time.Time {
	if o.lastOn <= 0 || o.cfg.Rest < 0 {
		return o.offAt
	}
	// Rest×lastOn/MaxOn in 128 bits (10 s × 10 s overflows 64), rounded up.
	hi, lo := bits.Mul64(uint64(o.cfg.Rest), uint64(o.lastOn))
	if hi >= uint64(o.cfg.MaxOn) {
		return o.offAt.Add(math.MaxInt64 / 2) // energised for ages: rest as long as it takes
	}
	q, rem := bits.Div64(hi, lo, uint64(o.cfg.MaxOn))
	if rem > 0 {
		q++
	}
	return o.offAt.Add(time.Duration(q))
}

// securedLocked notes that the output was just secured at now.
func (o *output) securedLocked(now time.Time) {
	if o.unlocked {
		o.lastOn, o.offAt = now.Sub(o.since), now
		o.since = now
	}
	o.unlocked = false
}

// Bank is a set of locks. Its methods are safe for concurrent use.
type Bank struct {
	clock   hardware.Clock
	log     *slog.Logger
	onFault func(error)
	retry   time.Duration

	mu     sync.Mutex
	locks  map[string]*output
	order  []string
	halted bool
}

// ErrUnknownLock is returned for a lock name not in the Config.
var ErrUnknownLock = errors.New("unknown lock")

// ErrHalted is returned by Unlock after Halt.
var ErrHalted = errors.New("lock bank halted")

// ErrResting is returned by Unlock while a fail-secure output cools off
// after its last release (Lock.Rest).
var ErrResting = errors.New("lock output resting after its last release")

// Open looks every pin up and drives it to its secure state before
// returning. If any pin is missing or any write fails, Open still secures
// every other output and returns the error together with the Bank, so the
// caller may keep running degraded; the Bank is nil only if the Config is
// invalid.
func Open(cfg Config) (*Bank, error) {
	b := &Bank{
		clock:   cfg.Clock,
		log:     cfg.Logger,
		onFault: cfg.OnFault,
		retry:   cfg.Retry,
		locks:   map[string]*output{},
	}
	if b.clock == nil {
		b.clock = hardware.SystemClock{}
	}
	if b.log == nil {
		b.log = slog.Default()
	}
	if b.retry <= 0 {
		b.retry = 100 * time.Millisecond
	}
	lookup := cfg.Pins
	if lookup == nil {
		lookup = gpioreg.ByName
	}
	for _, l := range cfg.Locks {
		if l.Name == "" || l.Pin == "" {
			return nil, fmt.Errorf("open lock bank: lock %q: name and pin required", l.Name)
		}
		if _, dup := b.locks[l.Name]; dup {
			return nil, fmt.Errorf("open lock bank: lock %q configured twice", l.Name)
		}
		if l.MaxOn <= 0 {
			l.MaxOn = 10 * time.Second
		}
		if l.Pulse <= 0 {
			l.Pulse = time.Second
		}
		if l.Pulse > l.MaxOn {
			l.Pulse = l.MaxOn
		}
		if l.Rest == 0 {
			l.Rest = l.MaxOn
		}
		b.locks[l.Name] = &output{cfg: l}
		b.order = append(b.order, l.Name)
	}
	// Secure first, every output, before reporting anything.
	var errs []error
	now := b.clock.Now()
	for _, name := range b.order {
		o := b.locks[name]
		p := lookup(o.cfg.Pin)
		if p == nil {
			o.fault = fmt.Errorf("lock %s: pin %s not found", name, o.cfg.Pin)
			errs = append(errs, o.fault)
			continue
		}
		o.pin = p
		o.since = now
		if err := o.write(false); err != nil {
			errs = append(errs, err)
		}
	}
	return b, errors.Join(errs...)
}

// level returns the pin level for the released (true) or secure state.
func (o *output) level(released bool) gpio.Level {
	energised := released != o.cfg.FailSafe
	return gpio.Level(energised != o.cfg.ActiveLow)
}

func (o *output) write(released bool) error {
	if o.pin == nil {
		return o.fault
	}
	if err := o.pin.Out(o.level(released)); err != nil {
		state := "lock"
		if released {
			state = "unlock"
		}
		o.fault = fmt.Errorf("%s %s: pin %s: %w", state, o.cfg.Name, o.cfg.Pin, err)
		return o.fault
	}
	o.fault = nil
	return nil
}

// Unlock releases the named lock for d, or for the lock's default (Pulse in
// pulse mode, MaxOn in hold mode) when d <= 0. The release never lasts past
// MaxOn from the start of the current release, however often Unlock is
// called. If the write fails the driver tries to secure the lock and
// returns the error.
func (b *Bank) Unlock(name string, d time.Duration) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	o, ok := b.locks[name]
	if !ok {
		return fmt.Errorf("unlock %s: %w", name, ErrUnknownLock)
	}
	if b.halted {
		return fmt.Errorf("unlock %s: %w", name, ErrHalted)
	}
	if d <= 0 {
		d = o.cfg.Pulse
		if o.cfg.Mode == Hold {
			d = o.cfg.MaxOn
		}
	}
	now := b.clock.Now()
	if o.emergency {
		return nil // released until Lock already
	}
	if !o.unlocked && o.burns() && now.Before(o.restUntil()) {
		return fmt.Errorf("unlock %s: %w until %s", name, ErrResting, o.restUntil().Format(time.TimeOnly))
	}
	start := now
	if o.unlocked {
		start = o.since
	}
	until := now.Add(d)
	if limit := start.Add(o.cfg.MaxOn); until.After(limit) {
		until = limit
	}
	if err := o.write(true); err != nil {
		if serr := o.write(false); serr != nil {
			b.log.Error("lock: cannot secure after failed unlock", "lock", name, "err", serr)
			b.scheduleRelockLocked(o, now)
		}
		return err
	}
	if !o.unlocked {
		o.since = now
	}
	o.unlocked = true
	o.until = until
	b.scheduleRelockLocked(o, until)
	return nil
}

// scheduleRelockLocked (re)arms o's timer to secure it at when.
func (b *Bank) scheduleRelockLocked(o *output, when time.Time) {
	if o.timer != nil {
		o.timer.Stop()
	}
	o.gen++
	gen := o.gen
	d := when.Sub(b.clock.Now())
	if d < 0 {
		d = 0
	}
	o.timer = b.clock.AfterFunc(d, func() { b.expire(o, gen) })
}

// expire is the driver's own re-lock: at the end of a release, or a retry
// after a failed write.
func (b *Bank) expire(o *output, gen int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if gen != o.gen {
		return
	}
	if err := o.write(false); err != nil {
		b.log.Error("lock: re-lock failed, retrying", "lock", o.cfg.Name, "err", err)
		if b.onFault != nil {
			go b.onFault(err)
		}
		b.scheduleRelockLocked(o, b.clock.Now().Add(b.retry))
		return
	}
	o.securedLocked(b.clock.Now())
	o.timer = nil
	if o.emergency {
		// Cool off, then release again.
		o.gen++
		gen := o.gen
		o.timer = b.clock.AfterFunc(o.restUntil().Sub(b.clock.Now()), func() { b.resume(o, gen) })
	}
}

// Emergency releases the named lock until Lock or Halt, for the fire
// panel's emergency input. A fail-safe lock is de-energised (open) and
// left so; a fail-secure one is energised for at most MaxOn at a time,
// rested as after any release, and energised again, by the driver's own
// timers, so that it never burns however long the emergency lasts.
func (b *Bank) Emergency(name string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	o, ok := b.locks[name]
	if !ok {
		return fmt.Errorf("emergency release %s: %w", name, ErrUnknownLock)
	}
	if b.halted {
		return fmt.Errorf("emergency release %s: %w", name, ErrHalted)
	}
	if o.emergency {
		return nil
	}
	o.emergency = true
	return b.emergencyLocked(o)
}

// emergencyLocked releases o for its emergency: indefinitely when it is
// fail-safe, for one energised period (after its rest) when not.
func (b *Bank) emergencyLocked(o *output) error {
	now := b.clock.Now()
	if o.timer != nil {
		o.timer.Stop()
		o.timer = nil
	}
	o.gen++
	gen := o.gen
	if o.burns() && !o.unlocked && now.Before(o.restUntil()) {
		o.timer = b.clock.AfterFunc(o.restUntil().Sub(now), func() { b.resume(o, gen) })
		return nil
	}
	if err := o.write(true); err != nil {
		// Try again: an emergency release is not given up.
		o.timer = b.clock.AfterFunc(b.retry, func() { b.resume(o, gen) })
		return fmt.Errorf("emergency release %s: %w", o.cfg.Name, err)
	}
	if !o.unlocked {
		o.unlocked, o.since = true, now
	}
	if !o.burns() {
		o.until = time.Time{}
		return nil // de-energised: open for as long as the emergency lasts
	}
	o.until = o.since.Add(o.cfg.MaxOn)
	o.timer = b.clock.AfterFunc(o.until.Sub(now), func() { b.expire(o, gen) })
	return nil
}

// resume continues an emergency release after a rest or a failed write.
func (b *Bank) resume(o *output, gen int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if gen != o.gen || !o.emergency || b.halted {
		return
	}
	if err := b.emergencyLocked(o); err != nil {
		b.log.Error("lock: emergency release failed, retrying", "lock", o.cfg.Name, "err", err)
		if b.onFault != nil {
			go b.onFault(err)
		}
	}
}

// Lock secures the named lock now.
func (b *Bank) Lock(name string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	o, ok := b.locks[name]
	if !ok {
		return fmt.Errorf("lock %s: %w", name, ErrUnknownLock)
	}
	return b.secureLocked(o)
}

func (b *Bank) secureLocked(o *output) error {
	o.emergency = false
	if err := o.write(false); err != nil {
		b.scheduleRelockLocked(o, b.clock.Now().Add(b.retry))
		return err
	}
	if o.timer != nil {
		o.timer.Stop()
		o.timer = nil
	}
	o.gen++
	o.emergency = false
	o.securedLocked(b.clock.Now())
	return nil
}

// Halt secures every lock and refuses further unlocks. It tries every
// output even when some fail, and returns all failures.
func (b *Bank) Halt() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.halted = true
	var errs []error
	for _, name := range b.order {
		if err := b.secureLocked(b.locks[name]); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// States returns every lock's state, in Config order.
func (b *Bank) States() []State {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]State, 0, len(b.order))
	for _, name := range b.order {
		o := b.locks[name]
		s := State{Name: name, Unlocked: o.unlocked, Since: o.since, Fault: o.fault}
		if o.unlocked {
			s.Until = o.until
		}
		out = append(out, s)
	}
	return out
}

// Names returns the lock names, sorted.
func (b *Bank) Names() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := append([]string(nil), b.order...)
	sort.Strings(out)
	return out
}

// SecureLevel returns the pin level that secures l; tests and the simulator
// use it to check outputs.
func SecureLevel(l Lock) gpio.Level { return (&output{cfg: l}).level(false) }
