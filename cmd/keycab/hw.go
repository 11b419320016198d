package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"keycab.dev/keycab/hardware/badge"
	"keycab.dev/keycab/hardware/input"
	"keycab.dev/keycab/hardware/lock"
	"keycab.dev/keycab/hardware/sim"
	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpioreg"
	"periph.io/x/conn/v3/pin"
	"periph.io/x/host/v3"
)

// Simulated cabinet pin names used by --sim.
var simPins = []string{"DOOR", "TAMPER", "EMERGENCY", "SLOT1_KEY", "SLOT2_KEY", "SLOT1_LOCK", "SLOT2_LOCK", "DOOR_LOCK", "WG_D0", "WG_D1"}

// hwPins returns the pin lookup: the real registry after host.Init, or a
// simulated board registered under the cabinet's pin names.
func hwPins(simulate bool, extra ...string) (board *sim.Board, cleanup func(), err error) {
	if !simulate {
		if _, err := host.Init(); err != nil {
			return nil, nil, fmt.Errorf("init gpio: %w", err)
		}
		return nil, func() {}, nil
	}
	board = sim.NewBoard(append(append([]string(nil), simPins...), extra...)...)
	unregister, err := board.Register()
	if err != nil {
		return nil, nil, err
	}
	return board, func() { _ = unregister() }, nil
}

func hwLogger(e *env) *slog.Logger {
	return slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

func hwCommand() *command {
	return &command{
		name:    "hw",
		summary: "test cabinet hardware: pins, locks, inputs, badge readers",
		sub:     []*command{hwPinsCommand(), hwLockCommand(), hwWatchCommand(), hwBadgeCommand()},
	}
}

func hwPinsCommand() *command {
	return &command{
		name:    "pins",
		summary: "list the GPIO pins periph knows by name",
		usage:   "[--sim]",
		flags: func(fs *flag.FlagSet) func(context.Context, *env, []string) error {
			simulate := fs.Bool("sim", false, "use the simulated cabinet's pins")
			return func(ctx context.Context, e *env, args []string) error {
				_, cleanup, err := hwPins(*simulate)
				if err != nil {
					return err
				}
				defer cleanup()
				pins := gpioreg.All()
				sort.Slice(pins, func(i, j int) bool { return pins[i].Name() < pins[j].Name() })
				for _, p := range pins {
					fn := "unknown"
					if pf, ok := p.(pin.PinFunc); ok {
						fn = string(pf.Func())
					}
					fmt.Fprintf(e.stdout, "%s\t%s\n", p.Name(), fn)
				}
				for _, p := range gpioreg.Aliases() {
					fmt.Fprintf(e.stdout, "%s\talias\n", p.Name())
				}
				return nil
			}
		},
	}
}

func hwLockCommand() *command {
	return &command{
		name:    "lock",
		summary: "release one lock output, then secure it",
		usage:   "PIN [--pulse 2s] [--active-low] [--fail-safe] [--sim]",
		flags: func(fs *flag.FlagSet) func(context.Context, *env, []string) error {
			pulse := fs.Duration("pulse", 2*time.Second, "how long to release")
			maxOn := fs.Duration("max", 10*time.Second, "driver-enforced maximum release")
			activeLow := fs.Bool("active-low", false, "the output energises when Low")
			failSafe := fs.Bool("fail-safe", false, "energised means locked (maglock)")
			simulate := fs.Bool("sim", false, "use a simulated pin")
			return func(ctx context.Context, e *env, args []string) error {
				if len(args) != 1 {
					fmt.Fprintln(e.stderr, "hw lock: want one pin name")
					return errUsage
				}
				name := args[0]
				board, cleanup, err := hwPins(*simulate, name)
				if err != nil {
					return err
				}
				defer cleanup()
				bank, err := lock.Open(lock.Config{
					Locks:  []lock.Lock{{Name: name, Pin: name, ActiveLow: *activeLow, FailSafe: *failSafe, Mode: lock.Hold, MaxOn: *maxOn}},
					Logger: hwLogger(e),
				})
				if err != nil {
					return err
				}
				defer bank.Halt()
				if err := bank.Unlock(name, *pulse); err != nil {
					return err
				}
				until := bank.States()[0].Until
				fmt.Fprintf(e.stdout, "%s released until %s\n", name, until.Format(time.TimeOnly))
				t := time.NewTimer(time.Until(until))
				defer t.Stop()
				select {
				case <-t.C:
				case <-ctx.Done():
				}
				if err := bank.Halt(); err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "%s secured\n", name)
				if board != nil {
					var w []string
					for _, l := range board.Pin(name).Writes() {
						w = append(w, l.String())
					}
					fmt.Fprintf(e.stdout, "sim pin %s writes: %s\n", name, strings.Join(w, " "))
				}
				return nil
			}
		},
	}
}

type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

func hwWatchCommand() *command {
	return &command{
		name:    "watch",
		summary: "print debounced input changes",
		usage:   "[--door PIN] [--slot PIN]... [--tamper PIN] [--emergency PIN] [--for 10s] [--count N] [--sim]",
		flags: func(fs *flag.FlagSet) func(context.Context, *env, []string) error {
			door := fs.String("door", "DOOR", "door switch pin (active high: open)")
			tamper := fs.String("tamper", "TAMPER", "tamper switch pin (active high)")
			emergency := fs.String("emergency", "EMERGENCY", "fire panel contact pin (active low)")
			var slots stringList
			fs.Var(&slots, "slot", "key-present switch pin of the next slot (active low); repeatable")
			dur := fs.Duration("for", 0, "stop after this long (0: until interrupted)")
			count := fs.Int("count", 0, "stop after this many events (0: no limit)")
			simulate := fs.Bool("sim", false, "watch the simulated cabinet while a script opens the door and moves key 1")
			return func(ctx context.Context, e *env, args []string) error {
				if len(slots) == 0 {
					slots = stringList{"SLOT1_KEY", "SLOT2_KEY"}
				}
				board, cleanup, err := hwPins(*simulate)
				if err != nil {
					return err
				}
				defer cleanup()
				ins := []input.Input{
					{Name: "door", Kind: input.Door, Pin: *door, Pull: gpio.PullDown},
					{Name: "tamper", Kind: input.Tamper, Pin: *tamper, Pull: gpio.PullDown},
					{Name: "emergency", Kind: input.Emergency, Pin: *emergency, Pull: gpio.PullUp, ActiveLow: true},
				}
				for i, p := range slots {
					ins = append(ins, input.Input{Name: fmt.Sprintf("slot%d", i+1), Kind: input.KeyPresent, Slot: i + 1, Pin: p, Pull: gpio.PullUp, ActiveLow: true})
				}
				if board != nil {
					board.Pin("SLOT1_KEY").Set(gpio.Low) // key 1 in its slot
				}
				w, err := input.Open(input.Config{Inputs: ins, Logger: hwLogger(e)})
				if err != nil {
					return err
				}
				defer w.Close()
				for _, s := range w.States() {
					fmt.Fprintf(e.stdout, "%s\t%s\tactive=%v\tinitial\n", s.Input, s.Kind, s.Active)
				}
				if board != nil {
					go playCabinet(ctx, board)
					if *count == 0 {
						*count = 4
					}
				}
				if *dur > 0 {
					var cancel context.CancelFunc
					ctx, cancel = context.WithTimeout(ctx, *dur)
					defer cancel()
				}
				for n := 0; *count == 0 || n < *count; n++ {
					select {
					case ev := <-w.Events():
						fmt.Fprintf(e.stdout, "%s\t%s\tactive=%v\t+%v\n", ev.Input, ev.Kind, ev.Active, ev.Mono.Round(time.Millisecond))
					case <-ctx.Done():
						return nil
					}
				}
				return nil
			}
		},
	}
}

// playCabinet is the --sim script: open the door, take key 1, put it
// back, close the door; each step held well past the debounce time.
func playCabinet(ctx context.Context, b *sim.Board) {
	steps := []struct {
		pin string
		l   gpio.Level
	}{{"DOOR", gpio.High}, {"SLOT1_KEY", gpio.High}, {"SLOT1_KEY", gpio.Low}, {"DOOR", gpio.Low}}
	for _, s := range steps {
		b.Pin(s.pin).Set(s.l)
		select {
		case <-time.After(150 * time.Millisecond):
		case <-ctx.Done():
			return
		}
	}
}

func hwBadgeCommand() *command {
	return &command{
		name:    "badge",
		summary: "print badges as a reader reports them",
		usage:   "--port DEVICE --proto rdm6300|line|wedge|wiegand [--d0 PIN --d1 PIN] [--count N] [--sim CODE]",
		flags: func(fs *flag.FlagSet) func(context.Context, *env, []string) error {
			portName := fs.String("port", "", "serial port or evdev device")
			proto := fs.String("proto", "rdm6300", "rdm6300, line, wedge or wiegand")
			d0 := fs.String("d0", "WG_D0", "Wiegand D0 pin")
			d1 := fs.String("d1", "WG_D1", "Wiegand D1 pin")
			count := fs.Int("count", 0, "stop after this many badges (0: no limit)")
			simCode := fs.String("sim", "", "present this code on a simulated reader of --proto and exit after reading it")
			return func(ctx context.Context, e *env, args []string) error {
				log := hwLogger(e)
				simulate := *simCode != ""
				if simulate {
					*count = 1
				}
				var r badge.Reader
				switch *proto {
				case "rdm6300", "line", "wedge":
					port := *portName
					var present func() error
					if simulate {
						dir, err := tempDir()
						if err != nil {
							return err
						}
						defer removeAll(dir)
						switch *proto {
						case "wedge":
							kb, err := sim.NewKeyboard(filepath.Join(dir, "sim-event-kbd"))
							if err != nil {
								return err
							}
							defer kb.Close()
							port, present = kb.Path(), func() error { return kb.Type(*simCode) }
						default:
							dev, err := sim.NewSerialDevice(filepath.Join(dir, "ttySIM"))
							if err != nil {
								return err
							}
							defer dev.Close()
							port = dev.Path()
							if *proto == "line" {
								present = func() error { return sim.Scanner{SerialDevice: dev}.Scan(*simCode) }
							} else {
								present = func() error { return (&sim.RDM6300{SerialDevice: dev}).Present(*simCode, 3) }
							}
						}
					}
					if port == "" {
						fmt.Fprintln(e.stderr, "hw badge: --port required")
						return errUsage
					}
					sc := badge.SerialConfig{Port: port, Logger: log}
					switch *proto {
					case "rdm6300":
						r = badge.NewRDM6300(badge.RDM6300Config{SerialConfig: sc})
					case "line":
						r = badge.NewLine(sc)
					default:
						r = badge.NewWedge(badge.WedgeConfig{SerialConfig: sc})
					}
					if present != nil {
						if err := present(); err != nil {
							return err
						}
					}
				case "wiegand":
					board, cleanup, err := hwPins(simulate)
					if err != nil {
						return err
					}
					defer cleanup()
					w, err := badge.NewWiegand(badge.WiegandConfig{D0: *d0, D1: *d1, Logger: log})
					if err != nil {
						return err
					}
					r = w
					if simulate {
						var data uint64
						if _, err := fmt.Sscan(*simCode, &data); err != nil {
							return fmt.Errorf("hw badge: --sim code for wiegand must be a number: %w", err)
						}
						n := 26
						if data >= 1<<24 {
							n = 34
						}
						if err := (sim.Wiegand{D0: board.Pin(*d0), D1: board.Pin(*d1)}).Present(n, data); err != nil {
							return err
						}
					}
				default:
					fmt.Fprintf(e.stderr, "hw badge: unknown protocol %q\n", *proto)
					return errUsage
				}
				defer r.Close()
				for n := 0; *count == 0 || n < *count; n++ {
					b, err := r.Read(ctx)
					if err != nil {
						if ctx.Err() != nil {
							return nil
						}
						return err
					}
					fmt.Fprintf(e.stdout, "%s\t%s\n", b.Source, b.Code)
				}
				return nil
			}
		},
	}
}

func tempDir() (string, error) { return os.MkdirTemp("", "keycab-hw-") }

func removeAll(dir string) { _ = os.RemoveAll(dir) }
