package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"keycab.dev/keycab"
	"keycab.dev/keycab/store"
	"keycab.dev/keycab/store/storetest"
)

// runMain runs the program with args and returns what it printed.
func runMain(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	m := NewMain(&out, &errOut)
	if err := m.ParseFlags(args); err != nil {
		return "", err
	}
	err := m.Run(context.Background(), strings.NewReader(""))
	if cerr := m.Close(); err == nil {
		err = cerr
	}
	return out.String(), err
}

// TestBackupAndRestoreCommands backs up a kiosk's data directory with
// keycab-kiosk backup and restores it into a directory that holds a
// kiosk: refused without --force, moved aside with it; the restored
// database waits for enrolment to begin its new log.
func TestBackupAndRestoreCommands(t *testing.T) {
	ctx := context.Background()
	data := t.TempDir()
	db, err := store.Open(ctx, filepath.Join(data, "kiosk.db"), store.Options{Signer: storetest.MustSigner(t, "test.keycab/old"), Create: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.ApplyConfig(ctx, storetest.Config(3)); err != nil {
		t.Fatal(err)
	}
	if err := db.Take(ctx, &keycab.Checkout{KeySetID: "ks-2", MemberID: "m-ana", Slot: 2}); err != nil {
		t.Fatal(err)
	}
	size := db.Size()
	// The kiosk keeps running while the backup is taken.
	defer db.Close()

	backup := filepath.Join(t.TempDir(), "kiosk-backup.db")
	out, err := runMain(t, "backup", "--data", data, "--out", backup)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "test.keycab/old") {
		t.Errorf("backup said %q", out)
	}
	if _, err := runMain(t, "backup", "--data", data); err == nil || !strings.Contains(err.Error(), "--out") {
		t.Errorf("backup without --out: %v", err)
	}

	// Restoring over a live kiosk needs --force.
	if _, err := runMain(t, "restore", "--data", data, "--from", backup); err == nil || !strings.Contains(err.Error(), "--force") {
		t.Fatalf("restore over a kiosk without --force: %v", err)
	}
	db.Close()
	os.WriteFile(filepath.Join(data, "kiosk.key"), []byte("old key"), 0o600)
	out, err = runMain(t, "restore", "--data", data, "--from", backup, "--force")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"moved", "1 key sets out", "keycab-kiosk enroll", "epochs"} {
		if !strings.Contains(out, want) {
			t.Errorf("restore output lacks %q:\n%s", want, out)
		}
	}
	aside, _ := filepath.Glob(filepath.Join(data, "replaced-*", "kiosk.key"))
	if len(aside) != 1 {
		t.Fatalf("old key not moved aside: %v", aside)
	}
	if _, err := os.Stat(filepath.Join(data, "kiosk.key")); err == nil {
		t.Fatal("the old key is still in place")
	}
	r, err := store.Open(ctx, filepath.Join(data, "kiosk.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ep, pending, err := r.PendingEpoch(ctx)
	if err != nil || !pending || ep.PrevOrigin != "test.keycab/old" || ep.PrevSize != size {
		t.Fatalf("pending epoch %+v %v %v; want from test.keycab/old at %d", ep, pending, err, size)
	}
}
