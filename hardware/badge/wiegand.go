package badge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"keycab.dev/keycab/hardware"
	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpioreg"
)

// DecodeWiegand checks a Wiegand frame of 26 or 34 bits (each byte 0 or 1,
// first bit first) and returns its data as a decimal number and the
// source name ("wiegand26" or "wiegand34"). The first bit is even parity
// over the first half of the data, the last bit odd parity over the second
// half (H10301 for 26 bits).
func DecodeWiegand(bits []byte) (code, source string, err error) {
	n := len(bits)
	if n != 26 && n != 34 {
		return "", "", fmt.Errorf("wiegand frame of %d bits, want 26 or 34", n)
	}
	var v uint64
	for i, b := range bits {
		if b > 1 {
			return "", "", fmt.Errorf("wiegand bit %d is %d", i, b)
		}
	}
	half := (n - 2) / 2
	even, odd := 0, 0
	for i := 0; i <= half; i++ {
		even += int(bits[i])
	}
	for i := half + 1; i < n; i++ {
		odd += int(bits[i])
	}
	if even%2 != 0 {
		return "", "", errors.New("wiegand even parity wrong")
	}
	if odd%2 != 1 {
		return "", "", errors.New("wiegand odd parity wrong")
	}
	for _, b := range bits[1 : n-1] {
		v = v<<1 | uint64(b)
	}
	return strconv.FormatUint(v, 10), "wiegand" + strconv.Itoa(n), nil
}

// WiegandFrame builds a frame of n (26 or 34) bits carrying data with
// correct parity; the simulator and tests use it.
func WiegandFrame(n int, data uint64) ([]byte, error) {
	if n != 26 && n != 34 {
		return nil, fmt.Errorf("wiegand frame of %d bits, want 26 or 34", n)
	}
	if data>>(n-2) != 0 {
		return nil, fmt.Errorf("wiegand data %d does not fit %d bits", data, n-2)
	}
	bits := make([]byte, n)
	for i := 0; i < n-2; i++ {
		bits[n-2-i] = byte(data >> i & 1)
	}
	half := (n - 2) / 2
	even, odd := 0, 0
	for i := 1; i <= half; i++ {
		even += int(bits[i])
	}
	for i := half + 1; i < n-1; i++ {
		odd += int(bits[i])
	}
	bits[0] = byte(even % 2)
	bits[n-1] = byte(1 - odd%2)
	return bits, nil
}

// WiegandConfig configures a Wiegand reader on two GPIO inputs.
type WiegandConfig struct {
	D0, D1 string // pin names; a Low pulse on D0 is a 0 bit, on D1 a 1 bit
	// Pins looks a pin up by name; nil means gpioreg.ByName.
	Pins   func(name string) gpio.PinIO
	Clock  hardware.Clock
	Logger *slog.Logger
	// Gap ends a frame when no bit came for it; default 25ms.
	Gap time.Duration
	// EdgeTimeout bounds each WaitForEdge (real time); default 250ms.
	EdgeTimeout time.Duration
}

// Wiegand reads a Wiegand reader. Each data line is watched for falling
// edges by its own goroutine; a frame ends after Gap without bits.
//
// Limit: Linux user space sees edges through the kernel's queue, stamped
// on arrival here; on a heavily loaded Pi the order of two bits on
// different lines can in theory swap. A parity error then rejects the frame
// and the card is read again on the next presentation.
type Wiegand struct {
	clock hardware.Clock
	log   *slog.Logger
	gap   time.Duration

	bits    chan byte
	flush   chan int
	badges  chan Badge
	stop    chan struct{}
	wg      sync.WaitGroup
	closing sync.Once
}

// NewWiegand sets both lines up as pulled-up inputs with falling-edge
// detection and starts reading.
func NewWiegand(cfg WiegandConfig) (*Wiegand, error) {
	w := &Wiegand{
		clock: cfg.Clock, log: cfg.Logger, gap: cfg.Gap,
		bits: make(chan byte), flush: make(chan int, 4),
		badges: make(chan Badge, 16), stop: make(chan struct{}),
	}
	if w.clock == nil {
		w.clock = hardware.SystemClock{}
	}
	if w.log == nil {
		w.log = slog.Default()
	}
	w.log = w.log.With("reader", "wiegand")
	if w.gap <= 0 {
		w.gap = 25 * time.Millisecond
	}
	wait := cfg.EdgeTimeout
	if wait <= 0 {
		wait = 250 * time.Millisecond
	}
	lookup := cfg.Pins
	if lookup == nil {
		lookup = gpioreg.ByName
	}
	var pins [2]gpio.PinIn
	for i, name := range []string{cfg.D0, cfg.D1} {
		p := lookup(name)
		if p == nil {
			return nil, fmt.Errorf("wiegand: pin %s not found", name)
		}
		if err := p.In(gpio.PullUp, gpio.FallingEdge); err != nil {
			return nil, fmt.Errorf("wiegand: set up pin %s: %w", name, err)
		}
		pins[i] = p
	}
	for i, p := range pins {
		w.wg.Add(1)
		go w.watch(byte(i), p, wait)
	}
	w.wg.Add(1)
	go w.assemble()
	return w, nil
}

func (w *Wiegand) watch(bit byte, p gpio.PinIn, wait time.Duration) {
	defer w.wg.Done()
	for {
		select {
		case <-w.stop:
			return
		default:
		}
		if !p.WaitForEdge(wait) {
			continue
		}
		select {
		case w.bits <- bit:
		case <-w.stop:
			return
		}
	}
}

func (w *Wiegand) assemble() {
	defer w.wg.Done()
	var frame []byte
	var timer hardware.Timer
	gen := 0
	for {
		select {
		case <-w.stop:
			if timer != nil {
				timer.Stop()
			}
			return
		case b := <-w.bits:
			frame = append(frame, b)
			if len(frame) > 64 {
				w.log.Warn("badge: frame rejected", "reason", "more than 64 bits without a gap")
				frame = frame[:0]
			}
			if timer != nil {
				timer.Stop()
			}
			gen++
			g := gen
			timer = w.clock.AfterFunc(w.gap, func() {
				select {
				case w.flush <- g:
				case <-w.stop:
				}
			})
		case g := <-w.flush:
			if g != gen || len(frame) == 0 {
				continue
			}
			code, source, err := DecodeWiegand(frame)
			if err != nil {
				w.log.Warn("badge: frame rejected", "reason", err.Error(), "bits", len(frame))
			} else {
				select {
				case w.badges <- Badge{Code: code, Source: source, At: w.clock.Now()}:
				default:
					w.log.Warn("badge: dropped, nobody reading", "code", code)
				}
			}
			frame = frame[:0]
		}
	}
}

// Read implements Reader.
func (w *Wiegand) Read(ctx context.Context) (Badge, error) {
	select {
	case b := <-w.badges:
		return b, nil
	case <-ctx.Done():
		return Badge{}, ctx.Err()
	case <-w.stop:
		return Badge{}, ErrClosed
	}
}

// Close stops reading and waits for the goroutines (about EdgeTimeout).
func (w *Wiegand) Close() error {
	w.closing.Do(func() { close(w.stop) })
	w.wg.Wait()
	return nil
}

// Interface guards.
var _ Reader = (*Wiegand)(nil)
