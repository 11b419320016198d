package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"golang.org/x/mod/sumdb/note"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"keycab.dev/keycab"
)

// Engine names a database engine the store runs on.
type Engine string

// The engines.
const (
	SQLite   Engine = "sqlite"
	Postgres Engine = "postgres"
)

// Options configure Open.
type Options struct {
	// Logger receives operational messages; nil discards them.
	Logger *slog.Logger
	// Now is the wall clock; nil means time.Now.
	Now func() time.Time
	// NotesKey is the 32-byte AES-256 key that seals site notes. It comes
	// from the environment or a key file (see DecodeNotesKey and
	// ReadNotesKey), never from the database. Without it notes cannot be
	// written and always read as redacted.
	NotesKey []byte
	// Trace, when set, is called with every SQL statement the store runs,
	// before it runs. Tests use it to check tenant scoping.
	Trace func(query string)
	// MaxConns bounds the connection pool; zero means 10 on PostgreSQL and
	// 4 readers plus one writer on SQLite.
	MaxConns int
}

// Store is the HQ database. Every method but CreateOrg runs for a
// principal (a Scope) and sees only that principal's organisation.
type Store struct {
	engine Engine
	db     *sql.DB // writes; on PostgreSQL also reads
	rdb    *sql.DB // reads
	log    *slog.Logger
	now    func() time.Time
	notes  *sealer // nil without a notes key
	orgLog *OrgLogKeys
	// passSigner signs offline passes (SetPassSigner): HQ's config key.
	passSigner note.Signer
	// noKeyWarned: without a notes key, the warning that personal texts
	// are not kept was logged (personal.go).
	noKeyWarned atomic.Bool
	// noStillKeyWarned: the same for camera stills (stills.go).
	noStillKeyWarned atomic.Bool
	trace            func(string)

	// changed, when set, is called after each committed write a member
	// made (OnChange).
	changed atomic.Pointer[func(orgID string)]

	// On SQLite, the loop keeping the planner's statistics (optimize).
	stopStats chan struct{}
	statsDone chan struct{}
}

// statsEvery is how often, on SQLite, the store refreshes the planner's
// statistics (see Store.optimize) and reopens its readers to load them.
const statsEvery = time.Hour

// Open opens the database named by dsn: "sqlite:PATH" for the embedded
// engine, or a "postgres://" or "postgresql://" URL. The schema must be at
// the version of this build (run Migrate first). On PostgreSQL, Open
// refuses to run as a role that is a superuser, can bypass row-level
// security or owns any of the store's tables.
func Open(ctx context.Context, dsn string, opts Options) (*Store, error) {
	s := &Store{log: opts.Logger, now: opts.Now, trace: opts.Trace}
	if s.log == nil {
		s.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if s.now == nil {
		s.now = time.Now
	}
	if opts.NotesKey != nil && len(opts.NotesKey) != NotesKeySize {
		return nil, fmt.Errorf("open store: notes key: want %d bytes, have %d", NotesKeySize, len(opts.NotesKey))
	}
	engine, target, err := parseDSN(dsn)
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	s.engine = engine
	switch engine {
	case SQLite:
		if s.db, err = sql.Open("sqlite", sqliteDSN(target, false)); err != nil {
			return nil, fmt.Errorf("open store %s: %w", target, err)
		}
		// One writer: SQLite serialises writes anyway, and a single
		// connection with immediate transactions makes every
		// read-check-write (caps, last owner, overlaps) atomic.
		s.db.SetMaxOpenConns(1)
		if s.rdb, err = sql.Open("sqlite", sqliteDSN(target, true)); err != nil {
			s.db.Close()
			return nil, fmt.Errorf("open store %s: %w", target, err)
		}
		n := opts.MaxConns
		if n <= 0 {
			n = 4
		}
		s.rdb.SetMaxOpenConns(n)
		s.rdb.SetMaxIdleConns(n)
		// A connection reads sqlite_stat1 when it opens and never again,
		// so readers are renewed to see what optimize found.
		s.rdb.SetConnMaxLifetime(statsEvery)
		// Before any reader opens (check opens the first), so they all
		// start with the statistics.
		s.optimize(ctx)
	case Postgres:
		cfg, err := pgx.ParseConfig(target)
		if err != nil {
			return nil, fmt.Errorf("open store: parse postgres dsn: %w", err)
		}
		s.db = stdlib.OpenDB(*cfg)
		n := opts.MaxConns
		if n <= 0 {
			n = 10
		}
		s.db.SetMaxOpenConns(n)
		s.db.SetMaxIdleConns(n)
		s.rdb = s.db
	}
	if err := s.check(ctx); err != nil {
		s.Close()
		return nil, err
	}
	if opts.NotesKey != nil {
		if s.notes, err = s.loadNotesKey(ctx, opts.NotesKey); err != nil {
			s.Close()
			return nil, fmt.Errorf("open store: %w", err)
		}
	}
	if engine == SQLite {
		s.stopStats, s.statsDone = make(chan struct{}), make(chan struct{})
		go s.keepStats()
	}
	return s, nil
}

// optimize runs PRAGMA optimize on the writer, SQLite's recommended way
// to keep the query planner's statistics for long-lived connections
// (https://sqlite.org/pragma.html#pragma_optimize): "PRAGMA
// optimize=0x10002" when the store opens and again every statsEvery. It
// runs ANALYZE only on tables without statistics or whose size has
// changed much since (SQLite's own rule), and checks every table (the
// 0x10000 bit),
// because the readers that query most tables are other connections. It
// is not given an analysis_limit (the 0x10 bit): a sampled ANALYZE of the
// bench's 1M events took 0.5 s instead of 3.8 to 5.7 s, but recorded
// about 2,000 events per organisation where there are 200,000. The full
// run holds the writer, the one connection that may write sqlite_stat1
// (readers are query_only), so a push waits for it; it happens once on
// a database never analyzed and then only when a table's size has
// changed much; otherwise optimize takes well under a millisecond.
// The history's and EventTimes' queries do not depend on statistics
// (history.go, EventTimes); other statements may. Failing to optimize is
// logged, never fatal.
func (s *Store) optimize(ctx context.Context) {
	const pragma = "PRAGMA optimize=0x10002"
	start := time.Now()
	if _, err := s.db.ExecContext(ctx, pragma); err != nil {
		s.log.Warn("sqlite statistics", "pragma", pragma, "err", err)
		return
	}
	if d := time.Since(start); d > time.Second {
		s.log.Info("sqlite statistics", "pragma", pragma, "took", d)
	}
}

// keepStats runs optimize every statsEvery until Close.
func (s *Store) keepStats() {
	defer close(s.statsDone)
	tick := time.NewTicker(statsEvery)
	defer tick.Stop()
	for {
		select {
		case <-s.stopStats:
			return
		case <-tick.C:
			s.optimize(context.Background())
		}
	}
}

// Close closes the database.
func (s *Store) Close() error {
	if s.stopStats != nil {
		close(s.stopStats)
		<-s.statsDone
		s.stopStats = nil
	}
	err := s.db.Close()
	if s.rdb != s.db {
		err = errors.Join(err, s.rdb.Close())
	}
	return err
}

// Engine reports which engine the store runs on.
func (s *Store) Engine() Engine { return s.engine }

// check verifies the schema version and, on PostgreSQL, that the service
// role cannot step around row-level security.
func (s *Store) check(ctx context.Context) error {
	v, err := migrationTable{}.Version(ctx, s.rdb)
	if err != nil {
		return fmt.Errorf("open store: read schema version (run migrate first): %w", err)
	}
	want := len(migrationFiles(s.engine))
	if v != want {
		return fmt.Errorf("open store: schema version %d, this build needs %d: run migrate", v, want)
	}
	if s.engine != Postgres {
		return nil
	}
	var super, bypass bool
	var owned int
	err = s.db.QueryRowContext(ctx, `SELECT r.rolsuper, r.rolbypassrls,
		(SELECT count(*) FROM pg_tables t WHERE t.tableowner = current_user AND t.schemaname = current_schema())
		FROM pg_roles r WHERE r.rolname = current_user`).Scan(&super, &bypass, &owned)
	if err != nil {
		return fmt.Errorf("open store: check role: %w", err)
	}
	if super || bypass || owned > 0 {
		return fmt.Errorf("open store: the service role must not be a superuser, bypass row-level security or own tables (superuser=%t bypassrls=%t tables owned=%d): connect as the application role", super, bypass, owned)
	}
	return nil
}

// parseDSN splits a DSN into its engine and the engine's own target.
func parseDSN(dsn string) (Engine, string, error) {
	switch {
	case strings.HasPrefix(dsn, "sqlite:"):
		p := strings.TrimPrefix(dsn, "sqlite:")
		if p == "" {
			return "", "", fmt.Errorf("dsn %q names no file", dsn)
		}
		return SQLite, p, nil
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		return Postgres, dsn, nil
	}
	return "", "", fmt.Errorf("dsn %q: want sqlite:PATH or postgres://", redactDSN(dsn))
}

// redactDSN hides a password in a DSN so it can be logged.
func redactDSN(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil || u.User == nil {
		return dsn
	}
	return u.Redacted()
}

// sqliteDSN returns the driver DSN for the HQ database at path: WAL,
// synchronous=FULL, foreign keys, a busy timeout; the writer uses
// immediate transactions and keeps temporary files in memory, readers
// are query-only.
func sqliteDSN(path string, reader bool) string {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(FULL)")
	q.Add("_pragma", "secure_delete(1)") // deleted rows are zeroed, not left in free pages (EraseMember)
	if reader {
		q.Add("_pragma", "query_only(1)")
	} else {
		q.Set("_txlock", "immediate")
		// The writer's statement journals in memory: on a file they cost a
		// push a fifth of its CPU when its events went in a row a
		// statement (a pwrite for each page each INSERT touched; the
		// journal spills to a file past 64 KiB). A statement journal
		// never outlives its transaction: a crash loses nothing the WAL
		// would have kept.
		q.Add("_pragma", "temp_store(2)")
	}
	return "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + q.Encode()
}

// tx is one store transaction for one principal.
type tx struct {
	s   *Store
	sql *sql.Tx
	p   principal
	now time.Time

	seen  map[string]bool      // statements run once in this transaction
	stmts map[string]*sql.Stmt // and those prepared as they ran again

	hooks webhookSubs // the organisation's webhooks, once read (subscribers)
	// badges are the checked badge values of the push being stored (log
	// index -> hex badge hash), for applying its badge.linked changes
	// (LogTx.RecordTexts, kioskchange.go).
	badges map[int64]string
}

// exec, query and queryRow run a statement in the transaction.
func (t *tx) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	if st := t.prepared(ctx, q); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return t.sql.ExecContext(ctx, q, args...)
}

func (t *tx) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	if st := t.prepared(ctx, q); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return t.sql.QueryContext(ctx, q, args...)
}

func (t *tx) queryRow(ctx context.Context, q string, args ...any) *sql.Row {
	if st := t.prepared(ctx, q); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return t.sql.QueryRowContext(ctx, q, args...)
}

// prepared traces q and, on SQLite, returns it prepared for the rest of
// the transaction once it runs a second time there, so a statement run
// for every event of a push is parsed once, not a thousand times (the
// transaction closes it). It returns nil to run q directly: the first
// time, and always on PostgreSQL, whose driver caches prepared
// statements per connection itself.
func (t *tx) prepared(ctx context.Context, q string) *sql.Stmt {
	t.s.traceQuery(q)
	if t.s.engine != SQLite {
		return nil
	}
	if st := t.stmts[q]; st != nil {
		return st
	}
	if t.seen == nil {
		t.seen, t.stmts = map[string]bool{}, map[string]*sql.Stmt{}
	}
	if !t.seen[q] {
		t.seen[q] = true
		return nil
	}
	st, err := t.sql.PrepareContext(ctx, q)
	if err != nil {
		return nil // run it directly, which reports the error
	}
	t.stmts[q] = st
	return st
}

func (s *Store) traceQuery(q string) {
	if s.trace != nil {
		s.trace(q)
	}
}

// org returns the transaction's organisation id.
func (t *tx) org() string { return t.p.org }

// txOptions returns the pool and options of a transaction. A read on
// PostgreSQL is READ ONLY at REPEATABLE READ, so every statement in it sees
// one snapshot, as every SQLite transaction does: at PostgreSQL's default
// READ COMMITTED each statement sees what committed before it began, and
// a read of several statements (a kiosk's bundle: its members, their
// badges, the erased) could mix the states before and after a commit,
// giving a kiosk an erased member's badge beside the erasure. A read-only
// transaction is never refused for serialization. Writes stay at READ
// COMMITTED, where their row locks and constraints order them.
func (s *Store) txOptions(write bool) (*sql.DB, *sql.TxOptions) {
	switch {
	case write:
		return s.db, nil
	case s.engine == Postgres:
		return s.rdb, &sql.TxOptions{ReadOnly: true, Isolation: sql.LevelRepeatableRead}
	}
	return s.rdb, nil
}

// begin starts a transaction bound to orgID: on PostgreSQL the tenant is
// set for this transaction only (set_config(..., true)), so a pooled
// connection never carries it into another request.
func (s *Store) begin(ctx context.Context, orgID string, write bool) (*tx, error) {
	if orgID == "" {
		return nil, keycab.Errorf(keycab.EUNAUTHORIZED, "no organisation")
	}
	db, opts := s.txOptions(write)
	st, err := db.BeginTx(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("begin: %w", err)
	}
	t := &tx{s: s, sql: st, now: s.now().UTC(), p: principal{org: orgID}}
	if s.engine == Postgres {
		const q = "SELECT set_config('keycab.org_id', $1, true)"
		s.traceQuery(q)
		if _, err := st.ExecContext(ctx, q, orgID); err != nil {
			st.Rollback()
			return nil, fmt.Errorf("set tenant: %w", err)
		}
	}
	return t, nil
}

// byEngine returns the statement for the transaction's engine: on
// PostgreSQL the few lookups across organisations call the SECURITY
// DEFINER functions of migration 0009, where SQLite runs the plain
// statement.
func (t *tx) byEngine(sqlite, postgres string) string {
	if t.s.engine == Postgres {
		return postgres
	}
	return sqlite
}

// forOrg runs fn for HQ itself in a transaction bound to orgID (tenant),
// or, for an account's own rows (orgID ""), bound to none (global).
func (s *Store) forOrg(ctx context.Context, op, orgID string, write bool, fn func(context.Context, *tx) error) error {
	if orgID == "" {
		return s.global(ctx, op, write, fn)
	}
	return s.tenant(ctx, op, orgID, write, fn)
}

// bind binds a transaction begun for no organisation (global) to orgID
// once a lookup has found it, as begin does: on PostgreSQL the tenant is
// set for the rest of the transaction only.
func (t *tx) bind(ctx context.Context, orgID string) error {
	if orgID == "" {
		return keycab.Errorf(keycab.EUNAUTHORIZED, "no organisation")
	}
	t.p = principal{org: orgID}
	if t.s.engine == Postgres {
		const q = "SELECT set_config('keycab.org_id', $1, true)"
		t.s.traceQuery(q)
		if _, err := t.sql.ExecContext(ctx, q, orgID); err != nil {
			return fmt.Errorf("set tenant: %w", err)
		}
	}
	return nil
}

// run runs fn in a transaction for the principal sc, loaded afresh inside
// the transaction (so a demoted, disabled or removed member, or a revoked
// kiosk, loses its rights at once). A write transaction commits when fn
// returns nil.
func (s *Store) run(ctx context.Context, op string, sc Scope, mode runMode, fn func(context.Context, *tx) error) error {
	write := mode != runRead
	t, err := s.begin(ctx, sc.org, write)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	defer t.sql.Rollback()
	if t.p, err = t.loadPrincipal(ctx, sc); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	if t.p.deleteAfter != 0 && mode == runWrite {
		// An owner of an organisation scheduled for deletion may read
		// (to export) and restore it, nothing else (orgdelete.go).
		return fmt.Errorf("%s: %w", op, errDeleting(t.p.deleteAfter))
	}
	if err := fn(ctx, t); err != nil {
		return fmt.Errorf("%s: %w", op, s.classify(err))
	}
	if err := t.sql.Commit(); err != nil {
		return fmt.Errorf("%s: commit: %w", op, s.classify(err))
	}
	if f := s.changed.Load(); f != nil && write && sc.kiosk == "" {
		(*f)(sc.org)
	}
	return nil
}

// OnChange has fn called with the organisation's id after every write a
// member, an API key or a SCIM token commits (a dashboard, API or SCIM change), so that HQ's kiosk edge can
// wake the long polls of that organisation's kiosks at once rather than
// at their next poll. fn must not block.
func (s *Store) OnChange(fn func(orgID string)) { s.changed.Store(&fn) }

// runMode is what a transaction of run may do.
type runMode uint8

const (
	runRead    runMode = iota // read only
	runWrite                  // read and write
	runRestore                // write, also while the organisation is scheduled for deletion
)

// read and write run fn in a read-only or a read-write transaction.
func (s *Store) read(ctx context.Context, op string, sc Scope, fn func(context.Context, *tx) error) error {
	return s.run(ctx, op, sc, runRead, fn)
}

func (s *Store) write(ctx context.Context, op string, sc Scope, fn func(context.Context, *tx) error) error {
	return s.run(ctx, op, sc, runWrite, fn)
}

// classify turns constraint violations into keycab errors. A foreign key
// that fails on insert or update names a parent the principal cannot see:
// not found, the same answer as for a missing row.
func (s *Store) classify(err error) error {
	var ke *keycab.Error
	if errors.As(err, &ke) {
		return err
	}
	if errors.Is(err, sql.ErrNoRows) {
		return keycab.Errorf(keycab.ENOTFOUND, "not found")
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "23505":
			return wrapCode(keycab.ECONFLICT, "already exists", err)
		case "23503":
			if strings.HasPrefix(pe.Message, "update or delete") {
				return wrapCode(keycab.ECONFLICT, "still in use", err)
			}
			return wrapCode(keycab.ENOTFOUND, "not found", err)
		case "23P01":
			return wrapCode(keycab.ECONFLICT, "overlaps an existing reservation", err)
		case "23514", "22P02", "22007", "22008":
			return wrapCode(keycab.EINVALID, "invalid value", err)
		case "42501":
			if strings.Contains(pe.Message, "row-level security") {
				return wrapCode(keycab.ENOTFOUND, "not found", err)
			}
			return wrapCode(keycab.EFORBIDDEN, "not allowed", err)
		case "KC001":
			return wrapCode(keycab.EFORBIDDEN, "append-only", err)
		case "40001", "40P01":
			return wrapCode(keycab.EUNAVAILABLE, "conflicting update; try again", err)
		}
		return err
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return wrapCode(keycab.ECONFLICT, "already exists", err)
		case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
			return wrapCode(keycab.ENOTFOUND, "not found", err)
		case sqlite3.SQLITE_CONSTRAINT_CHECK, sqlite3.SQLITE_CONSTRAINT_NOTNULL, sqlite3.SQLITE_CONSTRAINT_DATATYPE:
			return wrapCode(keycab.EINVALID, "invalid value", err)
		case sqlite3.SQLITE_CONSTRAINT_TRIGGER:
			switch {
			case strings.Contains(se.Error(), "overlaps"):
				return wrapCode(keycab.ECONFLICT, "overlaps an existing reservation", err)
			case strings.Contains(se.Error(), "append-only"):
				return wrapCode(keycab.EFORBIDDEN, "append-only", err)
			}
		}
		if se.Code()&0xff == sqlite3.SQLITE_BUSY {
			return wrapCode(keycab.EUNAVAILABLE, "database busy; try again", err)
		}
	}
	return err
}

// codedError is a keycab.Error that keeps the driver error it stands for.
type codedError struct {
	code  *keycab.Error
	cause error
}

func (e *codedError) Error() string { return e.code.Message + ": " + e.cause.Error() }

// Unwrap exposes both, so keycab.ErrorCode finds the code and errors.As
// still finds the driver error.
func (e *codedError) Unwrap() []error { return []error{e.code, e.cause} }

func wrapCode(code, msg string, cause error) error {
	return &codedError{code: keycab.Errorf(code, "%s", msg), cause: cause}
}

// isFKError reports whether err is a foreign-key violation.
func isFKError(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == "23503"
	}
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code() == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY
}

// inUse maps a foreign-key failure on delete to a conflict (rows still
// refer to the one being deleted).
func inUse(err error, what string) error {
	if isFKError(err) {
		return wrapCode(keycab.ECONFLICT, what+" is still in use", err)
	}
	return err
}

// notFound is the one answer for a missing row and a row of another
// organisation or outside the principal's scope.
func notFound(what, id string) error {
	return keycab.Errorf(keycab.ENOTFOUND, "%s %q not found", what, id)
}

// savepoint runs fn inside a savepoint: when fn fails, what it changed is
// rolled back and the transaction goes on (on PostgreSQL a failed
// statement would otherwise abort the whole transaction).
func (t *tx) savepoint(ctx context.Context, fn func() error) error {
	if _, err := t.exec(ctx, "SAVEPOINT keycab"); err != nil {
		return err
	}
	if err := fn(); err != nil {
		if _, rerr := t.exec(ctx, "ROLLBACK TO SAVEPOINT keycab"); rerr != nil {
			return errors.Join(err, rerr)
		}
		return err
	}
	_, err := t.exec(ctx, "RELEASE SAVEPOINT keycab")
	return err
}

func forbidden(format string, args ...any) error {
	return keycab.Errorf(keycab.EFORBIDDEN, format, args...)
}

func invalid(format string, args ...any) error {
	return keycab.Errorf(keycab.EINVALID, format, args...)
}

// newID returns a random id with a prefix naming what it identifies.
func newID(prefix string) string { return prefix + "_" + strings.ToLower(rand.Text()) }

// us and fromUS convert times to the stored Unix microseconds; the zero
// time is stored as 0.
func us(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

func fromUS(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMicro(v).UTC()
}

// affected returns ENOTFOUND when a statement changed no row.
func affected(res sql.Result, what, id string) error {
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return notFound(what, id)
	}
	return nil
}
