// Package wiring reads the kiosk's wiring file, /etc/keycab/kiosk.conf: how
// the cabinet's locks, sensors, badge readers, camera and I/O expanders are
// connected to this Raspberry Pi, and builds the hardware drivers from it.
//
// The file is lines of "key = value" under section headers "[kind name]";
// "#" starts a comment; blank lines are ignored. Every error names the file
// and line. testdata/kiosk.conf is a complete, commented example, and the
// Debian package installs it.
//
// Sections:
//
//	[kiosk]                data = DIR, hq = URL
//	[expander NAME]        type = mcp23017, bus = I2C bus name or number, address = 0x20
//	[lock NAME]            pin, active_low, fail_safe, mode = hold|pulse, pulse, max_on, rest (a duration, or none)
//	[input NAME]           kind = door|key|tamper|emergency, slot (for key), pin,
//	                       pull = up|down|none, active_low, poll
//	[reader NAME]          type = rdm6300|line|wedge|wiegand; port or device;
//	                       d0, d1 (wiegand)
//	[camera]               type = rpicam|v4l2|none, device, width, height, fps
//	[buzzer]               lock = the lock section that drives the buzzer
//
// Lock and input names are what the HQ config's cabinet and slots refer to
// (Cabinet.DoorLock, Slot.Lock, Slot.Sensor).
package wiring

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"periph.io/x/conn/v3/gpio"

	"keycab.dev/keycab/hardware/input"
	"keycab.dev/keycab/hardware/lock"
)

// Wiring is a parsed wiring file.
type Wiring struct {
	DataDir   string
	HQ        string
	Expanders []Expander
	Locks     []lock.Lock
	Inputs    []input.Input
	Readers   []Reader
	Camera    Camera
	Buzzer    string // lock name, or empty
}

// Expander is an I²C GPIO expander whose pins join periph's registry.
type Expander struct {
	Name    string
	Type    string // mcp23017
	Bus     string // I²C bus, e.g. "1" or "/dev/i2c-1"
	Address uint16
}

// Reader is a badge reader.
type Reader struct {
	Name   string
	Type   string // rdm6300, line, wedge, wiegand
	Port   string // serial port or evdev device
	D0, D1 string // Wiegand data lines
}

// Camera is the QR camera.
type Camera struct {
	Type          string // rpicam, v4l2, none
	Device        string // v4l2 device
	Width, Height int
	FPS           int
}

// Load reads and validates the wiring file at path.
func Load(path string) (*Wiring, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return Parse(f, path)
}

// lineError is an error at a line of the file.
type lineError struct {
	file string
	line int
	msg  string
}

func (e *lineError) Error() string { return fmt.Sprintf("%s:%d: %s", e.file, e.line, e.msg) }

// Parse reads a wiring file; name is used in error messages.
func Parse(r io.Reader, name string) (*Wiring, error) {
	w := &Wiring{DataDir: "/var/lib/keycab", Camera: Camera{Type: "none"}}
	sc := bufio.NewScanner(r)
	var (
		kind, sect string
		lineNo     int
		lk         *lock.Lock
		in         *input.Input
		rd         *Reader
		ex         *Expander
		seen       = map[string]int{} // "kind name" -> line
		keys       map[string]bool
	)
	fail := func(format string, args ...any) error {
		return &lineError{file: name, line: lineNo, msg: fmt.Sprintf(format, args...)}
	}
	for sc.Scan() {
		lineNo++
		line := sc.Text()
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		if strings.HasPrefix(line, "[") {
			if !strings.HasSuffix(line, "]") {
				return nil, fail("section header %q lacks its closing ]", line)
			}
			f := strings.Fields(strings.Trim(line, "[]"))
			if len(f) == 0 || len(f) > 2 {
				return nil, fail("section header %q: want [kind] or [kind name]", line)
			}
			kind, sect = f[0], ""
			if len(f) == 2 {
				sect = f[1]
			}
			named := map[string]bool{"lock": true, "input": true, "reader": true, "expander": true}
			single := map[string]bool{"kiosk": true, "camera": true, "buzzer": true}
			switch {
			case named[kind] && sect == "":
				return nil, fail("[%s] needs a name: [%s NAME]", kind, kind)
			case single[kind] && sect != "":
				return nil, fail("[%s] takes no name", kind)
			case !named[kind] && !single[kind]:
				return nil, fail("unknown section kind %q (want kiosk, expander, lock, input, reader, camera or buzzer)", kind)
			}
			id := kind + " " + sect
			if prev, ok := seen[id]; ok {
				return nil, fail("[%s] repeats the section of line %d", strings.TrimSpace(id), prev)
			}
			seen[id] = lineNo
			keys = map[string]bool{}
			lk, in, rd, ex = nil, nil, nil, nil
			switch kind {
			case "lock":
				w.Locks = append(w.Locks, lock.Lock{Name: sect, Mode: lock.Hold})
				lk = &w.Locks[len(w.Locks)-1]
			case "input":
				w.Inputs = append(w.Inputs, input.Input{Name: sect})
				in = &w.Inputs[len(w.Inputs)-1]
			case "reader":
				w.Readers = append(w.Readers, Reader{Name: sect})
				rd = &w.Readers[len(w.Readers)-1]
			case "expander":
				w.Expanders = append(w.Expanders, Expander{Name: sect, Type: "mcp23017"})
				ex = &w.Expanders[len(w.Expanders)-1]
			}
			continue
		}
		if kind == "" {
			return nil, fail("%q comes before any [section]", line)
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return nil, fail("want key = value, got %q", line)
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if keys[k] {
			return nil, fail("%s is set twice in this section", k)
		}
		keys[k] = true
		var err error
		switch kind {
		case "kiosk":
			err = w.setKiosk(k, v)
		case "lock":
			err = setLock(lk, k, v)
		case "input":
			err = setInput(in, k, v)
		case "reader":
			err = setReader(rd, k, v)
		case "expander":
			err = setExpander(ex, k, v)
		case "camera":
			err = w.Camera.set(k, v)
		case "buzzer":
			if k != "lock" {
				err = fmt.Errorf("unknown key %q (want lock)", k)
			}
			w.Buzzer = v
		}
		if err != nil {
			return nil, fail("[%s] %v", strings.TrimSpace(kind+" "+sect), err)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if err := w.validate(seen); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return w, nil
}

func (w *Wiring) setKiosk(k, v string) error {
	switch k {
	case "data":
		w.DataDir = v
	case "hq":
		w.HQ = v
	default:
		return fmt.Errorf("unknown key %q (want data or hq)", k)
	}
	return nil
}

func parseBool(v string) (bool, error) {
	switch strings.ToLower(v) {
	case "true", "yes", "on", "1":
		return true, nil
	case "false", "no", "off", "0":
		return false, nil
	}
	return false, fmt.Errorf("%q is not true or false", v)
}

func parseDuration(k, v string) (time.Duration, error) {
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%s = %q is not a positive duration such as 2s or 500ms", k, v)
	}
	return d, nil
}

func setLock(l *lock.Lock, k, v string) (err error) {
	switch k {
	case "pin":
		l.Pin = v
	case "active_low":
		l.ActiveLow, err = parseBool(v)
	case "fail_safe":
		l.FailSafe, err = parseBool(v)
	case "mode":
		switch v {
		case "hold":
			l.Mode = lock.Hold
		case "pulse":
			l.Mode = lock.Pulse
		default:
			err = fmt.Errorf("mode %q: want hold or pulse", v)
		}
	case "pulse":
		l.Pulse, err = parseDuration(k, v)
	case "max_on":
		l.MaxOn, err = parseDuration(k, v)
	case "rest":
		if v == "none" {
			l.Rest = -1 // an output that does not heat, such as a buzzer
		} else {
			l.Rest, err = parseDuration(k, v)
		}
	default:
		err = fmt.Errorf("unknown key %q (want pin, active_low, fail_safe, mode, pulse, max_on or rest)", k)
	}
	return err
}

func setInput(in *input.Input, k, v string) (err error) {
	switch k {
	case "kind":
		kinds := map[string]input.Kind{"door": input.Door, "key": input.KeyPresent, "tamper": input.Tamper, "emergency": input.Emergency}
		kd, ok := kinds[v]
		if !ok {
			return fmt.Errorf("kind %q: want door, key, tamper or emergency", v)
		}
		in.Kind = kd
	case "slot":
		in.Slot, err = strconv.Atoi(v)
		if err == nil && in.Slot < 1 {
			err = errors.New("slot counts from 1")
		} else if err != nil {
			err = fmt.Errorf("slot %q is not a number", v)
		}
	case "pin":
		in.Pin = v
	case "pull":
		pulls := map[string]gpio.Pull{"up": gpio.PullUp, "down": gpio.PullDown, "none": gpio.Float}
		p, ok := pulls[v]
		if !ok {
			return fmt.Errorf("pull %q: want up, down or none", v)
		}
		in.Pull = p
	case "active_low":
		in.ActiveLow, err = parseBool(v)
	case "poll":
		in.Poll, err = parseBool(v)
	default:
		err = fmt.Errorf("unknown key %q (want kind, slot, pin, pull, active_low or poll)", k)
	}
	return err
}

func setReader(r *Reader, k, v string) error {
	switch k {
	case "type":
		switch v {
		case "rdm6300", "line", "wedge", "wiegand":
			r.Type = v
		default:
			return fmt.Errorf("type %q: want rdm6300, line, wedge or wiegand", v)
		}
	case "port", "device":
		r.Port = v
	case "d0":
		r.D0 = v
	case "d1":
		r.D1 = v
	default:
		return fmt.Errorf("unknown key %q (want type, port, device, d0 or d1)", k)
	}
	return nil
}

func setExpander(e *Expander, k, v string) error {
	switch k {
	case "type":
		if v != "mcp23017" {
			return fmt.Errorf("type %q: only mcp23017 is supported", v)
		}
	case "bus":
		e.Bus = v
	case "address":
		a, err := strconv.ParseUint(v, 0, 7)
		if err != nil {
			return fmt.Errorf("address %q is not a 7-bit I2C address such as 0x20", v)
		}
		e.Address = uint16(a)
	default:
		return fmt.Errorf("unknown key %q (want type, bus or address)", k)
	}
	return nil
}

func (c *Camera) set(k, v string) (err error) {
	switch k {
	case "type":
		switch v {
		case "rpicam", "v4l2", "none":
			c.Type = v
		default:
			return fmt.Errorf("type %q: want rpicam, v4l2 or none", v)
		}
	case "device":
		c.Device = v
	case "width", "height", "fps":
		n, perr := strconv.Atoi(v)
		if perr != nil || n <= 0 {
			return fmt.Errorf("%s = %q is not a positive number", k, v)
		}
		switch k {
		case "width":
			c.Width = n
		case "height":
			c.Height = n
		default:
			c.FPS = n
		}
	default:
		err = fmt.Errorf("unknown key %q (want type, device, width, height or fps)", k)
	}
	return err
}

// validate checks what a section cannot check alone; errors name the
// section's line.
func (w *Wiring) validate(seen map[string]int) error {
	at := func(kind, name string) string { return fmt.Sprintf("line %d", seen[kind+" "+name]) }
	for _, l := range w.Locks {
		if l.Pin == "" {
			return fmt.Errorf("%s: [lock %s] has no pin", at("lock", l.Name), l.Name)
		}
	}
	slots := map[int]string{}
	for _, in := range w.Inputs {
		switch {
		case in.Pin == "":
			return fmt.Errorf("%s: [input %s] has no pin", at("input", in.Name), in.Name)
		case in.Kind == 0:
			return fmt.Errorf("%s: [input %s] has no kind", at("input", in.Name), in.Name)
		case in.Kind == input.KeyPresent && in.Slot == 0:
			return fmt.Errorf("%s: [input %s] is a key sensor without a slot", at("input", in.Name), in.Name)
		case in.Kind == input.KeyPresent && slots[in.Slot] != "":
			return fmt.Errorf("%s: [input %s] senses slot %d, as [input %s] does", at("input", in.Name), in.Name, in.Slot, slots[in.Slot])
		}
		if in.Kind == input.KeyPresent {
			slots[in.Slot] = in.Name
		}
	}
	for _, r := range w.Readers {
		switch {
		case r.Type == "":
			return fmt.Errorf("%s: [reader %s] has no type", at("reader", r.Name), r.Name)
		case r.Type == "wiegand" && (r.D0 == "" || r.D1 == ""):
			return fmt.Errorf("%s: [reader %s] needs d0 and d1 pins", at("reader", r.Name), r.Name)
		case r.Type != "wiegand" && r.Port == "":
			return fmt.Errorf("%s: [reader %s] needs a port (or device)", at("reader", r.Name), r.Name)
		}
	}
	for _, e := range w.Expanders {
		if e.Bus == "" || e.Address == 0 {
			return fmt.Errorf("%s: [expander %s] needs a bus and an address", at("expander", e.Name), e.Name)
		}
	}
	if w.Buzzer != "" {
		found := false
		for _, l := range w.Locks {
			found = found || l.Name == w.Buzzer
		}
		if !found {
			return fmt.Errorf("%s: [buzzer] names lock %q, which no [lock] section defines", at("buzzer", ""), w.Buzzer)
		}
	}
	c := w.Camera
	if c.Type == "rpicam" && c.Width%64 != 0 {
		return fmt.Errorf("%s: [camera] rpicam width %d must be a multiple of 64", at("camera", ""), c.Width)
	}
	if c.Type == "v4l2" && c.Device == "" {
		return fmt.Errorf("%s: [camera] v4l2 needs a device", at("camera", ""))
	}
	return nil
}
