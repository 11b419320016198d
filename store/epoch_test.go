package store_test

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"keycab.dev/keycab"
	"keycab.dev/keycab/audit"
	"keycab.dev/keycab/store"
	"keycab.dev/keycab/store/storetest"
)

// TestBackupRestoreNewEpoch backs a working kiosk up, lets it go on (HQ
// would have seen those later entries), restores the backup and checks
// that the restored kiosk starts a new log whose first entry names the
// backup's log exactly, with the backup's config and custody, while the
// backup's log is kept, unchanged and verifiable.
func TestBackupRestoreNewEpoch(t *testing.T) {
	dir := t.TempDir()
	d := storetest.MustOpen(t, storetest.MustSigner(t, "test.keycab/kiosk-1"))
	if err := d.ApplyConfig(ctx, storetest.Config(7)); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*keycab.Checkout{
		{KeySetID: "ks-1", MemberID: "m-ben", Slot: 1, DueAt: time.Now().Add(time.Hour), Reason: "viewing", Recipient: "Dana Buyer"},
		{KeySetID: "ks-2", MemberID: "m-ana", Slot: 2, Reason: "inspection"},
	} {
		if err := d.Take(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := d.Return(ctx, "ks-2", "m-ana", 2, false); err != nil {
		t.Fatal(err)
	}
	backupSize := d.Size()
	root, err := d.TreeRoot(ctx, backupSize)
	if err != nil {
		t.Fatal(err)
	}
	backup := filepath.Join(dir, "backup.db")
	if err := d.Backup(ctx, backup); err != nil {
		t.Fatal(err)
	}
	if err := d.Backup(ctx, backup); err == nil {
		t.Fatal("a second backup over the first was written")
	}
	if st, err := os.Stat(backup); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("backup mode: %v %v", st, err)
	}
	// The kiosk goes on after the backup: these entries exist only in the
	// lost database (and at HQ).
	if err := d.Take(ctx, &keycab.Checkout{KeySetID: "ks-3", MemberID: "m-ana", Slot: 3}); err != nil {
		t.Fatal(err)
	}

	newPath := filepath.Join(dir, "restored", "kiosk.db")
	os.MkdirAll(filepath.Dir(newPath), 0o700)
	archive := filepath.Join(dir, "restored", "epochs")
	ep, err := store.Restore(ctx, backup, newPath, archive, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if ep.PrevOrigin != "test.keycab/kiosk-1" || ep.PrevSize != backupSize || ep.PrevRoot != root.String() || ep.Custody != 1 {
		t.Fatalf("epoch %+v; want origin test.keycab/kiosk-1, size %d, root %s, 1 key out", ep, backupSize, root)
	}
	if _, err := store.Restore(ctx, backup, newPath, archive, store.Options{}); err == nil {
		t.Fatal("restore over an existing database succeeded")
	}

	// The archived backup is the backup's log, read-only and verifiable.
	if st, err := os.Stat(ep.Archive); err != nil || st.Mode().Perm() != 0o400 {
		t.Fatalf("archive %s: %v %v", ep.Archive, st, err)
	}
	old, err := store.Open(ctx, ep.Archive, store.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	storetest.MustVerify(t, old)
	if old.Size() != backupSize {
		t.Fatalf("archive holds %d entries, want %d", old.Size(), backupSize)
	}
	old.Close()

	// Before enrolment the restored database has config and no log.
	r, err := store.Open(ctx, newPath, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Origin(); err != store.ErrNoLog {
		t.Fatalf("restored database has a log before enrolment: %v", err)
	}
	if v, err := r.ConfigVersion(ctx); err != nil || v != 0 {
		t.Fatalf("config version %d %v; want 0 so HQ's first bundle applies", v, err)
	}
	if m, err := r.MemberByBadge(ctx, "BADGE-BEN"); err != nil || m.ID != "m-ben" {
		t.Fatalf("restored badges: %v %v", m, err)
	}
	if _, pending, err := r.PendingEpoch(ctx); err != nil || !pending {
		t.Fatalf("pending epoch: %v %v", pending, err)
	}
	r.Close()

	// Enrolment creates the new log: its first entry is log.epoch.
	signer := storetest.MustSigner(t, "test.keycab/kiosk-2")
	for range 2 { // the second open must not begin the epoch again
		r, err = store.Open(ctx, newPath, store.Options{Signer: signer})
		if err != nil {
			t.Fatal(err)
		}
		if r.Size() != 1 {
			t.Fatalf("new log has %d entries, want the epoch entry alone", r.Size())
		}
		if _, pending, _ := r.PendingEpoch(ctx); pending {
			t.Fatal("epoch still pending after the log began")
		}
		r.Close()
	}
	r, err = store.Open(ctx, newPath, store.Options{Signer: signer})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	storetest.MustVerify(t, r)
	leaves, err := r.ReadEntries(0, 1)
	if err != nil {
		t.Fatal(err)
	}
	e, err := audit.Decode(leaves[0])
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"prev_origin": "test.keycab/kiosk-1",
		"prev_size":   strconv.FormatInt(backupSize, 10),
		"prev_root":   root.String(),
		"custody":     "1",
	}
	if e.Kind != keycab.EventLogEpoch {
		t.Fatalf("first entry is %s, want %s", e.Kind, keycab.EventLogEpoch)
	}
	for k, v := range want {
		if e.Detail[k] != v {
			t.Errorf("epoch detail %s = %q, want %q", k, e.Detail[k], v)
		}
	}
	out := storetest.MustKeysOut(t, r)
	if len(out) != 1 || out[0].KeySetID != "ks-1" || out[0].MemberID != "m-ben" || out[0].Recipient != "Dana Buyer" || out[0].LogIndex != 0 {
		t.Fatalf("restored custody %+v; want ks-1 with m-ben for Dana Buyer at entry 0", out)
	}
	// The custody carried over is live: the key comes back normally.
	if _, err := r.Return(ctx, "ks-1", "m-ben", 1, false); err != nil {
		t.Fatal(err)
	}
	storetest.MustVerify(t, r)
}

// TestRestoreRefusesBadBackups: a backup whose log was altered, and a file
// that is not a kiosk database, are refused, and nothing is written.
func TestRestoreRefusesBadBackups(t *testing.T) {
	dir := t.TempDir()
	d := storetest.MustOpen(t, nil)
	if err := d.ApplyConfig(ctx, storetest.Config(1)); err != nil {
		t.Fatal(err)
	}
	if err := d.Take(ctx, &keycab.Checkout{KeySetID: "ks-1", MemberID: "m-ben", Slot: 1}); err != nil {
		t.Fatal(err)
	}
	backup := filepath.Join(dir, "backup.db")
	if err := d.Backup(ctx, backup); err != nil {
		t.Fatal(err)
	}
	raw := storetest.MustRawSQL(t, backup)
	for _, q := range []string{
		"DROP TRIGGER log_entries_no_update",
		"UPDATE log_entries SET leaf = CAST(replace(CAST(leaf AS TEXT), 'm-ben', 'm-ana') AS BLOB) WHERE idx = 1",
	} {
		if _, err := raw.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	raw.Close()
	notDB := filepath.Join(dir, "notes.txt")
	os.WriteFile(notDB, []byte("not a database at all, just some text"), 0o600)

	for name, from := range map[string]string{"tampered": backup, "not a database": notDB, "missing": filepath.Join(dir, "nope.db")} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(dir, name, "kiosk.db")
			os.MkdirAll(filepath.Dir(path), 0o700)
			if _, err := store.Restore(ctx, from, path, filepath.Join(dir, name, "epochs"), store.Options{}); err == nil {
				t.Fatal("restore succeeded")
			} else {
				t.Log(err)
			}
			if _, err := os.Stat(path); err == nil {
				t.Fatal("a database was written from a bad backup")
			}
		})
	}
}
