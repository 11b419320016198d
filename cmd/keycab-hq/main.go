// Command keycab-hq runs keycab's hosted multi-tenant HQ service.
//
//	keycab-hq serve     [--db DSN] [--listen ADDR] [--notes-key-file F] [--base-url URL] [--mail-dir DIR]
//	keycab-hq migrate   [--db DSN] [--app-role ROLE]
//	keycab-hq demo-seed [--db DSN]
//
// DSN is sqlite:PATH (the default, sqlite:./keycab-hq.db) or a
// postgres:// URL. On SQLite, serve and demo-seed apply pending migrations
// themselves; on PostgreSQL run migrate as the schema owner first, and
// serve as the application role. The notes key (32 bytes, hex or base64)
// comes from the environment variable KEYCAB_NOTES_KEY or from
// --notes-key-file, never from the database; without it site notes and
// MFA enrolment are unavailable. Logs are JSON on stderr. SIGTERM or
// SIGINT shuts the server down gracefully.
package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"keycab.dev/keycab"
	"keycab.dev/keycab/hq"
	"keycab.dev/keycab/hq/auth"
	"keycab.dev/keycab/hq/store"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	m := NewMain(os.Stdout, os.Stderr)
	if err := m.ParseFlags(os.Args[1:]); errors.Is(err, flag.ErrHelp) {
		return
	} else if err != nil {
		fmt.Fprintln(os.Stderr, "keycab-hq:", err)
		os.Exit(2)
	}
	err := m.Run(ctx)
	if cerr := m.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "keycab-hq:", err)
		os.Exit(1)
	}
}

// Config is the program's configuration.
type Config struct {
	Command         string // serve, migrate or demo-seed
	DB              string // sqlite:PATH or postgres://...
	Listen          string
	NotesKeyFile    string
	NotesKeyEnv     string // the environment's KEYCAB_NOTES_KEY
	BaseURL         string // for links in emails
	MailDir         string // dry-run mail: write messages here (development only)
	AppRole         string // migrate: the service's PostgreSQL role
	ShutdownTimeout time.Duration
	LogLevel        slog.Level
	Auth            auth.Config
}

// DefaultConfig returns the configuration used when no flags are given.
func DefaultConfig() Config {
	return Config{
		Command:         "serve",
		DB:              "sqlite:./keycab-hq.db",
		Listen:          "127.0.0.1:8080",
		AppRole:         store.DefaultAppRole,
		ShutdownTimeout: 20 * time.Second,
		LogLevel:        slog.LevelInfo,
		Auth:            auth.DefaultConfig(),
	}
}

// Main is the program: ParseFlags, Run, Close.
type Main struct {
	Config Config
	stdout io.Writer
	stderr io.Writer
	log    *slog.Logger
	st     *store.Store
	// Ready, when set, receives the address the server listens on.
	Ready func(addr string)
}

// NewMain returns a Main with the default configuration and the
// environment's notes key.
func NewMain(stdout, stderr io.Writer) *Main {
	m := &Main{Config: DefaultConfig(), stdout: stdout, stderr: stderr}
	m.Config.NotesKeyEnv = os.Getenv("KEYCAB_NOTES_KEY")
	return m
}

// ParseFlags reads the command line: a command, then its flags.
func (m *Main) ParseFlags(args []string) error {
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		m.Config.Command, args = args[0], args[1:]
	}
	switch m.Config.Command {
	case "serve", "migrate", "demo-seed":
	default:
		return fmt.Errorf("unknown command %q: want serve, migrate or demo-seed", m.Config.Command)
	}
	fs := flag.NewFlagSet("keycab-hq "+m.Config.Command, flag.ContinueOnError)
	fs.SetOutput(m.stderr)
	fs.StringVar(&m.Config.DB, "db", m.Config.DB, "database: sqlite:PATH or postgres://...")
	switch m.Config.Command {
	case "serve":
		fs.StringVar(&m.Config.Listen, "listen", m.Config.Listen, "address to serve HTTP on")
		fs.StringVar(&m.Config.NotesKeyFile, "notes-key-file", "", "file holding the notes key (else $KEYCAB_NOTES_KEY)")
		fs.StringVar(&m.Config.Auth.BaseURL, "base-url", m.Config.Auth.BaseURL, "HQ's public URL, for links in emails")
		fs.StringVar(&m.Config.MailDir, "mail-dir", "", "dry-run mail: write each message to a file here (development only)")
		fs.DurationVar(&m.Config.ShutdownTimeout, "shutdown-timeout", m.Config.ShutdownTimeout, "how long to let requests finish on SIGTERM")
	case "migrate":
		fs.StringVar(&m.Config.AppRole, "app-role", m.Config.AppRole, "PostgreSQL: the service's role, granted what it needs")
	}
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: keycab-hq serve|migrate|demo-seed [flags]\n\nflags of %s:\n", m.Config.Command)
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

// Run runs the command; serve blocks until ctx ends, then shuts down
// gracefully.
func (m *Main) Run(ctx context.Context) error {
	m.log = slog.New(slog.NewJSONHandler(m.stderr, &slog.HandlerOptions{Level: m.Config.LogLevel}))
	switch m.Config.Command {
	case "migrate":
		if err := store.Migrate(ctx, m.Config.DB, store.MigrateOptions{AppRole: m.Config.AppRole, Logger: m.log}); err != nil {
			return err
		}
		fmt.Fprintln(m.stdout, "schema is up to date")
		return nil
	case "demo-seed":
		if err := m.open(ctx); err != nil {
			return err
		}
		return m.demoSeed(ctx)
	}
	if err := m.open(ctx); err != nil {
		return err
	}
	return m.serve(ctx)
}

// open opens the store, migrating a SQLite database first.
func (m *Main) open(ctx context.Context) error {
	if strings.HasPrefix(m.Config.DB, "sqlite:") {
		if err := store.Migrate(ctx, m.Config.DB, store.MigrateOptions{Logger: m.log}); err != nil {
			return err
		}
	}
	key, err := m.notesKey()
	if err != nil {
		return err
	}
	if key == nil {
		m.log.Warn("no notes key (KEYCAB_NOTES_KEY or --notes-key-file): site notes and MFA enrolment are unavailable")
	}
	m.st, err = store.Open(ctx, m.Config.DB, store.Options{Logger: m.log, NotesKey: key})
	return err
}

func (m *Main) notesKey() ([]byte, error) {
	switch {
	case m.Config.NotesKeyFile != "":
		return store.ReadNotesKey(m.Config.NotesKeyFile)
	case m.Config.NotesKeyEnv != "":
		k, err := store.DecodeNotesKey(m.Config.NotesKeyEnv)
		if err != nil {
			return nil, fmt.Errorf("KEYCAB_NOTES_KEY: %w", err)
		}
		return k, nil
	}
	return nil, nil
}

func (m *Main) authService() (*auth.Service, error) {
	var mailer auth.Mailer
	if m.Config.MailDir != "" {
		mailer = auth.DirMailer{Dir: m.Config.MailDir}
	}
	return auth.New(m.st, mailer, m.log, nil, m.Config.Auth)
}

func (m *Main) serve(ctx context.Context) error {
	a, err := m.authService()
	if err != nil {
		return err
	}
	srv := &hq.Server{Store: m.st, Auth: a, Logger: m.log}
	h, err := srv.Handler()
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", m.Config.Listen)
	if err != nil {
		return err
	}
	hs := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 60 * time.Second, IdleTimeout: 120 * time.Second, ErrorLog: slog.NewLogLogger(m.log.Handler(), slog.LevelWarn)}
	m.log.Info("serving", "addr", ln.Addr().String(), "engine", m.st.Engine())
	if m.Ready != nil {
		m.Ready(ln.Addr().String())
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	m.log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), m.Config.ShutdownTimeout)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	m.log.Info("stopped")
	return nil
}

// Demo organisation.
const (
	demoEmail = "owner@demo.keycab.test"
	demoOrg   = "Demo Lettings"
)

// demoSeed creates a demo organisation with a site, a cabinet and key
// sets, and its owner's login, and prints the login.
func (m *Main) demoSeed(ctx context.Context) error {
	if _, err := m.st.AccountByEmail(ctx, demoEmail); err == nil {
		return fmt.Errorf("the demo organisation exists already (%s); use a fresh database or reset the password", demoEmail)
	}
	password := "demo-" + strings.ToLower(rand.Text()[:16])
	cfg := m.Config.Auth
	cfg.Limits = auth.Limits{}
	a, err := auth.New(m.st, nil, m.log, nil, cfg)
	if err != nil {
		return err
	}
	t, err := a.Signup(ctx, auth.Signup{OrgName: demoOrg, Name: "Demo Owner", Email: demoEmail, Password: password}, "127.0.0.1")
	if err != nil {
		return err
	}
	sc := store.MemberScope(t.OrgID, t.MemberID)
	site, err := m.st.CreateSite(ctx, sc, store.Site{Site: keycab.Site{OrgID: t.OrgID, Name: "12 High Street", Address: "12 High Street, Springfield", TimeZone: "Europe/London"}})
	if err != nil {
		return err
	}
	cab, err := m.st.CreateCabinet(ctx, sc, keycab.Cabinet{OrgID: t.OrgID, SiteID: site.ID, Name: "Front office", Kind: keycab.Slotted})
	if err != nil {
		return err
	}
	for i, label := range []string{"Flat 1", "Flat 2", "Boiler room"} {
		k, err := m.st.CreateKeySet(ctx, sc, keycab.KeySet{OrgID: t.OrgID, SiteID: site.ID, Label: label})
		if err != nil {
			return err
		}
		if err := m.st.SetSlot(ctx, sc, keycab.Slot{CabinetID: cab.ID, Number: i + 1, KeySetID: k.ID}); err != nil {
			return err
		}
	}
	fmt.Fprintf(m.stdout, "demo organisation %q created (%s)\nsign in at %s with\n  email:    %s\n  password: %s\n",
		demoOrg, t.OrgID, m.Config.Auth.BaseURL, demoEmail, password)
	return nil
}

// Close closes the database.
func (m *Main) Close() error {
	if m.st != nil {
		return m.st.Close()
	}
	return nil
}
