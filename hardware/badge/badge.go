// Package badge reads staff badges from the readers a cabinet may have:
//
//   - RDM6300 and other EM4100 125 kHz modules on a 9600 8N1 serial line,
//     which repeat a frame while a card stays in the field
//     (STX, 10 ASCII hex digits, 2 ASCII hex XOR checksum, ETX); each
//     presentation is reported once;
//   - GM65-style barcode/QR modules that send one line per scan;
//   - USB keyboard-wedge readers, read through evdev and grabbed
//     (EVIOCGRAB) so their keystrokes never reach the desktop;
//   - Wiegand 26 and 34 readers on two GPIO inputs, parity checked.
//
// Every reader implements Reader. Serial and evdev readers survive their
// device vanishing and returning (a USB reader unplugged and plugged back):
// they close, reopen with exponential backoff, and carry on. Every rejected
// frame is logged with its reason on the injected *slog.Logger.
//
// The decoders (RDM6300Decoder, LineDecoder, KeyDecoder, DecodeWiegand) are
// exported and pure, so they can be fuzzed and reused.
package badge

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"go.bug.st/serial"
	"keycab.dev/keycab/hardware"
	"keycab.dev/keycab/internal/backoff"
)

// Badge is one presentation of a badge.
type Badge struct {
	Code   string    // as the reader reports it, normalised per protocol
	Source string    // "rdm6300", "line", "wedge", "wiegand26", "wiegand34"
	At     time.Time // from the reader's Clock
}

// Reader is a badge reader.
type Reader interface {
	// Read blocks until a badge is presented, ctx is done or the reader
	// is closed. Device errors are handled inside (logged, reopened);
	// Read returns an error only for ctx, Close, or a bad configuration.
	Read(ctx context.Context) (Badge, error)
	io.Closer
}

// ErrClosed is returned by Read after Close.
var ErrClosed = errors.New("badge reader closed")

// Backoff bounds the delay between reopen attempts.
type Backoff struct {
	Min, Max time.Duration // defaults 50ms and 2s
}

// policy returns the reopen delays of b, with its defaults: Min after
// the first failed open, doubled after each further one, at most Max.
func (b Backoff) policy() backoff.Policy {
	if b.Min <= 0 {
		b.Min = 50 * time.Millisecond
	}
	if b.Max < b.Min {
		b.Max = 2 * time.Second
		if b.Max < b.Min {
			b.Max = b.Min
		}
	}
	return backoff.Policy{Base: b.Min, Max: b.Max}
}

// port is an open device; Read returns (0, nil) when nothing arrived
// within the poll interval.
type port interface {
	Read(p []byte) (int, error)
	Close() error
}

// frameDecoder turns bytes into codes; reject reports a bad frame.
type frameDecoder interface {
	Feed(p []byte) []Frame
}

// Frame is one decoded unit from a byte stream: a code, or the reason the
// bytes were rejected.
type Frame struct {
	Code string
	Err  error  // non-nil: rejected, Code empty
	Raw  []byte // the bytes of the frame (or garbage)
}

// streamReader is the reopen-with-backoff loop shared by serial and evdev
// readers.
type streamReader struct {
	name    string // device path, for logs
	source  string
	open    func() (port, error)
	dec     frameDecoder
	clock   hardware.Clock
	log     *slog.Logger
	backoff backoff.Policy
	accept  func(code string, now time.Time) bool // nil: accept all

	port    port
	fails   int // reopen attempts since the device last opened
	lastErr string
	pending []Badge
	buf     []byte
	closed  chan struct{}
}

func newStreamReader(name, source string, open func() (port, error), dec frameDecoder, clock hardware.Clock, log *slog.Logger, b Backoff) *streamReader {
	if clock == nil {
		clock = hardware.SystemClock{}
	}
	if log == nil {
		log = slog.Default()
	}
	return &streamReader{
		name: name, source: source, open: open, dec: dec, clock: clock,
		log: log.With("reader", source, "device", name), backoff: b.policy(),
		buf: make([]byte, 256), closed: make(chan struct{}),
	}
}

// Read implements Reader. It must not be called concurrently.
func (r *streamReader) Read(ctx context.Context) (Badge, error) {
	for {
		if len(r.pending) > 0 {
			b := r.pending[0]
			r.pending = r.pending[1:]
			return b, nil
		}
		select {
		case <-r.closed:
			r.closePort()
			return Badge{}, ErrClosed
		case <-ctx.Done():
			return Badge{}, ctx.Err()
		default:
		}
		if r.port == nil {
			p, err := r.open()
			if err != nil {
				if msg := err.Error(); msg != r.lastErr {
					r.log.Warn("badge: open failed, retrying", "err", err)
					r.lastErr = msg
				}
				if err := r.sleep(ctx); err != nil {
					return Badge{}, err
				}
				continue
			}
			if r.lastErr != "" {
				r.log.Info("badge: device back")
			}
			r.port, r.fails, r.lastErr = p, 0, ""
		}
		n, err := r.port.Read(r.buf)
		if n > 0 {
			for _, f := range r.dec.Feed(r.buf[:n]) {
				if f.Err != nil {
					r.log.Warn("badge: frame rejected", "reason", f.Err.Error(), "raw", fmt.Sprintf("%q", f.Raw))
					continue
				}
				now := r.clock.Now()
				if r.accept != nil && !r.accept(f.Code, now) {
					continue
				}
				r.pending = append(r.pending, Badge{Code: f.Code, Source: r.source, At: now})
			}
		}
		if err != nil {
			select {
			case <-r.closed:
				r.closePort()
				return Badge{}, ErrClosed
			default:
			}
			r.log.Warn("badge: device lost, reopening", "err", err)
			r.lastErr = err.Error()
			r.closePort()
			if err := r.sleep(ctx); err != nil {
				return Badge{}, err
			}
		}
	}
}

func (r *streamReader) closePort() {
	if r.port != nil {
		_ = r.port.Close()
		r.port = nil
	}
}

// sleep waits the next backoff delay (real time).
func (r *streamReader) sleep(ctx context.Context) error {
	r.fails++
	t := time.NewTimer(r.backoff.Delay(r.fails))
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-r.closed:
		r.closePort()
		return ErrClosed
	}
}

// Close stops the reader; a Read in progress returns ErrClosed within the
// poll interval. The device itself is closed by that Read (or the next).
func (r *streamReader) Close() error {
	select {
	case <-r.closed:
	default:
		close(r.closed)
	}
	return nil
}

// SerialConfig configures a serial reader.
type SerialConfig struct {
	Port    string       // e.g. /dev/serial/by-id/usb-...-if00-port0
	Mode    *serial.Mode // default 9600 8N1
	Clock   hardware.Clock
	Logger  *slog.Logger
	Backoff Backoff
	// Poll bounds each read so Close and ctx are noticed; default 100ms.
	Poll time.Duration
}

type serialPort struct{ serial.Port }

func openSerial(cfg SerialConfig) func() (port, error) {
	mode := cfg.Mode
	if mode == nil {
		mode = &serial.Mode{BaudRate: 9600, DataBits: 8, Parity: serial.NoParity, StopBits: serial.OneStopBit}
	}
	poll := cfg.Poll
	if poll <= 0 {
		poll = 100 * time.Millisecond
	}
	return func() (port, error) {
		p, err := serial.Open(cfg.Port, mode)
		if err != nil {
			return nil, fmt.Errorf("open %s: %w", cfg.Port, err)
		}
		if err := p.SetReadTimeout(poll); err != nil {
			p.Close()
			return nil, fmt.Errorf("set read timeout on %s: %w", cfg.Port, err)
		}
		return serialPort{p}, nil
	}
}

// Interface guards.
var _ Reader = (*streamReader)(nil)
