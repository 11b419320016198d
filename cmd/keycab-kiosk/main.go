// Command keycab-kiosk runs a key cabinet's kiosk: the touchscreen UI (or,
// with no display, a terminal console) over the cabinet controller, its
// store and signed log, and the cabinet's hardware.
//
//	keycab-kiosk [--wiring FILE | --sim] [--data DIR] [--headless]
//	keycab-kiosk enroll --hq URL --token T [--data DIR | --wiring FILE | --sim] [--name NAME]
//
// enroll enrols the kiosk with HQ (sync/agent.Enrol): it generates the
// kiosk's Ed25519 key in DIR/kiosk.key (mode 0600) named with the log
// origin HQ chose, pins HQ's cosigner and config keys in DIR/kiosk.db, and
// fetches the first signed config bundle. An enrolled kiosk runs the sync
// agent in the background: it pushes its log, long-polls HQ for newer
// config bundles and applies them, and sends heartbeats; HQ is optional
// at run time, the kiosk works offline from its last config.
//
// enroll on a kiosk that is enrolled already re-enrols it with a new key
// (sync/agent.Rotate): with the kiosk program stopped, it pushes the log,
// appends a key.rotate entry signed by the old and the new key, and once
// HQ has checked both and pinned the new key, replaces DIR/kiosk.key (the
// new key waits in DIR/kiosk.key.next until then; run enroll again to
// finish an interrupted rotation). The log keeps its origin.
//
// Real hardware needs an enrolled kiosk: its config comes from HQ. A
// kiosk that is not enrolled yet shows the setup screen in its window
// (setup.go): the installer holds the enrolment code from HQ's cabinet
// page (a QR code) to the camera, or types HQ's address and the token on
// the touchscreen; once enrolled, the same window shows the kiosk. With no
// display it says to run keycab-kiosk enroll. With
// --sim and no enrolment the kiosk runs standalone on the demo
// organisation (demoorg) with a key of its own; such a data directory
// already holds a log and cannot be enrolled later (enrolment starts the
// log under HQ's name), so enrol into a fresh directory. Enrolled with
// --sim, the simulated cabinet is the one HQ's config describes.
//
// Without cgo (CGO_ENABLED=0) the program has no window and always runs
// the terminal console.
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
	"strings"
	"syscall"
	"time"

	"golang.org/x/mod/sumdb/note"

	"keycab.dev/keycab"
	"keycab.dev/keycab/audit"
	"keycab.dev/keycab/internal/passhash"
	"keycab.dev/keycab/kiosk"
	"keycab.dev/keycab/kiosk/console"
	"keycab.dev/keycab/kiosk/simulator"
	"keycab.dev/keycab/kiosk/wiring"
	"keycab.dev/keycab/store"
	"keycab.dev/keycab/sync/agent"
)

func main() {
	kiosk.TuneMemory()
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

	Command string // "run" or "enroll"
	HQ      string // enroll: HQ's base URL
	Token   string // enroll: the enrolment token
	Name    string // enroll: the kiosk's name shown at HQ
	Out     string // backup: the backup file to write
	From    string // restore: the backup file to restore
	Force   bool   // restore: move an existing database aside first

	// The sync agent's timing (zero: sync/agent's defaults).
	PushEvery, HeartbeatEvery, LongPoll time.Duration
	// SyncLogEvery is how often the sync state is logged when it changed.
	SyncLogEvery time.Duration
}

// DefaultConfig returns the configuration used when no flags are given.
func DefaultConfig() Config {
	return Config{Wiring: "/etc/keycab/kiosk.conf", LogLevel: slog.LevelInfo, Command: "run", SyncLogEvery: 30 * time.Second}
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
	key    *agent.Key   // enrolled kiosks only
	agent  *agent.Agent // enrolled kiosks only

	// setupUI shows the setup screen (runSetupUI; the tests stand in).
	setupUI func(context.Context, setupFlow)
}

// NewMain returns a Main with the default configuration.
func NewMain(stdout, stderr io.Writer) *Main {
	return &Main{Config: DefaultConfig(), stdout: stdout, stderr: stderr, setupUI: runSetupUI}
}

// ParseFlags reads the command line.
func (m *Main) ParseFlags(args []string) error {
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		m.Config.Command, args = args[0], args[1:]
	}
	switch m.Config.Command {
	case "run", "enroll", "enrol":
	case "backup", "restore":
		return m.parseBackupFlags(args)
	default:
		return fmt.Errorf("unknown command %q: want run, enroll, backup or restore", m.Config.Command)
	}
	fs := flag.NewFlagSet("keycab-kiosk", flag.ContinueOnError)
	fs.SetOutput(m.stderr)
	fs.StringVar(&m.Config.Wiring, "wiring", m.Config.Wiring, "the cabinet's wiring `file` (not used with --sim)")
	fs.StringVar(&m.Config.DataDir, "data", m.Config.DataDir, "directory for the kiosk database and signing key (default: the wiring file's, or keycab-demo with --sim)")
	fs.BoolVar(&m.Config.Sim, "sim", false, "run on a simulated cabinet with a demo organisation")
	fs.BoolVar(&m.Config.Headless, "headless", false, "use the terminal console even where there is a display")
	fs.DurationVar(&m.Config.PushEvery, "push-every", 0, "how often the sync agent looks for new log entries (default 2s)")
	fs.DurationVar(&m.Config.HeartbeatEvery, "heartbeat-every", 0, "how often the sync agent sends a heartbeat (default 30s)")
	fs.DurationVar(&m.Config.LongPoll, "long-poll", 0, "how long a config pull waits at HQ (default 25s)")
	fs.DurationVar(&m.Config.SyncLogEvery, "sync-log-every", m.Config.SyncLogEvery, "how often the sync state is logged when it changed")
	if m.Config.Command != "run" {
		fs.StringVar(&m.Config.HQ, "hq", "", "HQ's base `URL`")
		fs.StringVar(&m.Config.Token, "token", "", "the enrolment token an HQ admin created for this cabinet")
		fs.StringVar(&m.Config.Name, "name", "", "the kiosk's name shown at HQ (default: the host name)")
	}
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: keycab-kiosk [--wiring FILE | --sim] [--data DIR] [--headless]\n       keycab-kiosk enroll --hq URL --token T [--data DIR | --wiring FILE | --sim]\n       keycab-kiosk backup --out FILE | restore --from FILE [--force]   (see keycab-kiosk backup -h)\n\nRuns the key cabinet kiosk, enrols it with HQ, or backs it up and restores it.\n\nflags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if m.Config.Command != "run" && (m.Config.HQ == "" || m.Config.Token == "") {
		return errors.New("enroll needs --hq URL and --token T")
	}
	return nil
}

// Run starts the kiosk and blocks until ctx ends or the person quits.
func (m *Main) Run(ctx context.Context, stdin io.Reader) error {
	m.log = slog.New(slog.NewJSONHandler(m.stderr, &slog.HandlerOptions{Level: m.Config.LogLevel}))
	switch m.Config.Command {
	case "backup":
		return m.backup(ctx)
	case "restore":
		return m.restore(ctx)
	case "enroll", "enrol":
		return m.enroll(ctx)
	}
	if m.Config.Sim {
		return m.runSim(ctx, stdin)
	}
	return m.runHardware(ctx, stdin)
}

// runHardware runs the kiosk on the cabinet described by the wiring file.
// A kiosk not enrolled yet shows the setup screen where there is a
// display (setup.go); without one, enrol it with keycab-kiosk enroll.
func (m *Main) runHardware(ctx context.Context, stdin io.Reader) error {
	w, err := wiring.Load(m.Config.Wiring)
	if err != nil {
		return err
	}
	if m.Config.DataDir == "" {
		m.Config.DataDir = w.DataDir
	}
	err = m.openStore(ctx, false)
	setup := errors.Is(err, errNotEnrolled) && m.window()
	if err != nil && !setup {
		return err
	}
	m.hw, err = w.Open(wiring.Options{Logger: m.log})
	if err != nil {
		return err
	}
	if setup {
		return m.runSetup(ctx, w)
	}
	if err := m.firstConfig(ctx); err != nil {
		m.log.Warn("no config yet: until HQ sends one nobody can take keys", "err", err)
	}
	c, err := m.hardwareController(w.Buzzer)
	if err != nil {
		return err
	}
	return m.run(ctx, c, nil, stdin)
}

// hardwareController builds the controller over the cabinet's hardware;
// buzzer names the lock output that sounds alarms (none when empty).
func (m *Main) hardwareController(buzzer string) (*kiosk.Controller, error) {
	return kiosk.New(kiosk.Config{
		Store: m.db, Locks: m.hw.Locks, Scanners: m.hw.Scanners,
		Sensors: m.hw.Inputs.Events(), Initial: m.hw.Inputs.States(), Buzzer: buzzer, Logger: m.log,
	})
}

// openStore opens the kiosk's key and database. An enrolled kiosk's key
// must exist and carry the log origin HQ chose; it gets a sync agent. An
// unenrolled kiosk runs standalone only when standalone is set (the
// simulator), with a key of its own created on first start.
func (m *Main) openStore(ctx context.Context, standalone bool) error {
	if err := os.MkdirAll(m.Config.DataDir, 0o700); err != nil {
		return err
	}
	dbPath, keyPath := filepath.Join(m.Config.DataDir, "kiosk.db"), filepath.Join(m.Config.DataDir, "kiosk.key")
	_, kerr := os.Stat(keyPath)
	hasKey := kerr == nil
	if st, err := os.Stat(dbPath); hasKey && errors.Is(err, os.ErrNotExist) {
		return m.logLost(keyPath, dbPath, "missing")
	} else if hasKey && err == nil && st.Size() == 0 {
		return m.logLost(keyPath, dbPath, "empty")
	}
	probe, err := store.Open(ctx, dbPath, store.Options{Create: true, Logger: m.log})
	if err != nil {
		return err
	}
	peer, perr := probe.HQPeer(ctx)
	_, lerr := probe.Origin()
	if err := probe.Close(); err != nil {
		return err
	}
	if hasKey && errors.Is(lerr, store.ErrNoLog) && keycab.ErrorCode(perr) == keycab.ENOTFOUND {
		// An enrolled kiosk's database is pinned to HQ before its key
		// moves in; a restored one's has neither key nor log.
		return m.logLost(keyPath, dbPath, "there but holds no log")
	}
	var signer *audit.Signer
	switch {
	case perr == nil:
		if _, err := os.Stat(keyPath); errors.Is(err, os.ErrNotExist) {
			// Enrolment stopped between pinning HQ and moving the key in.
			if err := os.Rename(agent.NewKeyFile(keyPath), keyPath); err == nil {
				m.log.Warn("kiosk key taken up from an interrupted enrolment", "key", keyPath)
			}
		}
		if m.key, err = agent.LoadKey(keyPath); err != nil {
			return fmt.Errorf("enrolled kiosk: %w", err)
		}
		if m.key.Signer.Name() != peer.Origin {
			return fmt.Errorf("kiosk key %s is named %q, not the enrolled log's %q", keyPath, m.key.Signer.Name(), peer.Origin)
		}
		signer = m.key.Signer
	case keycab.ErrorCode(perr) != keycab.ENOTFOUND:
		return perr
	case !standalone:
		return fmt.Errorf("this kiosk (%s) %w: run keycab-kiosk enroll --hq URL --token T --data %s", m.Config.DataDir, errNotEnrolled, m.Config.DataDir)
	default:
		if signer, err = loadOrCreateKey(keyPath); err != nil {
			return err
		}
	}
	if m.db, err = store.Open(ctx, dbPath, store.Options{Signer: signer, Create: true, Logger: m.log}); err != nil {
		return err
	}
	if m.key == nil {
		m.log.Info("kiosk runs standalone: not enrolled with HQ", "data", m.Config.DataDir)
		return nil
	}
	m.agent, err = agent.New(ctx, agent.Config{DB: m.db, Key: m.key, Logger: m.log.With("component", "sync"),
		PushEvery: m.Config.PushEvery, HeartbeatEvery: m.Config.HeartbeatEvery, LongPoll: m.Config.LongPoll, Software: software()})
	if err != nil {
		return err
	}
	m.log.Info("kiosk enrolled", "hq", peer.URL, "kiosk", peer.KioskID, "org", peer.OrgID, "cabinet", peer.CabinetID, "origin", peer.Origin)
	return nil
}

// errLogLost is openStore's error for a kiosk whose key is there but
// whose database, and so its log, is not.
var errLogLost = errors.New("has lost its log")

// logLost refuses to start a kiosk whose key outlived its database: a new
// log under the same key would reuse the lost log's origin and indexes,
// which HQ (holding, and having cosigned, the old entries) takes for a
// fork. The way on is a restore, which starts a new epoch naming the log
// it continues from (docs/OPERATIONS.md, "A kiosk key without its log").
func (m *Main) logLost(keyPath, dbPath, state string) error {
	dir := m.Config.DataDir
	m.log.Error("kiosk key without its log: not starting", "key", keyPath, "db", dbPath, "db_state", state)
	return fmt.Errorf("this kiosk (%s) %w: its key %s is there but its database %s is %s. "+
		"A new log under the same key would fork the log HQ holds, so the kiosk does not start. "+
		"Restore the newest backup: keycab-kiosk restore --from BACKUP --force --data %s "+
		"(the old key is moved aside, and the kiosk, enrolled again, begins a new log epoch naming the backup's log). "+
		"With no backup, move %s aside, enrol the kiosk afresh, and tell HQ the old log is lost", dir, errLogLost, keyPath, dbPath, state, dir, dir)
}

// firstConfig makes sure an enrolled kiosk has a config, asking HQ for one
// when it has none yet.
func (m *Main) firstConfig(ctx context.Context) error {
	if v, err := m.db.ConfigVersion(ctx); err != nil || v > 0 {
		return err
	}
	if m.agent == nil {
		return errors.New("not enrolled with HQ")
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if _, err := m.agent.PullConfig(ctx, 0); err != nil {
		return fmt.Errorf("first config from HQ: %w", err)
	}
	if v, err := m.db.ConfigVersion(ctx); err != nil || v > 0 {
		return err
	}
	return errors.New("HQ has no config for this kiosk yet")
}

// runSim runs the kiosk on a simulated cabinet with the demo organisation.
func (m *Main) runSim(ctx context.Context, stdin io.Reader) error {
	if m.Config.DataDir == "" {
		m.Config.DataDir = "keycab-demo"
	}
	if err := m.openStore(ctx, true); err != nil {
		return err
	}
	cfg, badges, err := simulator.Demo(time.Now(), passhash.OWASP)
	if err != nil {
		return err
	}
	if m.agent != nil {
		// The cabinet is the one HQ describes: no local config.
		if err := m.firstConfig(ctx); err != nil {
			return err
		}
	} else if v, err := m.db.ConfigVersion(ctx); err != nil {
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
	out, err := m.db.KeysOut(ctx) // the cabinet starts as custody left it
	if err != nil {
		return err
	}
	m.cab, err = simulator.New(snap.Cabinet, snap.Slots, simulator.Options{Logger: m.log, Camera: true, Out: out})
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
	m.printWelcome(snap, badges)
	return m.run(ctx, c, m.cab, stdin)
}

// run runs the controller with the window, or the console where there is
// no display, until either ends.
func (m *Main) run(ctx context.Context, c *kiosk.Controller, cab *simulator.Cabinet, stdin io.Reader) error {
	ctx, stop := m.start(ctx, c)
	if m.window() {
		runUI(ctx, c, cab) // returns when the window closes
		return stop()
	}
	fmt.Fprintf(m.stdout, "No display here: the kiosk runs in this terminal. Type help for the commands.\n")
	err := console.New(c, cab, m.stdout).Run(ctx, stdin)
	return errors.Join(err, stop())
}

// start runs the controller, the sync agent (enrolled kiosks) and the
// systemd watchdog in the background. stop ends them and returns the
// controller's error; the agent outlives the controller by a moment, to
// push its last entries once more. ctx is done when the controller stops.
func (m *Main) start(ctx context.Context, c *kiosk.Controller) (_ context.Context, stop func() error) {
	syncCtx, stopSync := context.WithCancel(ctx)
	syncDone := make(chan struct{})
	if m.agent != nil {
		m.agent.SetStatus(m.heartbeatStatus(c))
		m.agent.SetRemote(c.Remote)
		go func() {
			defer close(syncDone)
			m.runSync(syncCtx)
		}()
	} else {
		close(syncDone)
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- c.Run(ctx)
		cancel()
	}()
	go superviseWithSystemd(ctx, c, m.log)
	return ctx, func() error {
		cancel()
		err := <-done
		stopSync()
		<-syncDone
		return err
	}
}

// window reports whether the kiosk shows its window: a build with the
// UI, a display, and no --headless.
func (m *Main) window() bool { return uiBuilt && hasDisplay() && !m.Config.Headless }

func hasDisplay() bool { return os.Getenv("DISPLAY") != "" || os.Getenv("WAYLAND_DISPLAY") != "" }

// printWelcome prints the demo badges and fob labels the kiosk's config
// knows (all of them standalone; those HQ's config holds when enrolled).
func (m *Main) printWelcome(snap *keycab.Config, badges []simulator.DemoBadge) {
	w := m.stdout
	fmt.Fprintf(w, "keycab kiosk on a simulated cabinet of %s (data in %s)\n\nDemo badges:\n", snap.Org.Name, m.Config.DataDir)
	known := map[string]bool{}
	for _, b := range snap.Badges {
		known[string(b.Hash)] = true
	}
	for _, b := range badges {
		if !known[string(keycab.BadgeHash(snap.BadgeSalt, b.Code))] {
			continue
		}
		pin := "no PIN"
		if b.PIN != "" {
			pin = "PIN " + b.PIN
		}
		fmt.Fprintf(w, "  %-12s %-14s %-12s %s\n", b.Code, b.Member, b.Role, pin)
	}
	tokens := map[string]bool{}
	for _, t := range snap.Tokens {
		tokens[string(t.Hash)] = true
	}
	var fobs []string
	for i := 1; i <= len(snap.KeySets); i++ {
		if tokens[string(keycab.TokenHash(simulator.DemoToken(i)))] {
			fobs = append(fobs, simulator.DemoToken(i))
		}
	}
	if len(fobs) > 0 {
		fmt.Fprintf(w, "\nKey fob labels (show them to the camera): %s\n", strings.Join(fobs, " "))
	}
	if m.agent != nil {
		p := m.agent.Peer()
		fmt.Fprintf(w, "\nSyncing with HQ at %s as kiosk %s; the log and config sync in the background.\n\n", p.URL, p.KioskID)
	} else {
		fmt.Fprintf(w, "\nStandalone: not enrolled with HQ; the kiosk runs from its local demo config.\n\n")
	}
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
