package main

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestBackup seeds an HQ database, backs it up and serves from the
// backup: the demo owner's login, the same enrolment token flow. A second
// backup to the same file, a PostgreSQL DSN and a file that is not HQ's
// are refused with a clear error.
func TestBackup(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	dsn := "sqlite:" + filepath.Join(dir, "hq.db")
	out, _, _, err := run(t, ctx, "demo-seed", "--db", dsn)
	if err != nil {
		t.Fatal(err)
	}
	pw := regexp.MustCompile(`password: (\S+)`).FindStringSubmatch(out)
	backup := filepath.Join(dir, "hq-backup.db")
	if out, _, _, err := run(t, ctx, "backup", "--db", dsn, "--out", backup); err != nil || !strings.Contains(out, "backed up") {
		t.Fatalf("backup: %v %q", err, out)
	}
	if st, err := os.Stat(backup); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("backup file: %v %v", st, err)
	}
	// The backup is a whole HQ: it reuses the seeded organisation and
	// issues enrolment tokens for its cabinet.
	bdsn := "sqlite:" + backup
	if out, _, _, err := run(t, ctx, "demo-seed", "--db", bdsn); err != nil || !strings.Contains(out, "reusing") || !strings.Contains(out, pw[1]) && strings.Contains(out, "password:") {
		t.Fatalf("demo-seed on the backup: %v %q", err, out)
	}
	if tok, _, _, err := run(t, ctx, "enrol-token", "--db", bdsn, "--as", demoEmail, "--cabinet", "Front office cabinet"); err != nil || !strings.Contains(tok, ".") {
		t.Fatalf("enrol-token on the backup: %v %q", err, tok)
	}

	for name, args := range map[string][]string{
		"existing file": {"backup", "--db", dsn, "--out", backup},
		"no --out":      {"backup", "--db", dsn},
		"postgres":      {"backup", "--db", "postgres://u@127.0.0.1:1/x", "--out", filepath.Join(dir, "pg.db")},
		"missing db":    {"backup", "--db", "sqlite:" + filepath.Join(dir, "nope.db"), "--out", filepath.Join(dir, "nope-backup.db")},
	} {
		if _, _, _, err := run(t, ctx, args...); err == nil {
			t.Errorf("%s: backup succeeded", name)
		} else {
			t.Logf("%s: %v", name, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "nope.db")); err == nil {
		t.Error("backup of a missing database created it")
	}
}
