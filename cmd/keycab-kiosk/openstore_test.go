package main

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"keycab.dev/keycab/internal/workload"
	"keycab.dev/keycab/store"
)

// openStore opens the kiosk's key and database in data as the simulator
// does (standalone), and closes them again.
func openStore(t *testing.T, data string) error {
	t.Helper()
	var out bytes.Buffer
	m := NewMain(&out, &out)
	m.Config.DataDir = data
	m.log = slog.New(slog.NewTextHandler(&out, nil))
	err := m.openStore(context.Background(), true)
	if cerr := m.Close(); cerr != nil {
		t.Fatal(cerr)
	}
	return err
}

// TestKeyWithoutLog starts a standalone kiosk once, so that its data
// directory holds a key and a log, then loses the database (gone, emptied
// to nothing, or replaced by one with no log) and starts the kiosk again:
// each time it refuses, saying that the log is lost and how to restore,
// and starts no new log under the old key.
func TestKeyWithoutLog(t *testing.T) {
	data := t.TempDir()
	if err := openStore(t, data); err != nil {
		t.Fatalf("first start: %v", err)
	}
	if err := openStore(t, data); err != nil {
		t.Fatalf("second start, nothing lost: %v", err)
	}
	dbPath, keyPath := filepath.Join(data, "kiosk.db"), filepath.Join(data, "kiosk.key")
	if _, err := os.Stat(keyPath); err != nil {
		t.Fatal(err)
	}
	lose := func() {
		t.Helper()
		// The mark beside the database goes too: this is the key's check,
		// not the store's (store.TestMarkFollowsLog).
		for _, p := range []string{dbPath, dbPath + "-wal", dbPath + "-shm", store.MarkPath(dbPath)} {
			if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
				t.Fatal(err)
			}
		}
	}
	cases := []struct {
		name  string
		state string // in the error
		make  func(t *testing.T)
	}{
		{"missing", "missing", func(t *testing.T) {}},
		{"empty file", "empty", func(t *testing.T) {
			if err := os.WriteFile(dbPath, nil, 0o600); err != nil {
				t.Fatal(err)
			}
		}},
		{"database without a log", "there but holds no log", func(t *testing.T) {
			d, err := store.Open(context.Background(), dbPath, store.Options{Create: true})
			if err != nil {
				t.Fatal(err)
			}
			d.Close()
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			lose()
			tc.make(t)
			err := openStore(t, data)
			if !errors.Is(err, errLogLost) {
				t.Fatalf("start with kiosk.key, database %s: %v, want errLogLost", tc.name, err)
			}
			for _, want := range []string{tc.state, keyPath, "keycab-kiosk restore --from", "new log epoch"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error lacks %q: %v", want, err)
				}
			}
			if _, err := os.Stat(dbPath); err == nil {
				d, err := store.Open(context.Background(), dbPath, store.Options{ReadOnly: true})
				if err == nil {
					_, oerr := d.Origin()
					d.Close()
					if oerr == nil {
						t.Fatal("a new log was started under the old key")
					}
				}
			}
		})
	}
}

// TestRestoreBesideMark restores a backup into a data directory whose log
// has a high-water mark beyond the backup: restore moves the mark aside
// with the database and key, and the restored kiosk starts its new epoch.
func TestRestoreBesideMark(t *testing.T) {
	ctx := context.Background()
	data := t.TempDir()
	dbPath := filepath.Join(data, "kiosk.db")
	if err := openStore(t, data); err != nil {
		t.Fatal(err)
	}
	backup := filepath.Join(t.TempDir(), "backup.db")
	if _, err := runMain(t, "backup", "--data", data, "--out", backup); err != nil {
		t.Fatal(err)
	}
	// The kiosk goes on past the backup, and its mark with it.
	signer, err := loadOrCreateKey(filepath.Join(data, "kiosk.key"))
	if err != nil {
		t.Fatal(err)
	}
	d, err := store.Open(ctx, dbPath, store.Options{Signer: signer, RetainEvery: 2})
	if err != nil {
		t.Fatal(err)
	}
	w := workload.New(5)
	for i := 0; i < 5; i++ {
		if _, err := d.Append(ctx, w.Next()); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(store.MarkPath(dbPath)); err != nil {
		t.Fatal(err)
	}
	if _, err := runMain(t, "restore", "--data", data, "--from", backup, "--force"); err != nil {
		t.Fatalf("restore beside the replaced log's mark: %v", err)
	}
	aside, _ := filepath.Glob(filepath.Join(data, "replaced-*", filepath.Base(store.MarkPath(dbPath))))
	if len(aside) != 1 {
		t.Errorf("the replaced log's mark was not moved aside: %v", aside)
	}
	if err := openStore(t, data); err != nil {
		t.Fatalf("start after restore: %v", err)
	}
}
