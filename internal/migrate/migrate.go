// Package migrate applies a program's numbered schema migrations to a
// database: the kiosk's SQLite file (store) and HQ's SQLite or PostgreSQL
// database (hq/store) are brought up to date by the same runner.
//
// Migrations are files NNNN_what.sql, numbered from 1 without gaps,
// usually embedded in the program (Files). A database records the number
// of the last one applied; how it records it is the caller's (Recorder):
// the kiosk in PRAGMA user_version (UserVersion), HQ in its
// schema_migrations table, and neither changes with this package. Run
// applies the pending ones in order, each recorded in the transaction
// that applies it, so a failing migration leaves the database at the
// version before it; it refuses a database whose version is past the
// program's migrations (ErrNewer), since a program must not write to a
// schema it does not know.
package migrate

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
)

// Migration is one numbered schema change.
type Migration struct {
	Version int    // 1, 2, ...: the number its file name starts with
	Name    string // the file name, NNNN_what.sql
	SQL     string // the statements, run as one Exec
}

// Files returns the migrations in the directory dir of fsys, the files
// named NNNN_what.sql, in order. They must be numbered from 1 without gaps
// or repeats.
func Files(fsys fs.FS, dir string) ([]Migration, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("read migrations: %w", err)
	}
	var ms []Migration
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".sql") {
			continue
		}
		v, err := strconv.Atoi(strings.SplitN(e.Name(), "_", 2)[0])
		if err != nil {
			return nil, fmt.Errorf("migration %s: no version number", e.Name())
		}
		b, err := fs.ReadFile(fsys, path.Join(dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("read migration %s: %w", e.Name(), err)
		}
		ms = append(ms, Migration{Version: v, Name: e.Name(), SQL: string(b)})
	}
	sort.SliceStable(ms, func(i, j int) bool { return ms[i].Version < ms[j].Version })
	for i, m := range ms {
		if m.Version != i+1 {
			return nil, fmt.Errorf("migration %s is out of sequence: want version %d", m.Name, i+1)
		}
	}
	return ms, nil
}

// ErrNewer reports a database whose schema version is past the last
// migration the program has.
var ErrNewer = errors.New("the database is newer than this build")

// Querier is what the version is read through: a *sql.DB or a *sql.Tx.
type Querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// Recorder is how a database records its schema version.
type Recorder interface {
	// Version returns the version of the last migration applied, 0 for
	// none.
	Version(ctx context.Context, q Querier) (int, error)
	// Record records, in the transaction that applied it, that m was
	// applied.
	Record(ctx context.Context, tx *sql.Tx, m Migration) error
}

// UserVersion records the version in SQLite's PRAGMA user_version, the
// integer in the database file's header (the kiosk's way).
type UserVersion struct{}

// Version implements Recorder.
func (UserVersion) Version(ctx context.Context, q Querier) (int, error) {
	var v int
	err := q.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v)
	return v, err
}

// Record implements Recorder.
func (UserVersion) Record(ctx context.Context, tx *sql.Tx, m Migration) error {
	_, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", m.Version))
	return err
}

// Runner applies Migrations to a database that records its version with
// Recorder.
type Runner struct {
	Migrations []Migration // in order, from Files
	Recorder   Recorder
	// Atomic applies every pending migration in one transaction, which
	// is opened (and Before and After run in it) even when none is
	// pending: a failure anywhere leaves the database as it was, and
	// Before can take a lock that holds until the commit (and make the
	// Recorder's table). Without it, the version is read before any
	// transaction (so the Recorder must not need Before) and each pending
	// migration commits in a transaction of its own, so that a failure
	// keeps the ones before it.
	Atomic bool
	// Before and After, when set, run in every transaction Run opens,
	// before the first migration in it and after the last one recorded:
	// HQ takes its lock and checks its role before, and grants after.
	Before, After func(ctx context.Context, tx *sql.Tx) error
	// Applied, when set, is called after each migration is applied and
	// recorded: after its commit, or in Atomic mode before the one commit.
	Applied func(m Migration)
}

// Run brings db to the last migration; it is a no-op when none is
// pending. It refuses a database at a version past the last migration
// with an error wrapping ErrNewer.
func (r Runner) Run(ctx context.Context, db *sql.DB) error {
	if r.Atomic {
		return r.inTx(ctx, db, func(tx *sql.Tx) error {
			have, err := r.version(ctx, tx)
			if err != nil {
				return err
			}
			for _, m := range r.Migrations[have:] {
				if err := r.apply(ctx, tx, m); err != nil {
					return err
				}
				r.applied(m)
			}
			return nil
		})
	}
	have, err := r.version(ctx, db)
	if err != nil {
		return err
	}
	for _, m := range r.Migrations[have:] {
		if err := r.inTx(ctx, db, func(tx *sql.Tx) error { return r.apply(ctx, tx, m) }); err != nil {
			return err
		}
		r.applied(m)
	}
	return nil
}

// version reads the database's version and refuses one past the last
// migration.
func (r Runner) version(ctx context.Context, q Querier) (int, error) {
	have, err := r.Recorder.Version(ctx, q)
	if err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	if have > len(r.Migrations) {
		return 0, fmt.Errorf("%w: schema version %d, this build knows %d", ErrNewer, have, len(r.Migrations))
	}
	if have < 0 {
		return 0, fmt.Errorf("schema version %d: not a version", have)
	}
	return have, nil
}

// inTx runs fn between Before and After in one transaction and commits.
func (r Runner) inTx(ctx context.Context, db *sql.DB, fn func(tx *sql.Tx) error) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback()
	if r.Before != nil {
		if err := r.Before(ctx, tx); err != nil {
			return err
		}
	}
	if err := fn(tx); err != nil {
		return err
	}
	if r.After != nil {
		if err := r.After(ctx, tx); err != nil {
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// apply runs and records one migration in tx.
func (r Runner) apply(ctx context.Context, tx *sql.Tx, m Migration) error {
	if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
		return fmt.Errorf("apply %s: %w", m.Name, err)
	}
	if err := r.Recorder.Record(ctx, tx, m); err != nil {
		return fmt.Errorf("record %s: %w", m.Name, err)
	}
	return nil
}

func (r Runner) applied(m Migration) {
	if r.Applied != nil {
		r.Applied(m)
	}
}

// Interface guards.
var _ Recorder = UserVersion{}
