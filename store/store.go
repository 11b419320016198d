package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"keycab.dev/keycab"
	"keycab.dev/keycab/audit"
	"keycab.dev/keycab/internal/migrate"
)

// ApplicationID marks a keycab kiosk database (PRAGMA application_id):
// "kcab" in ASCII.
const ApplicationID = 0x6b636162

//go:embed migrations/*.sql
var migrations embed.FS

// Errors Open returns, wrapped with the path.
var (
	ErrNotKeycab = errors.New("not a keycab database")
	ErrLocked    = errors.New("database is locked by another program")
)

// Options configure Open.
type Options struct {
	// Signer signs checkpoints. It is needed to create a log and to
	// append; without it the log can be read and verified only.
	Signer *audit.Signer
	// Create makes a new database when the file does not exist.
	Create bool
	// ReadOnly opens the file read-only (for verify, show, export).
	ReadOnly bool
	// Logger receives operational messages; nil discards them.
	Logger *slog.Logger
	// Now is the wall clock; nil means time.Now.
	Now func() time.Time
	// RetainEvery keeps a checkpoint for good every that many entries;
	// zero means audit.RetainEvery.
	RetainEvery int64
	// BusyTimeout is how long to wait for another writer; zero means 5s.
	BusyTimeout time.Duration
	// SealDelay is how long entries an append commits may wait for a
	// signed head (Seal); zero means DefaultSealDelay, and a negative
	// delay signs the head in every append's own transaction.
	SealDelay time.Duration
}

// DefaultSealDelay is how long committed entries wait, at most, for a
// signed head when nothing asks for one sooner: short enough that a head
// covers every entry within a second, long enough that a burst of
// appends shares one signature.
const DefaultSealDelay = 250 * time.Millisecond

// DB is an open kiosk database.
type DB struct {
	path   string
	db     *sql.DB
	opts   Options
	log    *slog.Logger
	now    func() time.Time
	boot   []byte
	start  time.Time
	retain int64

	stmtMu sync.Mutex
	stmts  map[string]*sql.Stmt

	// compactDue: an erasure by bundle could not compact (a reader held
	// the WAL); ExpirePersonal compacts then.
	compactDue atomic.Bool

	mu       sync.Mutex // serialises appends and guards the log state below
	meta     *logMeta   // nil until a log exists
	size     int64
	frontier *audit.Frontier
	prev     tlog.Hash   // leaf hash of the newest entry
	broken   error       // why the stored log cannot be appended to, if it cannot
	lock     *os.File    // holds the flock of a database open to append (lockWriter)
	sealed   int64       // the size the newest signed head covers (<= size)
	sealing  *time.Timer // the pending Seal, while sealed < size
	closed   bool

	markMu   sync.Mutex // serialises writes of the mark (mark.go)
	markSize int64      // the size the mark records

	confMu      sync.Mutex    // guards confChanged
	confChanged chan struct{} // closed at the next change of the config (config.go)
}

type logMeta struct {
	origin   string
	vkey     string // the newest key's (rotate.go)
	verifier note.Verifier
	keys     []audit.LogKey
}

// Open opens (or with opts.Create, creates) the kiosk database at path.
func Open(ctx context.Context, path string, opts Options) (*DB, error) {
	st, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist) && !opts.Create:
		return nil, fmt.Errorf("open %s: no such file", path)
	case err == nil && st.IsDir():
		return nil, fmt.Errorf("open %s: is a directory", path)
	case err == nil && st.Size() > 0:
		if err := checkHeader(path); err != nil {
			return nil, err
		}
	}
	if opts.ReadOnly && opts.Create {
		return nil, fmt.Errorf("open %s: read-only and create are exclusive", path)
	}
	if err := precheckMark(ctx, path, opts); err != nil {
		return nil, err
	}
	d := &DB{path: path, opts: opts, log: opts.Logger, now: opts.Now, retain: opts.RetainEvery, start: time.Now()}
	if d.opts.SealDelay == 0 {
		d.opts.SealDelay = DefaultSealDelay
	}
	if d.log == nil {
		d.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if d.now == nil {
		d.now = time.Now
	}
	if d.retain <= 0 {
		d.retain = audit.RetainEvery
	}
	d.boot = audit.BootID()
	busy := opts.BusyTimeout
	if busy == 0 {
		busy = 5 * time.Second
	}
	db, err := sql.Open("sqlite", DSN(path, opts.ReadOnly, busy))
	if err != nil {
		return nil, d.wrap("open", err)
	}
	// A few connections: writes are serialised by DB.mu (and SQLite), and
	// verification reads ahead on the others.
	db.SetMaxOpenConns(4)
	db.SetMaxIdleConns(4)
	d.db = db
	if err := d.init(ctx); err != nil {
		db.Close()
		if d.lock != nil {
			d.lock.Close()
		}
		return nil, err
	}
	return d, nil
}

// DSN returns the driver data source name for a database at path with the
// pragmas every keycab database runs under: WAL, synchronous=FULL, foreign
// keys, secure_delete and a busy timeout, and immediate write transactions
// (read-only: no journal change, no writes).
func DSN(path string, readOnly bool, busy time.Duration) string {
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busy.Milliseconds()))
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "secure_delete(1)")
	if readOnly {
		q.Set("mode", "ro")
	} else {
		q.Add("_pragma", "journal_mode(WAL)")
		q.Add("_pragma", "synchronous(FULL)")
		q.Set("_txlock", "immediate")
	}
	return "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + q.Encode()
}

// checkHeader rejects a file that is not SQLite before the driver sees it.
func checkHeader(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("open %s: %w", path, err)
	}
	defer f.Close()
	hdr := make([]byte, 16)
	if _, err := io.ReadFull(f, hdr); err != nil || string(hdr) != "SQLite format 3\x00" {
		return fmt.Errorf("open %s: %w (not an SQLite file)", path, ErrNotKeycab)
	}
	return nil
}

// wrap turns driver errors into the errors Open documents.
func (d *DB) wrap(op string, err error) error {
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
			return fmt.Errorf("%s %s: %w", op, d.path, ErrLocked)
		case sqlite3.SQLITE_NOTADB:
			return fmt.Errorf("%s %s: %w (not an SQLite file)", op, d.path, ErrNotKeycab)
		case sqlite3.SQLITE_CANTOPEN:
			return fmt.Errorf("%s %s: cannot open the file (check it exists and is readable)", op, d.path)
		}
	}
	return fmt.Errorf("%s %s: %w", op, d.path, err)
}

func (d *DB) init(ctx context.Context) error {
	var appID, version int
	if err := d.db.QueryRowContext(ctx, "PRAGMA application_id").Scan(&appID); err != nil {
		return d.wrap("open", err)
	}
	if err := d.db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return d.wrap("open", err)
	}
	if appID != ApplicationID {
		var tables int
		if err := d.db.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_schema").Scan(&tables); err != nil {
			return d.wrap("open", err)
		}
		if appID != 0 || tables > 0 || d.opts.ReadOnly || !d.opts.Create {
			return fmt.Errorf("open %s: %w", d.path, ErrNotKeycab)
		}
	}
	if !d.opts.ReadOnly {
		if err := d.migrate(ctx); err != nil {
			return err
		}
	} else if version == 0 {
		return fmt.Errorf("open %s: %w (no schema)", d.path, ErrNotKeycab)
	}
	if err := d.loadLog(ctx); err != nil {
		return err
	}
	// Before a log is created or appended to: does it reach its mark?
	if _, what, fault := d.checkMark(ctx, d.size); what != "" {
		if !d.opts.ReadOnly {
			return d.behindMark(what, fault)
		}
		d.log.Error("the log disagrees with its high-water mark", "path", d.path, "problem", what)
	}
	if d.meta == nil && d.opts.Signer != nil && !d.opts.ReadOnly {
		if err := d.createLog(ctx); err != nil {
			return err
		}
	}
	if d.meta != nil && d.opts.Signer != nil && d.opts.Signer.VerifierKey != d.meta.vkey {
		return fmt.Errorf("open %s: the signer key %s is not this log's key %s", d.path, d.opts.Signer.VerifierKey, d.meta.vkey)
	}
	if d.meta != nil && d.opts.Signer != nil && !d.opts.ReadOnly {
		if err := d.lockWriter(); err != nil {
			return err
		}
		// Entries a crash left without a head (loadLog checked that this
		// key wrote them) get one before anything else is appended.
		if err := d.Seal(ctx); err != nil {
			return err
		}
		// A restored kiosk's new log begins with its log.epoch entry.
		return d.beginEpoch(ctx)
	}
	return nil
}

// migrate applies the embedded migrations newer than the database's
// version, each in its own transaction together with the new
// user_version.
func (d *DB) migrate(ctx context.Context) error {
	ms, err := migrate.Files(migrations, "migrations")
	if err != nil {
		return err
	}
	r := migrate.Runner{
		Migrations: ms,
		Recorder:   migrate.UserVersion{},
		// Each migration's transaction marks the file as keycab's.
		After: func(ctx context.Context, tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA application_id = %d", ApplicationID))
			return err
		},
		Applied: func(m migrate.Migration) { d.log.Info("database migrated", "path", d.path, "version", m.Version) },
	}
	if err := r.Run(ctx, d.db); errors.Is(err, migrate.ErrNewer) {
		return fmt.Errorf("open %s: %w", d.path, err)
	} else if err != nil {
		return d.wrap("migrate", err)
	}
	return nil
}

// lockWriter takes an exclusive flock on the database file for as long as
// it is open to append: one writer at a time signs heads and moves them
// (another, opened beside it, would move the head from under it), and a
// second program opening it to append is told at once. SQLite's own locks
// (fcntl) are separate and unaffected.
func (d *DB) lockWriter() error {
	f, err := os.OpenFile(d.path, os.O_RDWR, 0)
	if err != nil {
		return d.wrap("open", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return fmt.Errorf("open %s: %w: another program has its log open to append (is keycab-kiosk running?)", d.path, ErrLocked)
		}
		return fmt.Errorf("open %s: lock: %w", d.path, err)
	}
	d.lock = f
	return nil
}

// Close closes the database. A database open to append first signs a
// head over every entry (Seal) and moves its high-water mark to it.
func (d *DB) Close() error {
	ctx := context.Background()
	d.mu.Lock()
	write := !d.opts.ReadOnly && d.opts.Signer != nil && d.meta != nil && d.broken == nil && d.size > 0
	if write {
		if err := d.sealLocked(ctx); err != nil {
			// The entries keep their MACs: the next open signs them.
			d.log.Error("cannot sign the log's head at close", "path", d.path, "err", err)
		}
	}
	if d.sealing != nil {
		d.sealing.Stop()
		d.sealing = nil
	}
	d.closed = true
	d.mu.Unlock()
	if write {
		if signed, size, err := head(ctx, d.db); err == nil {
			d.keepMark(signed, size)
		}
	}
	d.stmtMu.Lock()
	for _, st := range d.stmts {
		st.Close()
	}
	d.stmts = nil
	d.stmtMu.Unlock()
	err := d.db.Close()
	if d.lock != nil {
		d.lock.Close()
	}
	return err
}

// Path returns the database file's path.
func (d *DB) Path() string { return d.path }

// SQL returns the underlying database handle, for tests and tools that
// inspect the file directly (integrity checks, raw reads).
func (d *DB) SQL() *sql.DB { return d.db }

// IntegrityCheck runs PRAGMA integrity_check and returns nil when it says ok.
func (d *DB) IntegrityCheck(ctx context.Context) error {
	rows, err := d.db.QueryContext(ctx, "PRAGMA integrity_check")
	if err != nil {
		return d.wrap("integrity check", err)
	}
	defer rows.Close()
	var msgs []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return err
		}
		msgs = append(msgs, s)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if len(msgs) == 1 && msgs[0] == "ok" {
		return nil
	}
	return keycab.Errorf(keycab.ETAMPERED, "integrity check: %s", strings.Join(msgs, "; "))
}

func ms(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func fromMS(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMilli(v).UTC()
}
