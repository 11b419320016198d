package migrate_test

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	_ "modernc.org/sqlite"

	"keycab.dev/keycab/internal/migrate"
)

// good are three migrations that apply.
var good = fstest.MapFS{
	"m/0001_one.sql":   {Data: []byte("CREATE TABLE one (x INTEGER);")},
	"m/0002_two.sql":   {Data: []byte("CREATE TABLE two (x INTEGER); INSERT INTO one VALUES (2);")},
	"m/0003_three.sql": {Data: []byte("CREATE TABLE three (x INTEGER);")},
	"m/README":         {Data: []byte("not a migration")},
}

// bad is good with a third migration that fails half-way.
var bad = fstest.MapFS{
	"m/0001_one.sql":   good["m/0001_one.sql"],
	"m/0002_two.sql":   good["m/0002_two.sql"],
	"m/0003_three.sql": {Data: []byte("CREATE TABLE three (x INTEGER); INSERT INTO nowhere VALUES (1);")},
}

// table records a row per migration, as HQ does; its table is made by
// the runner's Before.
type table struct{}

func (table) Version(ctx context.Context, q migrate.Querier) (int, error) {
	var v int
	err := q.QueryRowContext(ctx, "SELECT coalesce(max(version), 0) FROM versions").Scan(&v)
	return v, err
}

func (table) Record(ctx context.Context, tx *sql.Tx, m migrate.Migration) error {
	_, err := tx.ExecContext(ctx, "INSERT INTO versions (version, name) VALUES ($1, $2)", m.Version, m.Name)
	return err
}

func createVersions(ctx context.Context, tx *sql.Tx) error {
	_, err := tx.ExecContext(ctx, "CREATE TABLE IF NOT EXISTS versions (version INTEGER PRIMARY KEY, name TEXT NOT NULL)")
	return err
}

// MustDB opens a new SQLite file on disk.
func MustDB(tb testing.TB) *sql.DB {
	tb.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(tb.TempDir(), "test.db")+"?_pragma=busy_timeout(5000)")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

// MustFiles reads the migrations in dir of fsys.
func MustFiles(tb testing.TB, fsys fstest.MapFS) []migrate.Migration {
	tb.Helper()
	ms, err := migrate.Files(fsys, "m")
	if err != nil {
		tb.Fatal(err)
	}
	return ms
}

// tables lists the tables of db.
func tables(tb testing.TB, db *sql.DB) string {
	tb.Helper()
	rows, err := db.Query("SELECT name FROM sqlite_schema WHERE type = 'table' AND name != 'versions' ORDER BY name")
	if err != nil {
		tb.Fatal(err)
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			tb.Fatal(err)
		}
		names = append(names, n)
	}
	if err := rows.Err(); err != nil {
		tb.Fatal(err)
	}
	return strings.Join(names, " ")
}

// modes are the runner's two ways with a recorder each (one by one, the
// version is read before any transaction, so the table must be there).
var modes = []struct {
	name string
	r    migrate.Runner
}{
	{"each/user_version", migrate.Runner{Recorder: migrate.UserVersion{}}},
	{"atomic/user_version", migrate.Runner{Recorder: migrate.UserVersion{}, Atomic: true}},
	{"atomic/table", migrate.Runner{Recorder: table{}, Before: createVersions, Atomic: true}},
}

// run runs r with ms on db and returns the versions it reported applied.
func run(db *sql.DB, r migrate.Runner, ms []migrate.Migration) ([]int, error) {
	var applied []int
	r.Migrations = ms
	r.Applied = func(m migrate.Migration) { applied = append(applied, m.Version) }
	return applied, r.Run(context.Background(), db)
}

// version reads db's version as r records it.
func version(tb testing.TB, db *sql.DB, r migrate.Runner) int {
	tb.Helper()
	v, err := r.Recorder.Version(context.Background(), db)
	if err != nil {
		tb.Fatal(err)
	}
	return v
}

func TestFiles(t *testing.T) {
	ms := MustFiles(t, good)
	var names []string
	for i, m := range ms {
		if m.Version != i+1 {
			t.Errorf("%s: version %d, want %d", m.Name, m.Version, i+1)
		}
		names = append(names, m.Name)
	}
	if want := []string{"0001_one.sql", "0002_two.sql", "0003_three.sql"}; !slices.Equal(names, want) {
		t.Errorf("files %q, want %q", names, want)
	}
	if ms[1].SQL != string(good["m/0002_two.sql"].Data) {
		t.Errorf("0002's SQL = %q", ms[1].SQL)
	}
	for name, fsys := range map[string]fstest.MapFS{
		"gap":       {"m/0001_a.sql": {}, "m/0003_c.sql": {}},
		"repeat":    {"m/0001_a.sql": {}, "m/0001_b.sql": {}},
		"from zero": {"m/0000_a.sql": {}, "m/0001_b.sql": {}},
		"no number": {"m/0001_a.sql": {}, "m/two_b.sql": {}},
		"no dir":    {"other/0001_a.sql": {}},
	} {
		if ms, err := migrate.Files(fsys, "m"); err == nil {
			t.Errorf("%s: Files = %d migrations, want an error", name, len(ms))
		}
	}
}

// TestFresh: a new database gets every migration, in order; a second run
// applies nothing.
func TestFresh(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode.name, func(t *testing.T) {
			db := MustDB(t)
			applied, err := run(db, mode.r, MustFiles(t, good))
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(applied, []int{1, 2, 3}) {
				t.Errorf("applied %v, want 1 2 3", applied)
			}
			if got := version(t, db, mode.r); got != 3 {
				t.Errorf("version %d, want 3", got)
			}
			if got := tables(t, db); got != "one three two" {
				t.Errorf("tables %q", got)
			}
			applied, err = run(db, mode.r, MustFiles(t, good))
			if err != nil || len(applied) > 0 {
				t.Errorf("second run: applied %v, %v; want none, nil", applied, err)
			}
			var n int
			if err := db.QueryRow("SELECT count(*) FROM one").Scan(&n); err != nil || n != 1 {
				t.Errorf("one has %d rows (%v), want 1: a migration ran twice", n, err)
			}
		})
	}
}

// TestResume: a database at an older version gets only the migrations
// after it.
func TestResume(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode.name, func(t *testing.T) {
			db := MustDB(t)
			ms := MustFiles(t, good)
			if _, err := run(db, mode.r, ms[:1]); err != nil {
				t.Fatal(err)
			}
			if got := version(t, db, mode.r); got != 1 {
				t.Fatalf("version %d after the first migration, want 1", got)
			}
			applied, err := run(db, mode.r, ms)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(applied, []int{2, 3}) {
				t.Errorf("applied %v, want 2 3", applied)
			}
			if got := version(t, db, mode.r); got != 3 {
				t.Errorf("version %d, want 3", got)
			}
		})
	}
}

// TestFailure: a failing migration leaves nothing of itself and the
// version before it: the one before it one by one, the one before the
// run when atomic.
func TestFailure(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode.name, func(t *testing.T) {
			db := MustDB(t)
			ms := MustFiles(t, bad)
			if _, err := run(db, mode.r, ms[:1]); err != nil {
				t.Fatal(err)
			}
			_, err := run(db, mode.r, ms)
			if err == nil || !strings.Contains(err.Error(), "0003_three.sql") {
				t.Fatalf("run with a failing 0003: %v, want its error", err)
			}
			wantVersion, wantTables := 2, "one two"
			if mode.r.Atomic {
				wantVersion, wantTables = 1, "one"
			}
			if got := version(t, db, mode.r); got != wantVersion {
				t.Errorf("version %d, want %d", got, wantVersion)
			}
			if got := tables(t, db); got != wantTables {
				t.Errorf("tables %q, want %q", got, wantTables)
			}
			// Fixed, it resumes.
			applied, err := run(db, mode.r, MustFiles(t, good))
			if err != nil {
				t.Fatal(err)
			}
			want := []int{3}
			if mode.r.Atomic {
				want = []int{2, 3}
			}
			if !slices.Equal(applied, want) {
				t.Errorf("applied %v, want %v", applied, want)
			}
		})
	}
}

// TestNewer: a database past the program's last migration is refused and
// left alone.
func TestNewer(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode.name, func(t *testing.T) {
			db := MustDB(t)
			if _, err := run(db, mode.r, MustFiles(t, good)); err != nil {
				t.Fatal(err)
			}
			applied, err := run(db, mode.r, MustFiles(t, good)[:2])
			if !errors.Is(err, migrate.ErrNewer) || !strings.Contains(err.Error(), "newer than this build") {
				t.Fatalf("run of 2 migrations on a version 3 database: %v, want ErrNewer", err)
			}
			if len(applied) > 0 {
				t.Errorf("applied %v", applied)
			}
			if got := version(t, db, mode.r); got != 3 {
				t.Errorf("version %d, want 3", got)
			}
		})
	}
}

// TestHooks: in atomic mode Before and After run in the one transaction,
// even with nothing pending, and a failing After undoes the migrations;
// one by one they run in each migration's transaction.
func TestHooks(t *testing.T) {
	ctx := context.Background()
	var calls []string
	hook := func(name string, fail *bool) func(context.Context, *sql.Tx) error {
		return func(ctx context.Context, tx *sql.Tx) error {
			calls = append(calls, name)
			if *fail {
				return errors.New(name + " failed")
			}
			// It runs in the migrations' transaction: it sees their
			// uncommitted version.
			_, err := migrate.UserVersion{}.Version(ctx, tx)
			return err
		}
	}
	failBefore, failAfter := false, false
	r := migrate.Runner{Recorder: migrate.UserVersion{}, Migrations: MustFiles(t, good), Atomic: true,
		Before: hook("before", &failBefore), After: hook("after", &failAfter)}

	db := MustDB(t)
	failAfter = true
	if err := r.Run(ctx, db); err == nil || !strings.Contains(err.Error(), "after failed") {
		t.Fatalf("run with a failing After: %v", err)
	}
	if got := version(t, db, r); got != 0 {
		t.Errorf("a failing After left version %d, want 0", got)
	}
	if got := tables(t, db); got != "" {
		t.Errorf("a failing After left tables %q", got)
	}
	failAfter = false
	calls = nil
	if err := r.Run(ctx, db); err != nil {
		t.Fatal(err)
	}
	if err := r.Run(ctx, db); err != nil {
		t.Fatal(err)
	}
	if want := []string{"before", "after", "before", "after"}; !slices.Equal(calls, want) {
		t.Errorf("atomic hooks ran %q, want %q (once a run, pending or not)", calls, want)
	}

	r.Atomic = false
	db = MustDB(t)
	calls = nil
	if err := r.Run(ctx, db); err != nil {
		t.Fatal(err)
	}
	if want := slices.Repeat([]string{"before", "after"}, 3); !slices.Equal(calls, want) {
		t.Errorf("hooks ran %q, want %q (once a migration)", calls, want)
	}
	calls = nil
	if err := r.Run(ctx, db); err != nil || len(calls) > 0 {
		t.Errorf("run with nothing pending: hooks ran %q, %v; want none", calls, err)
	}

	db = MustDB(t)
	failBefore = true
	if err := r.Run(ctx, db); err == nil {
		t.Fatal("run with a failing Before succeeded")
	}
	if got := version(t, db, r); got != 0 {
		t.Errorf("a failing Before left version %d, want 0", got)
	}
}
