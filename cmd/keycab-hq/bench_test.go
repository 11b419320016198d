package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// keycab-hq bench at a tiny size, through the command: it fills, measures
// through the store and signed in over HTTP with no errors, and a second
// run reuses the database.
func TestBench(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dsn := "sqlite:" + filepath.Join(t.TempDir(), "hq-history.db")
	args := []string{"--db", dsn, "-n", "300", "--samples", "2", "--http-samples", "2", "--load", "200ms", "--conns", "2"}
	bench := func(args ...string) (string, string, int) {
		var out, errb bytes.Buffer
		code := runBench(ctx, args, &out, &errb)
		return out.String(), errb.String(), code
	}
	out, errs, code := bench(args...)
	if code != 0 {
		t.Fatalf("bench: exit %d: %s\n%s", code, errs, out)
	}
	if !strings.HasPrefix(out, "filled 300 events in ") || !strings.Contains(out, "(through the store: 540 events, ") {
		t.Errorf("first run did not say what it filled:\n%s", out)
	}
	tables := 0
	for _, section := range strings.Split(out, "\n\n") {
		title, rows, _ := strings.Cut(section, "\n")
		if !strings.HasPrefix(title, "history through HTTP") && !strings.HasPrefix(title, "dashboard under load") {
			continue
		}
		tables++
		n := 0
		for _, row := range strings.Split(strings.TrimSpace(rows), "\n")[2:] {
			n++
			if !strings.HasSuffix(row, " | 0 |") {
				t.Errorf("%s: a row with errors: %s", title, row)
			}
		}
		if n < 6 {
			t.Errorf("%s: %d rows:\n%s", title, n, rows)
		}
	}
	if tables != 2 {
		t.Errorf("%d of the HTTP tables printed:\n%s", tables, out)
	}
	if out, errs, code := bench(append(args, "--load", "0")...); code != 0 || !strings.HasPrefix(out, "reusing ") || strings.Contains(out, "dashboard under load") {
		t.Errorf("second run: exit %d: %s\n%s", code, errs, out)
	}
	if _, errs, code := bench("--db", "postgres://keycab_app@/x?host=/nonexistent", "-n", "1"); code != 2 || !strings.Contains(errs, "--setup-db") {
		t.Errorf("PostgreSQL without --setup-db: exit %d: %s", code, errs)
	}
	// Grown by ingest: the same history through enrolled kiosks' pushes.
	ingest := []string{"--ingest", "--db", "sqlite:" + filepath.Join(t.TempDir(), "hq-ingest.db"), "-n", "300", "--samples", "2", "--http-samples", "2", "--load", "0"}
	if out, errs, code := bench(ingest...); code != 0 || !strings.Contains(out, "(grown by ingest: enrolled kiosks' signed logs pushed through HQ's kiosk API: 540 events, ") {
		t.Errorf("--ingest: exit %d: %s\n%s", code, errs, out)
	}
	if out, errs, code := bench(ingest...); code != 0 || !strings.HasPrefix(out, "reusing ") {
		t.Errorf("--ingest, second run: exit %d: %s\n%s", code, errs, out)
	}
	if _, _, code := bench("--frobnicate"); code != 2 {
		t.Errorf("an unknown flag: exit %d", code)
	}
}
