package wiring

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/i2c/i2creg"
	"periph.io/x/devices/v3/mcp23xxx"
	"periph.io/x/host/v3"

	"keycab.dev/keycab/hardware/badge"
	"keycab.dev/keycab/hardware/camera"
	"keycab.dev/keycab/hardware/input"
	"keycab.dev/keycab/hardware/lock"
	"keycab.dev/keycab/kiosk"
)

// Hardware is the cabinet's hardware, opened from a wiring file.
type Hardware struct {
	Locks    *lock.Bank
	Inputs   *input.Watcher
	Scanners []kiosk.Scanner
	closers  []io.Closer
}

// Options tune Open; the zero value opens the real Pi.
type Options struct {
	Logger *slog.Logger
	// Init loads periph's host drivers; nil means host.Init.
	Init func() error
	// Pins looks pins up by name; nil means periph's registry.
	Pins func(name string) gpio.PinIO
}

// Open initialises periph, the expanders, the locks (secured before Open
// returns), the inputs, the badge readers and the camera.
func (w *Wiring) Open(o Options) (*Hardware, error) {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Init == nil {
		o.Init = func() error { _, err := host.Init(); return err }
	}
	if err := o.Init(); err != nil {
		return nil, fmt.Errorf("periph host drivers: %w", err)
	}
	h := &Hardware{}
	fail := func(err error) (*Hardware, error) {
		h.Close()
		return nil, err
	}
	for _, e := range w.Expanders {
		bus, err := i2creg.Open(e.Bus)
		if err != nil {
			return fail(fmt.Errorf("expander %s: open I2C bus %s: %w", e.Name, e.Bus, err))
		}
		h.closers = append(h.closers, bus)
		dev, err := mcp23xxx.NewI2C(bus, mcp23xxx.MCP23017, e.Address)
		if err != nil {
			return fail(fmt.Errorf("expander %s: MCP23017 at %#x: %w", e.Name, e.Address, err))
		}
		h.closers = append(h.closers, closerFunc(dev.Close))
	}
	var err error
	h.Locks, err = lock.Open(lock.Config{Locks: w.Locks, Pins: o.Pins, Logger: o.Logger})
	if h.Locks == nil {
		return fail(fmt.Errorf("locks: %w", err))
	}
	if err != nil {
		// Every other output is secure; a cabinet with a dead lock must
		// not run as if it were whole.
		return fail(fmt.Errorf("locks: %w", err))
	}
	h.Inputs, err = input.Open(input.Config{Inputs: w.Inputs, Pins: o.Pins, Logger: o.Logger})
	if err != nil {
		return fail(fmt.Errorf("inputs: %w", err))
	}
	for _, r := range w.Readers {
		sc, err := openReader(r, o)
		if err != nil {
			return fail(err)
		}
		h.Scanners = append(h.Scanners, sc)
		if c, ok := sc.(io.Closer); ok {
			h.closers = append(h.closers, c)
		}
	}
	if src := w.Camera.source(o.Logger); src != nil {
		h.Scanners = append(h.Scanners, kiosk.NewQRScanner(src))
	}
	return h, nil
}

func openReader(r Reader, o Options) (kiosk.Scanner, error) {
	serial := badge.SerialConfig{Port: r.Port, Logger: o.Logger}
	switch r.Type {
	case "rdm6300":
		return badge.NewRDM6300(badge.RDM6300Config{SerialConfig: serial}), nil
	case "line":
		return badge.NewLine(serial), nil
	case "wedge":
		return badge.NewWedge(badge.WedgeConfig{SerialConfig: serial}), nil
	case "wiegand":
		wg, err := badge.NewWiegand(badge.WiegandConfig{D0: r.D0, D1: r.D1, Pins: o.Pins, Logger: o.Logger})
		if err != nil {
			return nil, fmt.Errorf("reader %s: %w", r.Name, err)
		}
		return wg, nil
	}
	return nil, fmt.Errorf("reader %s: unknown type %q", r.Name, r.Type)
}

// source returns the camera's frame source, or nil for none.
func (c Camera) source(log *slog.Logger) *camera.Source {
	w, h, fps := c.Width, c.Height, c.FPS
	if w == 0 || h == 0 {
		w, h = 640, 480
	}
	if fps == 0 {
		fps = 10
	}
	var open func(ctx context.Context) (camera.Stream, error)
	switch c.Type {
	case "rpicam":
		cmd, err := camera.Rpicam(w, h, fps)
		if err != nil {
			log.Error("camera", "err", err)
			return nil
		}
		open = cmd.Open
	case "v4l2":
		open = camera.Webcam{Device: c.Device, Format: camera.FormatYUYV, Width: w, Height: h}.Open
	default:
		return nil
	}
	return camera.NewSource(camera.SourceConfig{Open: open, Logger: log})
}

// Close releases everything Open opened, securing the locks first.
func (h *Hardware) Close() error {
	var errs []error
	if h.Locks != nil {
		errs = append(errs, h.Locks.Halt())
	}
	if h.Inputs != nil {
		errs = append(errs, h.Inputs.Close())
	}
	for i := len(h.closers) - 1; i >= 0; i-- {
		errs = append(errs, h.closers[i].Close())
	}
	return errors.Join(errs...)
}

type closerFunc func() error

func (f closerFunc) Close() error { return f() }
