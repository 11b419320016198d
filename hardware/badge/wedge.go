package badge

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Linux evdev constants (linux/input.h, linux/input-event-codes.h).
const (
	evKey      = 0x01
	evioCGRAB  = 0x40044590 // _IOW('E', 0x90, int)
	keyRelease = 0
	keyPress   = 1
	keyRepeat  = 2
)

// InputEventSize is the size of struct input_event on this platform: a
// struct timeval of two longs, then type, code and value.
const InputEventSize = int(2*unsafe.Sizeof(uintptr(0))) + 8

// InputEvent is the part of struct input_event the decoder uses.
type InputEvent struct {
	Type  uint16
	Code  uint16
	Value int32
}

// ParseInputEvent decodes one native-endian struct input_event.
func ParseInputEvent(b []byte) (InputEvent, error) {
	if len(b) != InputEventSize {
		return InputEvent{}, fmt.Errorf("input event is %d bytes, want %d", len(b), InputEventSize)
	}
	o := InputEventSize - 8
	return InputEvent{
		Type:  binary.NativeEndian.Uint16(b[o:]),
		Code:  binary.NativeEndian.Uint16(b[o+2:]),
		Value: int32(binary.NativeEndian.Uint32(b[o+4:])),
	}, nil
}

// AppendInputEvent appends ev as a native struct input_event with a zero
// timestamp; the simulator and tests use it.
func AppendInputEvent(b []byte, ev InputEvent) []byte {
	b = append(b, make([]byte, InputEventSize-8)...)
	b = binary.NativeEndian.AppendUint16(b, ev.Type)
	b = binary.NativeEndian.AppendUint16(b, ev.Code)
	return binary.NativeEndian.AppendUint32(b, uint32(ev.Value))
}

// US keyboard layout: key code to unshifted and shifted character.
var keymap = map[uint16][2]byte{
	2: {'1', '!'}, 3: {'2', '@'}, 4: {'3', '#'}, 5: {'4', '$'}, 6: {'5', '%'},
	7: {'6', '^'}, 8: {'7', '&'}, 9: {'8', '*'}, 10: {'9', '('}, 11: {'0', ')'},
	12: {'-', '_'}, 13: {'=', '+'},
	16: {'q', 'Q'}, 17: {'w', 'W'}, 18: {'e', 'E'}, 19: {'r', 'R'}, 20: {'t', 'T'},
	21: {'y', 'Y'}, 22: {'u', 'U'}, 23: {'i', 'I'}, 24: {'o', 'O'}, 25: {'p', 'P'},
	26: {'[', '{'}, 27: {']', '}'},
	30: {'a', 'A'}, 31: {'s', 'S'}, 32: {'d', 'D'}, 33: {'f', 'F'}, 34: {'g', 'G'},
	35: {'h', 'H'}, 36: {'j', 'J'}, 37: {'k', 'K'}, 38: {'l', 'L'},
	39: {';', ':'}, 40: {'\'', '"'}, 41: {'`', '~'}, 43: {'\\', '|'},
	44: {'z', 'Z'}, 45: {'x', 'X'}, 46: {'c', 'C'}, 47: {'v', 'V'}, 48: {'b', 'B'},
	49: {'n', 'N'}, 50: {'m', 'M'}, 51: {',', '<'}, 52: {'.', '>'}, 53: {'/', '?'},
	55: {'*', '*'}, 57: {' ', ' '},
	71: {'7', '7'}, 72: {'8', '8'}, 73: {'9', '9'}, 74: {'-', '-'},
	75: {'4', '4'}, 76: {'5', '5'}, 77: {'6', '6'}, 78: {'+', '+'},
	79: {'1', '1'}, 80: {'2', '2'}, 81: {'3', '3'}, 82: {'0', '0'}, 83: {'.', '.'},
	98: {'/', '/'},
}

const (
	keyEnter      = 28
	keyKPEnter    = 96
	keyLeftShift  = 42
	keyRightShift = 54
	keyTab        = 15
)

// KeyCodeFor returns the key code and shift state that type c on a US
// layout; the simulator uses it to play a wedge reader.
func KeyCodeFor(c byte) (code uint16, shift bool, ok bool) {
	for k, v := range keymap {
		if v[0] == c && k < 71 { // prefer the main block over the keypad
			return k, false, true
		}
	}
	for k, v := range keymap {
		if v[1] == c && k < 71 {
			return k, true, true
		}
	}
	if c == '\n' {
		return keyEnter, false, true
	}
	return 0, false, false
}

// KeyDecoder turns the raw evdev stream of a keyboard-wedge reader into
// lines: key presses are typed (US layout, shift honoured), Enter or Tab
// ends a code. Keys outside the layout reject the line. The zero value is
// ready to use.
type KeyDecoder struct {
	MaxLen int // default 512

	partial []byte // bytes of an event split across reads
	line    []byte
	shift   int
	bad     string
}

// Feed consumes raw struct input_event bytes.
func (d *KeyDecoder) Feed(p []byte) []Frame {
	d.partial = append(d.partial, p...)
	var out []Frame
	for len(d.partial) >= InputEventSize {
		ev, _ := ParseInputEvent(d.partial[:InputEventSize])
		d.partial = d.partial[InputEventSize:]
		if f, ok := d.Event(ev); ok {
			out = append(out, f)
		}
	}
	if len(d.partial) == 0 {
		d.partial = nil
	}
	return out
}

// Event consumes one input event and returns a Frame when a line ends.
func (d *KeyDecoder) Event(ev InputEvent) (Frame, bool) {
	if ev.Type != evKey {
		return Frame{}, false
	}
	max := d.MaxLen
	if max <= 0 {
		max = 512
	}
	switch ev.Code {
	case keyLeftShift, keyRightShift:
		if ev.Value == keyPress {
			d.shift++
		} else if ev.Value == keyRelease && d.shift > 0 {
			d.shift--
		}
		return Frame{}, false
	}
	if ev.Value != keyPress && ev.Value != keyRepeat {
		return Frame{}, false
	}
	switch ev.Code {
	case keyEnter, keyKPEnter, keyTab:
		line, bad := d.line, d.bad
		d.line, d.bad = nil, ""
		switch {
		case bad != "":
			return Frame{Err: errors.New(bad), Raw: line}, true
		case len(line) == 0:
			return Frame{}, false
		}
		return Frame{Code: string(line), Raw: line}, true
	}
	ch, ok := keymap[ev.Code]
	switch {
	case !ok:
		if d.bad == "" {
			d.bad = fmt.Sprintf("key code %d not in layout", ev.Code)
		}
	case len(d.line) >= max:
		d.bad = fmt.Sprintf("line longer than %d characters", max)
	case d.shift > 0:
		d.line = append(d.line, ch[1])
	default:
		d.line = append(d.line, ch[0])
	}
	return Frame{}, false
}

// WedgeConfig configures a keyboard-wedge reader.
type WedgeConfig struct {
	SerialConfig // Port is the evdev path, e.g. /dev/input/by-id/usb-...-event-kbd; Mode unused
	// NoGrab skips EVIOCGRAB (the reader's keys then also reach the
	// console). Without it a failing grab is logged and reading goes on.
	NoGrab bool
}

type evdevPort struct {
	f    *os.File
	poll time.Duration
}

func (p *evdevPort) Read(b []byte) (int, error) {
	if err := p.f.SetReadDeadline(time.Now().Add(p.poll)); err != nil {
		// Not pollable: a plain read, which Close cannot interrupt.
		return p.f.Read(b)
	}
	n, err := p.f.Read(b)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return n, nil
	}
	return n, err
}

func (p *evdevPort) Close() error { return p.f.Close() }

// NewWedge returns a reader for a USB keyboard-wedge badge reader. The
// device is opened (and grabbed) on the first Read.
func NewWedge(cfg WedgeConfig) Reader {
	poll := cfg.Poll
	if poll <= 0 {
		poll = 100 * time.Millisecond
	}
	var r *streamReader
	open := func() (port, error) {
		f, err := os.OpenFile(cfg.Port, os.O_RDONLY|unix.O_NONBLOCK, 0)
		if err != nil {
			return nil, fmt.Errorf("open %s: %w", cfg.Port, err)
		}
		if !cfg.NoGrab {
			if err := grab(f); err != nil {
				r.log.Warn("badge: cannot grab keyboard, keys also reach the console", "err", err)
			}
		}
		return &evdevPort{f: f, poll: poll}, nil
	}
	r = newStreamReader(cfg.Port, "wedge", open, &KeyDecoder{}, cfg.Clock, cfg.Logger, cfg.Backoff)
	return r
}

// grab asks evdev for exclusive access to f (EVIOCGRAB); it is released
// when f is closed.
func grab(f *os.File) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return fmt.Errorf("grab %s: %w", f.Name(), err)
	}
	var ioErr error
	if err := rc.Control(func(fd uintptr) {
		ioErr = unix.IoctlSetInt(int(fd), evioCGRAB, 1) // the kernel takes the value itself
	}); err != nil {
		return fmt.Errorf("grab %s: %w", f.Name(), err)
	}
	if ioErr != nil {
		return fmt.Errorf("grab %s: %w", f.Name(), ioErr)
	}
	return nil
}
