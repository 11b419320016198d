package sim

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
	"keycab.dev/keycab/hardware/badge"
	"periph.io/x/conn/v3/gpio"
)

// SerialDevice is a simulated serial device: a real pseudo-terminal whose
// far end appears at a fixed path (a symlink, as udev makes under
// /dev/serial/by-id), so a driver opens it exactly like a USB adapter. It
// can be unplugged (the pty is torn down and the path removed) and plugged
// back in (a new pty appears at the same path).
type SerialDevice struct {
	path string

	mu     sync.Mutex
	master *os.File
	slave  *os.File
}

// NewSerialDevice creates the device, plugged in, at path.
func NewSerialDevice(path string) (*SerialDevice, error) {
	d := &SerialDevice{path: path}
	if err := d.Plug(); err != nil {
		return nil, err
	}
	return d, nil
}

// Path returns where the device appears.
func (d *SerialDevice) Path() string { return d.path }

// Plug creates a fresh pty and points the path at it.
func (d *SerialDevice) Plug() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.master != nil {
		return fmt.Errorf("sim serial %s: already plugged in", d.path)
	}
	m, s, err := pty.Open()
	if err != nil {
		return fmt.Errorf("sim serial %s: open pty: %w", d.path, err)
	}
	if err := makeRaw(s); err != nil {
		m.Close()
		s.Close()
		return fmt.Errorf("sim serial %s: %w", d.path, err)
	}
	_ = os.Remove(d.path)
	if err := os.Symlink(s.Name(), d.path); err != nil {
		m.Close()
		s.Close()
		return fmt.Errorf("sim serial %s: %w", d.path, err)
	}
	d.master, d.slave = m, s
	return nil
}

// makeRaw puts the pty's line discipline in raw mode, as the driver
// would, so bytes written before the driver opens it arrive unchanged.
func makeRaw(f *os.File) error {
	fd := int(f.Fd())
	t, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return fmt.Errorf("get termios: %w", err)
	}
	t.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
	t.Oflag &^= unix.OPOST
	t.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	t.Cflag &^= unix.CSIZE | unix.PARENB
	t.Cflag |= unix.CS8
	t.Cc[unix.VMIN] = 1
	t.Cc[unix.VTIME] = 0
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, t); err != nil {
		return fmt.Errorf("set termios: %w", err)
	}
	return nil
}

// Unplug tears the pty down and removes the path: an open driver sees its
// reads fail, and reopening fails until Plug.
func (d *SerialDevice) Unplug() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.master == nil {
		return nil
	}
	err := errors.Join(os.Remove(d.path), d.master.Close(), d.slave.Close())
	d.master, d.slave = nil, nil
	if err != nil {
		return fmt.Errorf("sim serial %s: unplug: %w", d.path, err)
	}
	return nil
}

// Write sends bytes from the device to whoever has it open.
func (d *SerialDevice) Write(b []byte) error {
	d.mu.Lock()
	m := d.master
	d.mu.Unlock()
	if m == nil {
		return fmt.Errorf("sim serial %s: unplugged", d.path)
	}
	if _, err := m.Write(b); err != nil {
		return fmt.Errorf("sim serial %s: write: %w", d.path, err)
	}
	return nil
}

// Close unplugs the device for good.
func (d *SerialDevice) Close() error { return d.Unplug() }

// RDM6300 plays an RDM6300 module on a SerialDevice.
type RDM6300 struct {
	*SerialDevice
	// Repeat is the pause between repeated frames while a card is held;
	// default 0 (as fast as the pty takes them).
	Repeat time.Duration
}

// Present holds card code (10 hex digits) in the field for frames frames.
func (r *RDM6300) Present(code string, frames int) error {
	f, err := badge.RDM6300Frame(code)
	if err != nil {
		return err
	}
	for i := 0; i < frames; i++ {
		if err := r.Write(f); err != nil {
			return err
		}
		if r.Repeat > 0 {
			time.Sleep(r.Repeat)
		}
	}
	return nil
}

// Scanner plays a GM65-style line scanner on a SerialDevice.
type Scanner struct{ *SerialDevice }

// Scan sends one scanned code, CR LF terminated.
func (s Scanner) Scan(code string) error { return s.Write([]byte(code + "\r\n")) }

// Keyboard plays a keyboard-wedge reader: a FIFO at a path carrying raw
// struct input_event records, read by the evdev driver as if it were
// /dev/input/by-id/...-event-kbd (EVIOCGRAB fails on a FIFO; the driver
// logs that and reads on).
type Keyboard struct {
	path string
	mu   sync.Mutex
	f    *os.File
}

// NewKeyboard creates the FIFO at path.
func NewKeyboard(path string) (*Keyboard, error) {
	if err := unix.Mkfifo(path, 0o600); err != nil {
		return nil, fmt.Errorf("sim keyboard %s: %w", path, err)
	}
	// Opened read-write so the FIFO never reports end of file to the
	// driver while the simulated keyboard is plugged in.
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("sim keyboard %s: %w", path, err)
	}
	return &Keyboard{path: path, f: f}, nil
}

// Path returns the device path.
func (k *Keyboard) Path() string { return k.path }

// Type types text followed by Enter, with shift where needed.
func (k *Keyboard) Type(text string) error {
	var b []byte
	key := func(code uint16, v int32) {
		b = badge.AppendInputEvent(b, badge.InputEvent{Type: 1, Code: code, Value: v})
		b = badge.AppendInputEvent(b, badge.InputEvent{}) // SYN_REPORT
	}
	for i := 0; i < len(text); i++ {
		code, shift, ok := badge.KeyCodeFor(text[i])
		if !ok {
			return fmt.Errorf("sim keyboard: cannot type %q", text[i])
		}
		if shift {
			key(42, 1)
		}
		key(code, 1)
		key(code, 0)
		if shift {
			key(42, 0)
		}
	}
	key(28, 1)
	key(28, 0)
	return k.WriteRaw(b)
}

// WriteRaw writes raw input_event bytes.
func (k *Keyboard) WriteRaw(b []byte) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if _, err := k.f.Write(b); err != nil {
		return fmt.Errorf("sim keyboard %s: %w", k.path, err)
	}
	return nil
}

// Close removes the keyboard.
func (k *Keyboard) Close() error {
	return errors.Join(k.f.Close(), os.Remove(k.path))
}

// Wiegand plays a Wiegand reader on two pins: a bit is a Low pulse on D0 (0)
// or D1 (1). Send waits until the driver has taken each edge before the next
// one, so the order of bits across the two lines is deterministic.
type Wiegand struct {
	D0, D1 *Pin
	// Timeout bounds each wait for the driver; default 5s.
	Timeout time.Duration
}

// Send pulses bits (each 0 or 1) out.
func (w Wiegand) Send(bits []byte) error {
	timeout := w.Timeout
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	for i, b := range bits {
		p := w.D0
		if b == 1 {
			p = w.D1
		}
		p.Set(gpio.Low)
		p.Set(gpio.High)
		if !p.AwaitIdle(timeout) {
			return fmt.Errorf("sim wiegand: bit %d not taken by the driver", i)
		}
	}
	return nil
}

// Present sends an n-bit (26 or 34) frame carrying data.
func (w Wiegand) Present(n int, data uint64) error {
	bits, err := badge.WiegandFrame(n, data)
	if err != nil {
		return err
	}
	return w.Send(bits)
}

// Badges is an in-memory badge reader for the kiosk simulator: Present
// makes the next Read return the badge.
type Badges struct {
	ch     chan badge.Badge
	closed chan struct{}
	once   sync.Once
}

// NewBadges returns an empty in-memory reader.
func NewBadges() *Badges {
	return &Badges{ch: make(chan badge.Badge, 16), closed: make(chan struct{})}
}

// Present queues a badge; source says which reader kind it plays.
func (b *Badges) Present(code, source string) {
	b.ch <- badge.Badge{Code: code, Source: source, At: time.Now()}
}

// Read implements badge.Reader.
func (b *Badges) Read(ctx context.Context) (badge.Badge, error) {
	select {
	case x := <-b.ch:
		return x, nil
	case <-ctx.Done():
		return badge.Badge{}, ctx.Err()
	case <-b.closed:
		return badge.Badge{}, badge.ErrClosed
	}
}

// Close implements badge.Reader.
func (b *Badges) Close() error {
	b.once.Do(func() { close(b.closed) })
	return nil
}

// Interface guards.
var _ badge.Reader = (*Badges)(nil)
