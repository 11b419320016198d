// Command keycab-kiosk runs a key cabinet's kiosk: the touchscreen UI (or,
// with no display, a terminal console) over the cabinet controller, its
// store and signed log, and the cabinet's hardware.
//
// With --sim it runs on a simulated cabinet seeded with a demo
// organisation, which is what the README's first command starts.
package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"golang.org/x/mod/sumdb/note"

	"keycab.dev/keycab/audit"
	"keycab.dev/keycab/kiosk"
	"keycab.dev/keycab/kiosk/console"
	"keycab.dev/keycab/kiosk/simulator"
	"keycab.dev/keycab/kiosk/wiring"
	"keycab.dev/keycab/passhash"
	"keycab.dev/keycab/store"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	m := NewMain(os.Stdout, os.Stderr)
	if err := m.ParseFlags(os.Args[1:]); errors.Is(err, flag.ErrHelp) {
		return
	} else if err != nil {
		fmt.Fprintln(os.Stderr, "keycab-kiosk:", err)
		os.Exit(2)
	}
	err := m.Run(ctx, os.Stdin)
	if cerr := m.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "keycab-kiosk:", err)
		os.Exit(1)
	}
}

// Config is the kiosk program's configuration.
type Config struct {
	Wiring   string // the wiring file (real hardware)
	DataDir  string // holds kiosk.db and kiosk.key; default from the wiring file
	Sim      bool   // run on a simulated cabinet with the demo organisation
	Headless bool   // the terminal console even where there is a display
	LogLevel slog.Level
}

// DefaultConfig returns the configuration used when no flags are given.
func DefaultConfig() Config {
	return Config{Wiring: "/etc/keycab/kiosk.conf", LogLevel: slog.LevelInfo}
}

// Main is the program: ParseFlags, Run, Close.
type Main struct {
	Config Config
	stdout io.Writer
	stderr io.Writer
	log    *slog.Logger
	db     *store.DB
	cab    *simulator.Cabinet
	hw     *wiring.Hardware
}

// NewMain returns a Main with the default configuration.
func NewMain(stdout, stderr io.Writer) *Main {
	return &Main{Config: DefaultConfig(), stdout: stdout, stderr: stderr}
}

// ParseFlags reads the command line.
func (m *Main) ParseFlags(args []string) error {
	fs := flag.NewFlagSet("keycab-kiosk", flag.ContinueOnError)
	fs.SetOutput(m.stderr)
	fs.StringVar(&m.Config.Wiring, "wiring", m.Config.Wiring, "the cabinet's wiring `file` (not used with --sim)")
	fs.StringVar(&m.Config.DataDir, "data", m.Config.DataDir, "directory for the kiosk database and signing key (default: the wiring file's, or keycab-demo with --sim)")
	fs.BoolVar(&m.Config.Sim, "sim", false, "run on a simulated cabinet with a demo organisation")
	fs.BoolVar(&m.Config.Headless, "headless", false, "use the terminal console even where there is a display")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: keycab-kiosk [--wiring FILE | --sim] [--data DIR] [--headless]\n\nRuns the key cabinet kiosk.\n\nflags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	return nil
}

// Run starts the kiosk and blocks until ctx ends or the person quits.
func (m *Main) Run(ctx context.Context, stdin io.Reader) error {
	m.log = slog.New(slog.NewJSONHandler(m.stderr, &slog.HandlerOptions{Level: m.Config.LogLevel}))
	if m.Config.Sim {
		return m.runSim(ctx, stdin)
	}
	return m.runHardware(ctx, stdin)
}

// runHardware runs the kiosk on the cabinet described by the wiring file.
func (m *Main) runHardware(ctx context.Context, stdin io.Reader) error {
	w, err := wiring.Load(m.Config.Wiring)
	if err != nil {
		return err
	}
	if m.Config.DataDir == "" {
		m.Config.DataDir = w.DataDir
	}
	if err := m.openStore(ctx); err != nil {
		return err
	}
	m.hw, err = w.Open(wiring.Options{Logger: m.log})
	if err != nil {
		return err
	}
	if v, err := m.db.ConfigVersion(ctx); err != nil {
		return err
	} else if v == 0 {
		m.log.Warn("no config yet: enrol this kiosk with HQ; until then nobody can take keys")
	}
	c, err := kiosk.New(kiosk.Config{
		Store: m.db, Locks: m.hw.Locks, Scanners: m.hw.Scanners,
		Sensors: m.hw.Inputs.Events(), Initial: m.hw.Inputs.States(), Buzzer: w.Buzzer, Logger: m.log,
	})
	if err != nil {
		return err
	}
	return m.run(ctx, c, nil, stdin)
}

// openStore opens (creating on first start) the kiosk's key and database.
func (m *Main) openStore(ctx context.Context) error {
	if err := os.MkdirAll(m.Config.DataDir, 0o700); err != nil {
		return err
	}
	signer, err := loadOrCreateKey(filepath.Join(m.Config.DataDir, "kiosk.key"))
	if err != nil {
		return err
	}
	m.db, err = store.Open(ctx, filepath.Join(m.Config.DataDir, "kiosk.db"), store.Options{Signer: signer, Create: true, Logger: m.log})
	return err
}

// runSim runs the kiosk on a simulated cabinet with the demo organisation.
func (m *Main) runSim(ctx context.Context, stdin io.Reader) error {
	if m.Config.DataDir == "" {
		m.Config.DataDir = "keycab-demo"
	}
	if err := m.openStore(ctx); err != nil {
		return err
	}
	cfg, badges, err := simulator.Demo(time.Now(), passhash.OWASP)
	if err != nil {
		return err
	}
	if v, err := m.db.ConfigVersion(ctx); err != nil {
		return err
	} else if v == 0 {
		if err := m.db.ApplyConfig(ctx, cfg); err != nil {
			return err
		}
	}
	snap, err := m.db.Snapshot(ctx)
	if err != nil {
		return err
	}
	m.cab, err = simulator.New(snap.Cabinet, snap.Slots, simulator.Options{Logger: m.log, Camera: true})
	if err != nil {
		return err
	}
	c, err := kiosk.New(kiosk.Config{
		Store: m.db, Locks: m.cab.Locks, Scanners: m.cab.Scanners(),
		Sensors: m.cab.Inputs.Events(), Initial: m.cab.Inputs.States(), Buzzer: simulator.Buzzer, Logger: m.log,
	})
	if err != nil {
		return err
	}
	m.printWelcome(badges, len(snap.KeySets))
	return m.run(ctx, c, m.cab, stdin)
}

// run runs the controller with the window, or the console where there is
// no display, until either ends.
func (m *Main) run(ctx context.Context, c *kiosk.Controller, cab *simulator.Cabinet, stdin io.Reader) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	if hasDisplay() && !m.Config.Headless {
		runUI(ctx, c, cab) // returns when the window closes
	} else {
		fmt.Fprintf(m.stdout, "No display here: the kiosk runs in this terminal. Type help for the commands.\n")
		if err := console.New(c, cab, m.stdout).Run(ctx, stdin); err != nil {
			return err
		}
	}
	cancel()
	return <-done
}

func hasDisplay() bool { return os.Getenv("DISPLAY") != "" || os.Getenv("WAYLAND_DISPLAY") != "" }

func (m *Main) printWelcome(badges []simulator.DemoBadge, keys int) {
	w := m.stdout
	fmt.Fprintf(w, "keycab kiosk on a simulated cabinet (data in %s)\n\nDemo badges:\n", m.Config.DataDir)
	for _, b := range badges {
		pin := "no PIN"
		if b.PIN != "" {
			pin = "PIN " + b.PIN
		}
		fmt.Fprintf(w, "  %-12s %-14s %-12s %s\n", b.Code, b.Member, b.Role, pin)
	}
	fmt.Fprintf(w, "\nKey fob labels (show them to the camera):")
	for i := 1; i <= keys; i++ {
		fmt.Fprintf(w, " %s", simulator.DemoToken(i))
	}
	fmt.Fprintf(w, "\n\nHQ dashboard: not part of this build yet; the kiosk runs offline from its local config.\n\n")
}

// loadOrCreateKey reads the kiosk's signer key, creating it (mode 0600)
// on first start.
func loadOrCreateKey(path string) (*audit.Signer, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		host, _ := os.Hostname()
		if host == "" {
			host = "kiosk"
		}
		skey, _, err := note.GenerateKey(rand.Reader, "keycab.kiosk/"+host)
		if err != nil {
			return nil, err
		}
		if err := os.WriteFile(path, []byte(skey+"\n"), 0o600); err != nil {
			return nil, fmt.Errorf("write kiosk key: %w", err)
		}
		b = []byte(skey)
	} else if err != nil {
		return nil, fmt.Errorf("read kiosk key: %w", err)
	}
	s, err := audit.ParseSignerKey(string(b))
	if err != nil {
		return nil, fmt.Errorf("kiosk key %s: %w", path, err)
	}
	return s, nil
}

// Close releases the hardware and the database.
func (m *Main) Close() error {
	var errs []error
	if m.cab != nil {
		errs = append(errs, m.cab.Close())
	}
	if m.hw != nil {
		errs = append(errs, m.hw.Close())
	}
	if m.db != nil {
		errs = append(errs, m.db.Close())
	}
	return errors.Join(errs...)
}
