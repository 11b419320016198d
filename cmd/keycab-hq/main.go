// Command keycab-hq runs keycab's hosted multi-tenant HQ service.
//
//	keycab-hq serve       [--db DSN] [--listen ADDR] [--keys FILE] [--notes-key-file F] [--base-url URL] [--mail-dir DIR]
//	                      [--smtp-host H --mail-from ADDR [--smtp-port N] [--smtp-security starttls|tls|none]
//	                       [--smtp-user U --smtp-password-file F]] [--notify-interval D] [--offline-after D]
//	                      [--org-deletion-grace D] [--housekeeping-interval D] [--webhook-allow CIDRS]
//	                      [--metrics-listen ADDR [--metrics-per-kiosk=false]]
//	keycab-hq migrate     [--db DSN] [--app-role ROLE]
//	keycab-hq demo-seed   [--db DSN] [--out FILE]
//	keycab-hq enrol-token [--db DSN] --as EMAIL [--org ID] [--cabinet ID|NAME] [--ttl D] [--hq URL [--qr FILE]]
//	keycab-hq rotate-notes-key [--db DSN] [--notes-key-file F] --new-key-file G
//
// DSN is sqlite:PATH (the default, sqlite:./keycab-hq.db) or a
// postgres:// URL. On SQLite, serve and demo-seed apply pending migrations
// themselves; on PostgreSQL run migrate as the schema owner first, and
// serve as the application role. The notes key (32 bytes, hex or base64)
// comes from the environment variable KEYCAB_NOTES_KEY or from
// --notes-key-file, never from the database; without it site notes and
// MFA enrolment are unavailable. Logs are JSON on stderr. SIGTERM or
// SIGINT shuts the server down gracefully.
//
// rotate-notes-key re-seals every value sealed with the notes key (site
// notes, TOTP secrets, retried mail bodies, kiosks' personal texts,
// webhook secrets) under the key in --new-key-file, in one transaction,
// and moves the database to the key's next generation
// (hq/store/crypto.go). The current key comes from --notes-key-file (or
// --old-key-file) or KEYCAB_NOTES_KEY. Stop every HQ process first; then
// start them with the new key: the store refuses the old one from then
// on. On PostgreSQL run it as the application role (the serve DSN).
//
// Mail is a dry run unless --smtp-host is given: each message is then
// only recorded in the delivery log (and written under --mail-dir if set).
// The SMTP password comes from --smtp-password-file or the environment
// variable KEYCAB_SMTP_PASSWORD, never from the command line. serve also
// runs the notifier (hq/notify): overdue keys, alarms, and kiosks silent
// for --offline-after and back online, mailed once to the organisation's
// admins and the site's managers. Every --housekeeping-interval (1 h) it
// removes the organisations whose deletion an owner asked for more than
// --org-deletion-grace (30 days) ago: every row of them, on either engine.
// serve also runs the webhook sender (hq/webhook), which posts each
// organisation's events to its endpoints, signed, retried from the
// database; it connects to no private, loopback or link-local address
// unless --webhook-allow names it.
//
// serve's /metrics counts requests only (no tenant data). With
// --metrics-listen ADDR it also serves, there and only there, the fleet's
// metrics (hq/metrics: keys out, overdue, alarms, kiosks online and behind,
// push and cosigning lag, equivocations, the notice queue, and each
// kiosk's heartbeat), with the Go runtime's and the process's; they name
// organisations and kiosks, so keep ADDR to the monitoring network.
//
// serve answers the kiosks' sync protocol under /v1/kiosk/ (hq/kioskapi)
// with HQ's signing keys from --keys (see keys.go for the format): on
// SQLite it defaults to keycab-hq.keys next to the database and is created
// (mode 0600) on first start; on PostgreSQL every HQ process must be given
// the same file. enrol-token prints a single-use enrolment token for one
// cabinet, created on behalf of the admin whose account is --as (recorded
// in the organisation's admin log), for keycab-kiosk enroll; with --hq
// URL it prints the enrolment code instead (sync/wire.EnrolCode), and
// with --qr FILE writes it as the QR code the kiosk's setup screen reads.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"keycab.dev/keycab/hq"
	"keycab.dev/keycab/hq/api"
	"keycab.dev/keycab/hq/auth"
	"keycab.dev/keycab/hq/dashboard"
	"keycab.dev/keycab/hq/kioskapi"
	"keycab.dev/keycab/hq/mail"
	"keycab.dev/keycab/hq/metrics"
	"keycab.dev/keycab/hq/notify"
	"keycab.dev/keycab/hq/scim"
	"keycab.dev/keycab/hq/store"
	"keycab.dev/keycab/hq/webhook"
	"keycab.dev/keycab/hq/witness"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if len(os.Args) > 1 && os.Args[1] == "bench" {
		os.Exit(runBench(ctx, os.Args[2:], os.Stdout, os.Stderr))
	}
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
	Command        string // serve, migrate, demo-seed or enrol-token
	DB             string // sqlite:PATH or postgres://...
	Listen         string
	NotesKeyFile   string
	NotesKeyEnv    string // the environment's KEYCAB_NOTES_KEY
	NewKeyFile     string // rotate-notes-key: the new notes key
	BaseURL        string // for links in emails
	MailDir        string // dry-run mail: write messages here (development only)
	AppRole        string // migrate: the service's PostgreSQL role
	BackupOut      string // backup: the file to write
	TrustedProxies string // serve: the reverse proxies whose X-Forwarded-For is believed
	KeysFile       string // serve: HQ's signing keys; default next to a SQLite database
	KeyName        string // serve: the name of keys created on first start
	// LogOriginDomain names the logs of kiosks enrolled from now on:
	// origin DOMAIN/kiosk/ID (C2SP tlog-checkpoint). A log keeps the
	// origin it was enrolled with.
	LogOriginDomain string
	ConfigPoll      time.Duration
	// DeletionGrace is how long a deleted organisation can be restored
	// before HQ removes it; Housekeeping how often HQ looks.
	DeletionGrace time.Duration
	Housekeeping  time.Duration
	// ConfigBehindAfter is how long a kiosk may go without applying the
	// config HQ issued it before the kiosks page flags it.
	ConfigBehindAfter time.Duration
	DemoOut           string        // demo-seed: write the demo's logins here
	As                string        // enrol-token: the admin's account email
	Org               string        // enrol-token: the organisation's id
	Cabinet           string        // enrol-token: the cabinet's id or name
	TokenTTL          time.Duration // enrol-token: the token's lifetime
	CodeHQ            string        // enrol-token: print the enrolment code for HQ at this URL
	CodeQR            string        // enrol-token: and write it as a QR code PNG here
	ShutdownTimeout   time.Duration
	LogLevel          slog.Level
	Auth              auth.Config
	SMTP              mail.SMTPConfig    // serve: real mail when SMTP.Host is set; the password is read by ParseFlags
	SMTPPassFile      string             // serve: file holding the SMTP password
	SMTPPassEnv       string             // the environment's KEYCAB_SMTP_PASSWORD
	Notify            notify.Config      // serve: the notifier
	Webhook           webhook.Config     // serve: the webhook sender
	WebhookAllow      string             // serve: --webhook-allow, which ParseFlags parses into Webhook.Allow
	Witnesses         []*witness.Witness // serve: --witness, the external witnesses (hq/witness)
	WitnessInterval   time.Duration      // serve: --witness-interval
	RetentionEvery    time.Duration      // serve: how often the retention rules run (store.RunRetention); 0: never
	// serve: /.well-known/security.txt (RFC 9116); off without a contact.
	SecurityContacts  []string // mailto: or https: URIs
	SecurityExpires   string   // an RFC 3339 time, a YYYY-MM-DD date, or a duration from start (720h, 180d)
	SecurityLanguages string
	SecurityPolicy    string
	// SecurityTxt is what ParseFlags made of the security settings; nil
	// when no contact is given.
	SecurityTxt *hq.SecurityTxt
	// MetricsListen is the monitoring listener: /metrics with the
	// fleet's metrics (which name organisations and kiosks) besides the
	// request metrics the public listener serves; "" is off.
	MetricsListen   string
	MetricsPerKiosk bool // the keycab_kiosk_* series, one set per kiosk
}

// DefaultConfig returns the configuration used when no flags are given.
func DefaultConfig() Config {
	return Config{
		Command:           "serve",
		DB:                "sqlite:./keycab-hq.db",
		Listen:            "127.0.0.1:8080",
		AppRole:           store.DefaultAppRole,
		KeyName:           "keycab-hq",
		LogOriginDomain:   kioskapi.DefaultOriginDomain,
		ConfigPoll:        time.Second,
		DeletionGrace:     store.DefaultDeletionGrace,
		Housekeeping:      time.Hour,
		ConfigBehindAfter: dashboard.DefaultConfigBehindAfter,
		TokenTTL:          store.DefaultEnrolTokenTTL,
		ShutdownTimeout:   20 * time.Second,
		LogLevel:          slog.LevelInfo,
		Auth:              auth.DefaultConfig(),
		Notify:            notify.DefaultConfig(),
		Webhook:           webhook.DefaultConfig(),
		WitnessInterval:   witness.DefaultInterval,
		RetentionEvery:    time.Hour,
		MetricsPerKiosk:   true,
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
	// MetricsReady, when set, receives the monitoring listener's address.
	MetricsReady func(addr string)
	// now is the clock ParseFlags judges the security.txt expiry by.
	now func() time.Time
}

// NewMain returns a Main with the default configuration and the
// environment's notes key.
func NewMain(stdout, stderr io.Writer) *Main {
	m := &Main{Config: DefaultConfig(), stdout: stdout, stderr: stderr, now: time.Now}
	m.Config.NotesKeyEnv = os.Getenv("KEYCAB_NOTES_KEY")
	m.Config.SMTPPassEnv = os.Getenv("KEYCAB_SMTP_PASSWORD")
	return m
}

// ParseFlags reads the command line: a command, then its flags.
func (m *Main) ParseFlags(args []string) error {
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		m.Config.Command, args = args[0], args[1:]
	}
	switch m.Config.Command {
	case "serve", "migrate", "demo-seed", "enrol-token", "backup", "rotate-notes-key", "witness-logs":
	default:
		return fmt.Errorf("unknown command %q: want serve, migrate, demo-seed, enrol-token, backup, rotate-notes-key or witness-logs", m.Config.Command)
	}
	fs := flag.NewFlagSet("keycab-hq "+m.Config.Command, flag.ContinueOnError)
	fs.SetOutput(m.stderr)
	fs.StringVar(&m.Config.DB, "db", m.Config.DB, "database: sqlite:PATH or postgres://...")
	switch m.Config.Command {
	case "serve":
		fs.StringVar(&m.Config.Listen, "listen", m.Config.Listen, "address to serve HTTP on")
		fs.StringVar(&m.Config.MetricsListen, "metrics-listen", m.Config.MetricsListen, "address to serve the fleet's Prometheus metrics on (/metrics; they name organisations and kiosks: keep it to the monitoring network); off when empty")
		fs.BoolVar(&m.Config.MetricsPerKiosk, "metrics-per-kiosk", m.Config.MetricsPerKiosk, "with --metrics-listen, a set of keycab_kiosk_* series per kiosk")
		fs.StringVar(&m.Config.NotesKeyFile, "notes-key-file", "", "file holding the notes key (else $KEYCAB_NOTES_KEY)")
		fs.StringVar(&m.Config.Auth.BaseURL, "base-url", m.Config.Auth.BaseURL, "HQ's public URL, for links in emails")
		fs.StringVar(&m.Config.TrustedProxies, "trusted-proxy", "", "comma-separated `addresses or CIDRs` of the reverse proxies in front of HQ, whose X-Forwarded-For names the client")
		fs.StringVar(&m.Config.MailDir, "mail-dir", "", "dry-run mail: write each message to a file here (development only)")
		fs.DurationVar(&m.Config.ShutdownTimeout, "shutdown-timeout", m.Config.ShutdownTimeout, "how long to let requests finish on SIGTERM")
		fs.StringVar(&m.Config.KeysFile, "keys", "", "HQ's signing keys `file`, created (0600) if missing (default: keycab-hq.keys next to a SQLite database; required on PostgreSQL)")
		fs.StringVar(&m.Config.KeyName, "key-name", m.Config.KeyName, "the name of keys created on first start")
		fs.StringVar(&m.Config.LogOriginDomain, "log-origin-domain", m.Config.LogOriginDomain, "name the logs of kiosks enrolled from now on `DOMAIN`/kiosk/ID (a domain the operator controls, optionally with a path, no scheme); logs enrolled before keep their origin")
		fs.DurationVar(&m.Config.DeletionGrace, "org-deletion-grace", m.Config.DeletionGrace, "how long an owner can restore a deleted organisation before HQ removes every row of it")
		fs.DurationVar(&m.Config.Housekeeping, "housekeeping-interval", m.Config.Housekeeping, "how often HQ removes deleted organisations whose grace has ended")
		fs.DurationVar(&m.Config.ConfigPoll, "config-poll", m.Config.ConfigPoll, "how often a kiosk's config long poll looks for changes")
		fs.DurationVar(&m.Config.ConfigBehindAfter, "config-behind-after", m.Config.ConfigBehindAfter, "a kiosk that has not applied the config HQ issued it this long is flagged on the kiosks page and by a notice")
		fs.StringVar(&m.Config.SMTP.Host, "smtp-host", "", "send mail through this SMTP server (default: dry run, recorded in the delivery log only)")
		fs.IntVar(&m.Config.SMTP.Port, "smtp-port", 0, "SMTP port (default 587 for starttls, 465 for tls, 25 for none)")
		fs.StringVar(&m.Config.SMTP.Security, "smtp-security", mail.SMTPStartTLS, "SMTP security: starttls, tls (implicit) or none (a relay on this host only)")
		fs.StringVar(&m.Config.SMTP.Username, "smtp-user", "", "SMTP username; the password comes from --smtp-password-file or $KEYCAB_SMTP_PASSWORD")
		fs.StringVar(&m.Config.SMTPPassFile, "smtp-password-file", "", "`file` holding the SMTP password")
		fs.StringVar(&m.Config.SMTP.From, "mail-from", "", "the sender address of HQ's mail, e.g. \"keycab <hq@example.com>\"")
		fs.DurationVar(&m.Config.Notify.Interval, "notify-interval", m.Config.Notify.Interval, "how often the notifier looks for overdue keys, alarms and silent kiosks")
		fs.StringVar(&m.Config.WebhookAllow, "webhook-allow", "", "comma-separated `addresses or CIDRs` webhooks may be sent to although private, loopback or link-local (default: none)")
		fs.DurationVar(&m.Config.Webhook.Interval, "webhook-interval", m.Config.Webhook.Interval, "how often the webhook sender looks for deliveries due")
		fs.Func("witness", "an external C2SP tlog-witness to send every kiosk's checkpoints to, as `URL=VKEY` (its base URL and its cosignature/v1 verifier key); repeatable", func(v string) error {
			w, err := witness.Parse(v)
			if err != nil {
				return err
			}
			m.Config.Witnesses = append(m.Config.Witnesses, w)
			return nil
		})
		fs.DurationVar(&m.Config.WitnessInterval, "witness-interval", m.Config.WitnessInterval, "how often HQ offers the witnesses every log's newest checkpoint (it also does after each push)")
		fs.DurationVar(&m.Config.RetentionEvery, "retention-interval", m.Config.RetentionEvery, "how often each organisation's retention rules run (0: never)")
		fs.DurationVar(&m.Config.Notify.OfflineAfter, "offline-after", m.Config.Notify.OfflineAfter, "a kiosk silent this long is offline, and its admins are told")
		fs.Func("security-contact", "security.txt: a `URI` (mailto: or https:) to report vulnerabilities in this deployment to; repeatable or comma-separated (default: none, and no security.txt is served)", func(v string) error {
			for _, c := range strings.Split(v, ",") {
				if c = strings.TrimSpace(c); c != "" {
					m.Config.SecurityContacts = append(m.Config.SecurityContacts, c)
				}
			}
			return nil
		})
		fs.StringVar(&m.Config.SecurityExpires, "security-expires", "", "security.txt: when it expires: an RFC 3339 `time`, a YYYY-MM-DD date, or a duration from start (e.g. 4320h or 180d); required with --security-contact, at most a year ahead")
		fs.StringVar(&m.Config.SecurityLanguages, "security-languages", "", "security.txt: Preferred-Languages, comma-separated language `tags` (e.g. en,de)")
		fs.StringVar(&m.Config.SecurityPolicy, "security-policy", "", "security.txt: Policy, the https `URL` of the deployment's disclosure policy")
	case "demo-seed":
		fs.StringVar(&m.Config.DemoOut, "out", "", "also write the demo's ids and login to this `file` (mode 0600, shell syntax)")
	case "enrol-token":
		fs.StringVar(&m.Config.As, "as", "", "the `email` of the owner or admin creating the token")
		fs.StringVar(&m.Config.Org, "org", "", "the organisation's `id` (default: the account's only one)")
		fs.StringVar(&m.Config.Cabinet, "cabinet", "", "the cabinet's `id or name` (default: the organisation's only one)")
		fs.DurationVar(&m.Config.TokenTTL, "ttl", m.Config.TokenTTL, "how long the token stays valid")
		fs.StringVar(&m.Config.CodeHQ, "hq", "", "print the enrolment code (HQ's `URL` and the token, what the kiosk's setup screen reads) instead of the token")
		fs.StringVar(&m.Config.CodeQR, "qr", "", "with --hq, also write the enrolment code as a QR code PNG to this `file` (mode 0600: it holds the token)")
	case "backup":
		fs.StringVar(&m.Config.BackupOut, "out", "", "the backup `file` to write (must not exist); SQLite only: back PostgreSQL up with pg_dump")
	case "migrate":
		fs.StringVar(&m.Config.AppRole, "app-role", m.Config.AppRole, "PostgreSQL: the service's role, granted what it needs")
	case "witness-logs":
		fs.StringVar(&m.Config.Auth.BaseURL, "base-url", m.Config.Auth.BaseURL, "HQ's public URL, for each log's URL (its tlog-tiles under /v1/kiosks/ID/log/)")
		fs.StringVar(&m.Config.NotesKeyFile, "notes-key-file", "", "file holding the notes key (else $KEYCAB_NOTES_KEY)")
	case "rotate-notes-key":
		fs.StringVar(&m.Config.NotesKeyFile, "notes-key-file", "", "file holding the current notes key (else $KEYCAB_NOTES_KEY)")
		fs.StringVar(&m.Config.NotesKeyFile, "old-key-file", "", "the same as --notes-key-file")
		fs.StringVar(&m.Config.NewKeyFile, "new-key-file", "", "file holding the new notes key (32 bytes, hex or base64)")
	}
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: keycab-hq serve|migrate|demo-seed|enrol-token|backup|rotate-notes-key|witness-logs [flags]\n\nflags of %s:\n", m.Config.Command)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if m.Config.Command == "serve" {
		if _, err := hq.ParseTrustedProxies(m.Config.TrustedProxies); err != nil {
			return err
		}
		if err := m.validateSecurityTxt(); err != nil {
			return err
		}
		if _, err := kioskapi.OriginPrefix(m.Config.LogOriginDomain); err != nil {
			return fmt.Errorf("--log-origin-domain: %w", err)
		}
		var err error
		if m.Config.Webhook.Allow, err = webhook.ParseAllow(m.Config.WebhookAllow); err != nil {
			return fmt.Errorf("--webhook-allow: %w", err)
		}
		if err := m.Config.Webhook.Validate(); err != nil {
			return fmt.Errorf("--webhook-interval: %w", err)
		}
		if m.Config.DeletionGrace <= 0 || m.Config.Housekeeping <= 0 {
			return errors.New("--org-deletion-grace and --housekeeping-interval must be positive")
		}
		return m.validateMail()
	}
	return nil
}

// validateSecurityTxt makes Config.SecurityTxt of the security settings,
// so that serve refuses to start with an expiry in the past or more than
// a year ahead, or a contact that is not a mailto: or https: URI.
func (m *Main) validateSecurityTxt() error {
	c := &m.Config
	if len(c.SecurityContacts) == 0 {
		if c.SecurityExpires != "" || c.SecurityLanguages != "" || c.SecurityPolicy != "" {
			return errors.New("security.txt settings given without --security-contact: give a contact or drop them")
		}
		c.SecurityTxt = nil
		return nil
	}
	if c.SecurityExpires == "" {
		return errors.New("--security-contact needs --security-expires: RFC 9116 requires an expiry, at most a year ahead")
	}
	now := m.now()
	expires, err := parseExpiry(c.SecurityExpires, now)
	if err != nil {
		return fmt.Errorf("--security-expires: %w", err)
	}
	t := &hq.SecurityTxt{Contacts: c.SecurityContacts, Expires: expires,
		PreferredLanguages: c.SecurityLanguages, Policy: c.SecurityPolicy}
	if base := strings.TrimRight(c.Auth.BaseURL, "/"); strings.HasPrefix(base, "https://") {
		t.Canonical = base + hq.SecurityTxtPath
	}
	if err := t.Validate(now); err != nil {
		return err
	}
	c.SecurityTxt = t
	return nil
}

// parseExpiry reads an RFC 3339 time, a YYYY-MM-DD date (its midnight
// UTC) or a duration from now (Go's syntax, or whole days as "180d").
func parseExpiry(v string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, v); err == nil {
		return t, nil
	}
	if days, ok := strings.CutSuffix(v, "d"); ok {
		if n, err := strconv.Atoi(days); err == nil && n > 0 {
			return now.AddDate(0, 0, n), nil
		}
	}
	if d, err := time.ParseDuration(v); err == nil && d > 0 {
		return now.Add(d), nil
	}
	return time.Time{}, fmt.Errorf("%q is not an RFC 3339 time, a YYYY-MM-DD date or a positive duration", v)
}

// validateMail checks the mail and notifier settings, so that serve fails
// at once with a clear error rather than at the first email.
func (m *Main) validateMail() error {
	c := &m.Config
	c.Notify.BaseURL = c.Auth.BaseURL
	if err := c.Notify.Validate(); err != nil {
		return err
	}
	if c.SMTP.Host == "" {
		if c.SMTP.Username != "" || c.SMTPPassFile != "" || c.SMTP.From != "" || c.SMTP.Port != 0 {
			return errors.New("smtp settings given without --smtp-host: mail stays a dry run; give --smtp-host or drop them")
		}
		return nil
	}
	if c.MailDir != "" {
		return errors.New("--mail-dir (dry run) and --smtp-host (real mail) exclude each other")
	}
	if c.SMTP.Username != "" {
		switch {
		case c.SMTPPassFile != "":
			b, err := os.ReadFile(c.SMTPPassFile)
			if err != nil {
				return fmt.Errorf("smtp password: %w", err)
			}
			c.SMTP.Password = strings.TrimRight(string(b), "\r\n")
		default:
			c.SMTP.Password = c.SMTPPassEnv
		}
	}
	return c.SMTP.Validate()
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
	case "enrol-token":
		if err := m.open(ctx); err != nil {
			return err
		}
		return m.enrolToken(ctx)
	case "backup":
		return m.backup(ctx)
	case "rotate-notes-key":
		return m.rotateNotesKey(ctx)
	case "witness-logs":
		if err := m.open(ctx); err != nil {
			return err
		}
		return m.witnessLogs(ctx)
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

// rotateNotesKey re-seals every sealed value under the new key.
func (m *Main) rotateNotesKey(ctx context.Context) error {
	if m.Config.NewKeyFile == "" {
		return errors.New("rotate-notes-key: --new-key-file is required")
	}
	newKey, err := store.ReadNotesKey(m.Config.NewKeyFile)
	if err != nil {
		return fmt.Errorf("rotate-notes-key: %w", err)
	}
	old, err := m.notesKey()
	if err != nil {
		return fmt.Errorf("rotate-notes-key: %w", err)
	}
	if old == nil {
		return errors.New("rotate-notes-key: the current key is required (--notes-key-file or KEYCAB_NOTES_KEY)")
	}
	if string(old) == string(newKey) {
		return errors.New("rotate-notes-key: the new key is the current key")
	}
	if err := m.open(ctx); err != nil {
		return fmt.Errorf("rotate-notes-key: %w", err)
	}
	rc, err := m.st.RotateNotesKey(ctx, newKey)
	if err != nil {
		return err
	}
	m.log.Info("notes key rotated", "generation", rc.Generation, "site_notes", rc.SiteNotes, "totp_secrets", rc.TOTPSecrets,
		"mail_bodies", rc.MailBodies, "personal_texts", rc.PersonalTexts, "camera_stills", rc.Stills)
	fmt.Fprintf(m.stdout, "notes key rotated to generation %d: %d site notes, %d TOTP secrets, %d mail bodies, %d personal texts re-sealed\n",
		rc.Generation, rc.SiteNotes, rc.TOTPSecrets, rc.MailBodies, rc.PersonalTexts)
	return nil
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

// mailer returns the SMTP mailer, the dry-run directory, or nil (a dry
// run recorded in the delivery log only).
func (m *Main) mailer() (mail.Mailer, error) {
	if m.Config.SMTP.Host == "" {
		if m.Config.MailDir != "" {
			return mail.DirMailer{Dir: m.Config.MailDir}, nil
		}
		return nil, nil
	}
	s, err := mail.NewSMTPMailer(m.Config.SMTP)
	if err != nil {
		return nil, err
	}
	m.log.Info("mail is sent", "via", s.String())
	return s, nil
}

func (m *Main) serve(ctx context.Context) error {
	mailer, err := m.mailer()
	if err != nil {
		return err
	}
	authMailer := mailer
	if _, real := mailer.(*mail.SMTPMailer); real {
		// A link that fails to go out is retried by the notifier.
		authMailer = mail.Retrying{Mailer: mailer, Queue: m.st.Outbox(), After: m.Config.Notify.RetryAfter}
	}
	a, err := auth.New(m.st, authMailer, m.log, nil, m.Config.Auth)
	if err != nil {
		return err
	}
	keysFile := m.Config.KeysFile
	if keysFile == "" {
		path, ok := strings.CutPrefix(m.Config.DB, "sqlite:")
		if !ok {
			return errors.New("serve on PostgreSQL needs --keys FILE: HQ's signing keys, the same file for every HQ process")
		}
		keysFile = filepath.Join(filepath.Dir(path), "keycab-hq.keys")
	}
	keys, created, err := loadOrCreateKeys(keysFile, m.Config.KeyName)
	if err != nil {
		return err
	}
	if created {
		m.log.Info("created HQ signing keys", "file", keysFile)
	}
	nc := m.Config.Notify
	nc.ConfigBehindAfter = m.Config.ConfigBehindAfter // one threshold for the page and the notice
	nc.LinkKey = keys.Dashboard                       // the dashboard checks report mails' unsubscribe links
	notifier, err := notify.New(m.st, mailer, m.log, nil, nc)
	if err != nil {
		return err
	}
	wc := m.Config.Webhook // Allow: ParseFlags parsed --webhook-allow
	sender, err := webhook.New(m.st, m.log, nil, wc)
	if err != nil {
		return err
	}
	if len(wc.Allow) > 0 {
		m.log.Warn("webhooks may be sent to internal addresses", "allow", m.Config.WebhookAllow)
	}
	prefix, err := kioskapi.OriginPrefix(m.Config.LogOriginDomain)
	if err != nil {
		return fmt.Errorf("--log-origin-domain: %w", err)
	}
	orgLog, err := store.NewOrgLogKeys(keys.OrgLog, m.Config.LogOriginDomain)
	if err != nil {
		return err
	}
	m.st.SetOrgLogKeys(orgLog)
	m.st.SetPassSigner(keys.Config) // offline passes are signed by the key kiosks pinned for bundles
	witnesses, err := witness.New(m.st, m.log, witness.Config{Witnesses: m.Config.Witnesses, Interval: m.Config.WitnessInterval})
	if err != nil {
		return err
	}
	for _, w := range m.Config.Witnesses {
		m.log.Info("external witness", "name", w.Name(), "url", w.URL)
	}
	kapi, err := kioskapi.New(kioskapi.Config{Store: m.st, Cosigner: keys.Cosigner, ConfigSigner: keys.Config,
		OriginPrefix: prefix, Logger: m.log, PollInterval: m.Config.ConfigPoll, Pushed: witnesses.Pushed})
	if err != nil {
		return err
	}
	// A change at HQ wakes its organisation's kiosks' long polls at once.
	m.st.OnChange(kapi.ConfigChanged)
	m.log.Info("kiosk sync keys", "cosigner", keys.Cosigner.VerifierKey(), "config", keys.Config.VerifierKey)
	proxies, err := hq.ParseTrustedProxies(m.Config.TrustedProxies)
	if err != nil {
		return err
	}
	if t := m.Config.SecurityTxt; t != nil {
		m.log.Info("security.txt is served", "path", hq.SecurityTxtPath, "contacts", t.Contacts, "expires", t.Expires.UTC().Format(time.RFC3339))
	} else {
		m.log.Info("security.txt is off: no --security-contact")
	}
	srv := &hq.Server{Store: m.st, Logger: m.log, TrustedProxies: proxies, KioskAPI: kapi, SecurityTxt: m.Config.SecurityTxt,
		API:  &api.API{Store: m.st, Auth: a, Logger: m.log, DeletionGrace: m.Config.DeletionGrace, Webhooks: sender},
		SCIM: &scim.SCIM{Store: m.st, Auth: a, Logger: m.log},
		Dashboard: &dashboard.Dashboard{Store: m.st, Auth: a, Logger: m.log, Key: keys.Dashboard, Webhooks: sender,
			OfflineAfter: m.Config.Notify.OfflineAfter, ConfigBehindAfter: m.Config.ConfigBehindAfter, DeletionGrace: m.Config.DeletionGrace}}
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
	errc := make(chan error, 2)
	go func() { errc <- hs.Serve(ln) }()
	if m.Config.MetricsListen != "" {
		ms, err := m.serveMetrics(srv.Metrics, errc)
		if err != nil {
			hs.Close()
			return err
		}
		defer ms.Close()
	}
	nctx, stopNotifier := context.WithCancel(ctx)
	notified := make(chan error, 1)
	go func() { notified <- notifier.Run(nctx) }()
	defer func() {
		stopNotifier()
		<-notified
	}()
	wctx, stopSender := context.WithCancel(ctx)
	sent := make(chan error, 1)
	go func() { sent <- sender.Run(wctx) }()
	defer func() {
		stopSender()
		<-sent
	}()
	witCtx, stopWitnesses := context.WithCancel(ctx)
	witnessed := make(chan error, 1)
	go func() { witnessed <- witnesses.Run(witCtx) }()
	defer func() {
		stopWitnesses()
		<-witnessed
	}()
	hk := &housekeeping{log: m.log, jobs: []housekeepingJob{
		{"purge deleted organisations", m.Config.Housekeeping, func(ctx context.Context) error {
			_, err := m.st.PurgeDeletedOrgs(ctx)
			return err
		}},
		{"retention", m.Config.RetentionEvery, m.st.RunRetention},
	}}
	hctx, stopHousekeeping := context.WithCancel(ctx)
	housekept := make(chan struct{})
	go func() { hk.Run(hctx); close(housekept) }()
	defer func() {
		stopHousekeeping()
		<-housekept
	}()
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

// serveMetrics starts the monitoring listener: the fleet's metrics, the
// request metrics, and the Go runtime's and the process's.
func (m *Main) serveMetrics(requests *hq.Metrics, errc chan<- error) (*http.Server, error) {
	fleet := prometheus.NewRegistry()
	if err := fleet.Register(&metrics.Fleet{Store: m.st, OfflineAfter: m.Config.Notify.OfflineAfter,
		PerKiosk: m.Config.MetricsPerKiosk, Logger: m.log}); err != nil {
		return nil, err
	}
	fleet.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(prometheus.Gatherers{requests.Registry, fleet},
		promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(m.log.Handler(), slog.LevelError)}))
	ln, err := net.Listen("tcp", m.Config.MetricsListen)
	if err != nil {
		return nil, fmt.Errorf("--metrics-listen: %w", err)
	}
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, WriteTimeout: 60 * time.Second,
		ErrorLog: slog.NewLogLogger(m.log.Handler(), slog.LevelWarn)}
	m.log.Info("serving metrics", "addr", ln.Addr().String(), "per_kiosk", m.Config.MetricsPerKiosk)
	if m.MetricsReady != nil {
		m.MetricsReady(ln.Addr().String())
	}
	go func() {
		if err := hs.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			errc <- fmt.Errorf("metrics listener: %w", err)
		}
	}()
	return hs, nil
}

// Close closes the database.
func (m *Main) Close() error {
	if m.st != nil {
		return m.st.Close()
	}
	return nil
}
