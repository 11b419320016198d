package pgtest

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"keycab.dev/keycab/hq/store"
)

// Shared is one server for a whole test binary, started by the package's
// TestMain and handed to each test by Must:
//
//	var pg pgtest.Shared
//
//	func TestMain(m *testing.M) { os.Exit(pg.Main(m)) }
type Shared struct {
	srv *Server
	err error
}

// Main starts the server (not with -short), runs the tests, stops the
// server and returns the exit code.
func (sh *Shared) Main(m *testing.M) int {
	flag.Parse()
	if !testing.Short() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		sh.srv, sh.err = Start(ctx)
		cancel()
	}
	code := m.Run()
	if sh.srv != nil {
		if err := sh.srv.Close(); err != nil {
			fmt.Fprintln(os.Stderr, "stop postgres:", err)
			code = 1
		}
	}
	return code
}

// Must returns the server. With -short the test is skipped; a server that
// did not start fails it.
func (sh *Shared) Must(tb testing.TB) *Server {
	tb.Helper()
	if testing.Short() {
		tb.Skip("-short: PostgreSQL tests skipped")
	}
	if sh.err != nil {
		tb.Fatalf("PostgreSQL is needed for this test: %v", sh.err)
	}
	return sh.srv
}

// Engine makes fresh, migrated HQ databases of one engine, one per test.
type Engine struct {
	Name string // "sqlite" or "postgres"
	new  func(tb testing.TB) (appDSN, ownerDSN string)
}

// New returns a fresh database, migrated: the DSN the service connects
// with (on PostgreSQL, AppRole's) and the owner's (the same on SQLite).
func (e Engine) New(tb testing.TB) (appDSN, ownerDSN string) {
	tb.Helper()
	return e.new(tb)
}

// DSN returns a fresh, migrated database as the service connects to it.
func (e Engine) DSN(tb testing.TB) string {
	tb.Helper()
	dsn, _ := e.new(tb)
	return dsn
}

// Engines returns the engines HQ runs on: SQLite (a file in the test's
// temporary directory) and PostgreSQL (sh's server, one database per
// test; skipped with -short, as Must does).
func (sh *Shared) Engines() []Engine {
	migrate := func(tb testing.TB, dsn string) {
		tb.Helper()
		if err := store.Migrate(context.Background(), dsn, store.MigrateOptions{AppRole: AppRole}); err != nil {
			tb.Fatalf("migrate: %v", err)
		}
	}
	return []Engine{
		{"sqlite", func(tb testing.TB) (string, string) {
			dsn := "sqlite:" + filepath.Join(tb.TempDir(), "hq.db")
			migrate(tb, dsn)
			return dsn, dsn
		}},
		{"postgres", func(tb testing.TB) (string, string) {
			d := sh.Must(tb).MustDatabase(tb)
			migrate(tb, d.OwnerDSN)
			return d.AppDSN, d.OwnerDSN
		}},
	}
}
