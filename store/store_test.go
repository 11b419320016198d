package store_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"keycab.dev/keycab"
	"keycab.dev/keycab/audit"
	"keycab.dev/keycab/internal/workload"
	"keycab.dev/keycab/store"
	"keycab.dev/keycab/store/storetest"
)

var ctx = context.Background()

func mustAppend(tb testing.TB, d *store.DB, n int) {
	tb.Helper()
	w := workload.New(7)
	for i := 0; i < n; i++ {
		if _, err := d.Append(ctx, w.Next()); err != nil {
			tb.Fatal(err)
		}
	}
}

func TestAppendVerifyReopen(t *testing.T) {
	signer := storetest.MustSigner(t, "test.keycab/reopen")
	path := filepath.Join(t.TempDir(), "k.db")
	d, err := store.Open(ctx, path, store.Options{Signer: signer, Create: true, RetainEvery: 16})
	if err != nil {
		t.Fatal(err)
	}
	mustAppend(t, d, 50)
	res, err := d.Verify(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Entries != 50 || res.Checkpoints != 4 { // kept at 16, 32, 48, and the head
		t.Fatalf("verify: %+v", res)
	}
	d.Close()

	d, err = store.Open(ctx, path, store.Options{Signer: signer})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if d.Size() != 50 {
		t.Fatalf("reopened size %d", d.Size())
	}
	mustAppend(t, d, 5)
	res2, err := d.VerifyStrict(ctx, signer.Verifier())
	if err != nil {
		t.Fatal(err)
	}
	if res2.Entries != 55 || res2.Root == res.Root {
		t.Fatalf("after reopen: %+v", res2)
	}
	// Another key may not append to this log.
	d.Close()
	other := storetest.MustSigner(t, "test.keycab/reopen")
	if _, err := store.Open(ctx, path, store.Options{Signer: other}); err == nil || !strings.Contains(err.Error(), "not this log's key") {
		t.Fatalf("open with another key: %v", err)
	}
}

func TestTriggersBlockChanges(t *testing.T) {
	d := storetest.MustOpen(t, nil, func(o *store.Options) { o.RetainEvery = 2 })
	mustAppend(t, d, 3)
	head, _, err := d.Head(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.AddCosignature(ctx, "hq.test", head); err != nil {
		t.Fatal(err)
	}
	// Every table has rows, so that each trigger has something to guard.
	for _, table := range []string{"log_entries", "log_meta", "log_checkpoints", "log_cosignatures"} {
		var n int
		if err := d.SQL().QueryRowContext(ctx, "SELECT count(*) FROM "+table).Scan(&n); err != nil || n == 0 {
			t.Fatalf("%s has %d rows (%v)", table, n, err)
		}
	}
	for _, q := range []string{
		"UPDATE log_entries SET leaf = x'00' WHERE idx = 1",
		"DELETE FROM log_entries WHERE idx = 2",
		"UPDATE log_entries SET head = NULL WHERE idx = 2", // the newest entry keeps the head
		"UPDATE log_entries SET head = x'01' WHERE idx = 0",
		"UPDATE log_meta SET origin = 'x'",
		"DELETE FROM log_meta",
		"UPDATE log_checkpoints SET why = 'x'",
		"DELETE FROM log_cosignatures",
	} {
		_, err := d.SQL().ExecContext(ctx, q)
		if err == nil || !strings.Contains(err.Error(), "append-only") && !strings.Contains(err.Error(), "only grow") {
			t.Errorf("%s: err = %v, want the trigger's abort", q, err)
		}
	}
	if _, err := d.Verify(ctx, nil); err != nil {
		t.Fatal(err)
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := store.Open(ctx, filepath.Join(dir, "missing.db"), store.Options{ReadOnly: true}); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("missing file: %v", err)
	}
	junk := filepath.Join(dir, "junk.db")
	os.WriteFile(junk, bytes.Repeat([]byte("not sqlite "), 100), 0o600)
	if _, err := store.Open(ctx, junk, store.Options{ReadOnly: true}); !errors.Is(err, store.ErrNotKeycab) {
		t.Errorf("junk file: %v", err)
	}
	// An SQLite database of some other program.
	other := filepath.Join(dir, "other.db")
	d, err := store.Open(ctx, filepath.Join(dir, "seed.db"), store.Options{Create: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.SQL().ExecContext(ctx, "VACUUM INTO ?", other); err != nil {
		t.Fatal(err)
	}
	d.Close()
	o, err := store.Open(ctx, other, store.Options{})
	if err != nil {
		t.Fatal(err) // a copy of a keycab database is a keycab database
	}
	o.Close()
	foreign := filepath.Join(dir, "foreign.db")
	f, err := store.Open(ctx, foreign, store.Options{Create: true})
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	raw := storetest.MustRawSQL(t, foreign)
	if _, err := raw.ExecContext(ctx, "PRAGMA application_id = 42"); err != nil {
		t.Fatal(err)
	}
	raw.Close()
	if _, err := store.Open(ctx, foreign, store.Options{ReadOnly: true}); !errors.Is(err, store.ErrNotKeycab) {
		t.Errorf("foreign SQLite file: %v", err)
	}
}

func TestLockedDatabase(t *testing.T) {
	d := storetest.MustOpen(t, nil)
	mustAppend(t, d, 2)
	path := d.Path()
	d.Close()
	// Another program holds the database in exclusive locking mode.
	raw := storetest.MustRawSQL(t, path)
	defer raw.Close()
	conn, err := raw.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, q := range []string{"PRAGMA locking_mode = EXCLUSIVE", "BEGIN EXCLUSIVE", "INSERT INTO personal (ref, subject, salt, text) VALUES (x'01', 's', x'02', 't')"} {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	_, err = store.Open(ctx, path, store.Options{ReadOnly: true, BusyTimeout: 200 * time.Millisecond})
	if !errors.Is(err, store.ErrLocked) {
		t.Fatalf("open of a locked database: %v, want ErrLocked", err)
	}
	conn.ExecContext(ctx, "ROLLBACK")
}

func TestCustodyAndConfig(t *testing.T) {
	d := storetest.MustOpen(t, nil)
	cfg := storetest.Config(1)
	if err := d.ApplyConfig(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	if err := d.ApplyConfig(ctx, cfg); keycab.ErrorCode(err) != keycab.ECONFLICT {
		t.Fatalf("re-applying version 1: %v", err)
	}
	m, err := d.MemberByBadge(ctx, "BADGE-BEN")
	if err != nil || m.ID != "m-ben" {
		t.Fatalf("member by badge: %v %v", m, err)
	}
	if _, err := d.MemberByBadge(ctx, "BADGE-REVOKED"); keycab.ErrorCode(err) != keycab.ENOTFOUND {
		t.Fatalf("revoked badge: %v", err)
	}
	ks, err := d.KeySetByToken(ctx, "qr-token-1")
	if err != nil || ks.ID != "ks-1" {
		t.Fatalf("key set by token: %v %v", ks, err)
	}
	c := &keycab.Checkout{KeySetID: "ks-1", MemberID: "m-ben", Slot: 1, DueAt: time.Now().Add(time.Hour), Reason: "viewing", Recipient: "Dana Buyer"}
	if err := d.Take(ctx, c); err != nil {
		t.Fatal(err)
	}
	if err := d.Take(ctx, &keycab.Checkout{KeySetID: "ks-1", MemberID: "m-ana"}); keycab.ErrorCode(err) != keycab.ECONFLICT {
		t.Fatalf("double take: %v", err)
	}
	out, err := d.KeysOut(ctx)
	if err != nil || len(out) != 1 || out[0].MemberID != "m-ben" || out[0].Recipient != "Dana Buyer" || out[0].LogIndex != c.LogIndex {
		t.Fatalf("keys out: %+v %v", out, err)
	}
	if _, err := d.Return(ctx, "ks-1", "m-ana", 2, true); err != nil {
		t.Fatal(err)
	}
	if out, _ := d.KeysOut(ctx); len(out) != 0 {
		t.Fatalf("keys out after return: %+v", out)
	}
	if _, err := d.Return(ctx, "ks-1", "m-ana", 1, false); keycab.ErrorCode(err) != keycab.ECONFLICT {
		t.Fatalf("return of a key not out: %v", err)
	}
	// The log holds config.applied, key.taken, key.returned (wrong slot, by another).
	var kinds []keycab.EventKind
	var last *audit.Event
	d.Scan(ctx, 0, -1, func(e store.Entry) error {
		ev, err := audit.Decode(e.Leaf)
		if err != nil {
			t.Fatal(err)
		}
		kinds = append(kinds, ev.Kind)
		last = ev
		return nil
	})
	want := []keycab.EventKind{keycab.EventConfigApplied, keycab.EventKeyTaken, keycab.EventKeyReturned}
	if len(kinds) != len(want) || kinds[1] != want[1] || kinds[2] != want[2] {
		t.Fatalf("log kinds %v, want %v", kinds, want)
	}
	if last.Detail["wrong_slot"] != "true" || last.Detail["holder"] != "m-ben" {
		t.Fatalf("return detail %v", last.Detail)
	}
	if _, err := d.VerifyStrict(ctx, nil); err != nil {
		t.Fatal(err)
	}
}

// TestEraseMember checks that erasing a member's personal data removes
// every copy of it from the database files, WAL included, while the log
// still verifies.
func TestEraseMember(t *testing.T) {
	d := storetest.MustOpen(t, nil)
	cfg := storetest.Config(1)
	const name, recipient, notes = "Zebulon Quartermaine", "Yolanda Recipient-Xq7", "Gate code notes-Wv3"
	cfg.Members[1].Name = name
	if err := d.ApplyConfig(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	if err := d.Take(ctx, &keycab.Checkout{KeySetID: "ks-1", MemberID: "m-ben", Slot: 1, Recipient: recipient, Notes: notes}); err != nil {
		t.Fatal(err)
	}
	mustAppend(t, d, 20)
	secrets := []string{name, recipient, notes}
	files := func() []string {
		m, _ := filepath.Glob(d.Path() + "*")
		return m
	}
	present := func(s string) []string {
		var where []string
		for _, f := range files() {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Contains(b, []byte(s)) {
				where = append(where, filepath.Base(f))
			}
		}
		return where
	}
	for _, s := range secrets {
		if len(present(s)) == 0 {
			t.Fatalf("%q is not in the files before erasure; the test would prove nothing", s)
		}
	}
	before, err := d.Verify(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Erase(ctx, "m-ben", "m-ana"); err != nil {
		t.Fatal(err)
	}
	for _, s := range secrets {
		if where := present(s); len(where) > 0 {
			t.Errorf("%q still in %v after erasure", s, where)
		}
	}
	after, err := d.VerifyStrict(ctx, nil)
	if err != nil {
		t.Fatalf("log does not verify after erasure: %v", err)
	}
	if after.Entries != before.Entries+1 {
		t.Fatalf("erasure logged %d entries, want 1", after.Entries-before.Entries)
	}
	out, err := d.KeysOut(ctx)
	if err != nil || len(out) != 1 || out[0].Recipient != "" || out[0].MemberID != "m-ben" {
		t.Fatalf("custody after erasure: %+v %v", out, err)
	}
	m, err := d.Member(ctx, "m-ben")
	if err != nil || m.Name != "" || m.ErasedAt.IsZero() {
		t.Fatalf("member after erasure: %+v %v", m, err)
	}
}

// TestSecondWriterConflict opens one log twice, as two programs would: the
// writer whose view went stale is refused, and the log stays whole.
func TestSecondWriterConflict(t *testing.T) {
	a := storetest.MustOpen(t, nil)
	mustAppend(t, a, 3)
	b, err := store.Open(ctx, a.Path(), store.Options{Signer: storetest.MustSigner(t, "x")})
	if err == nil {
		b.Close()
		t.Fatal("opened a log with another key")
	}
	// The same key in a second handle: refused while the first is open
	// to append, so that it cannot move the head from under it.
	signer := storetest.MustSigner(t, "test.keycab/two")
	a2 := storetest.MustOpen(t, signer)
	mustAppend(t, a2, 2)
	if b2, err := store.Open(ctx, a2.Path(), store.Options{Signer: signer}); !errors.Is(err, store.ErrLocked) {
		if err == nil {
			b2.Close()
		}
		t.Fatalf("a second writer: %v, want ErrLocked", err)
	}
	// Read-only opens are not writers.
	ro, err := store.Open(ctx, a2.Path(), store.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	ro.Close()
	// Another program writing behind the store's back is found out: its
	// row takes the index the store's next append wants.
	raw := storetest.MustRawSQL(t, a2.Path())
	defer raw.Close()
	storetest.MustExec(t, raw, "INSERT INTO log_entries (idx, leaf, hashes) VALUES (2, x'00', x'')")
	if _, err := a2.Append(ctx, workload.New(1).Next()); keycab.ErrorCode(err) != keycab.ECONFLICT {
		t.Fatalf("stale writer: %v, want a conflict", err)
	}
	if _, err := a2.Append(ctx, workload.New(2).Next()); keycab.ErrorCode(err) != keycab.ECONFLICT {
		t.Fatalf("stale writer again: %v", err)
	}
	storetest.MustExec(t, raw, "DROP TRIGGER log_entries_no_delete")
	storetest.MustExec(t, raw, "DELETE FROM log_entries WHERE idx = 2")
	a2.Close()
	a2, err = store.Open(ctx, a2.Path(), store.Options{Signer: signer})
	if err != nil {
		t.Fatal(err)
	}
	defer a2.Close()
	mustAppend(t, a2, 1)
	res, err := a2.VerifyStrict(ctx, nil)
	if err != nil || res.Entries != 3 {
		t.Fatalf("after the conflict: %+v %v", res, err)
	}
}

func TestProofs(t *testing.T) {
	d := storetest.MustOpen(t, nil)
	mustAppend(t, d, 300)
	var leaves [][]byte
	d.Scan(ctx, 0, -1, func(e store.Entry) error { leaves = append(leaves, e.Leaf); return nil })
	roots := map[int64]tlog.Hash{}
	for _, n := range []int64{1, 2, 3, 7, 8, 255, 256, 257, 299, 300} {
		r, err := d.TreeRoot(ctx, n)
		if err != nil {
			t.Fatal(err)
		}
		roots[n] = r
	}
	for size, root := range roots {
		for _, i := range []int64{0, size / 2, size - 1} {
			p, err := d.ProveInclusion(ctx, i, size)
			if err != nil {
				t.Fatal(err)
			}
			if err := tlog.CheckRecord(p, size, root, i, tlog.RecordHash(leaves[i])); err != nil {
				t.Fatalf("inclusion of %d in %d: %v", i, size, err)
			}
			if err := tlog.CheckRecord(p, size, root, i, tlog.RecordHash(leaves[(i+1)%size])); size > 1 && err == nil {
				t.Fatalf("inclusion proof of %d accepted another entry", i)
			}
		}
		for old, oldRoot := range roots {
			if old > size {
				continue
			}
			p, err := d.ProveConsistency(ctx, old, size)
			if err != nil {
				t.Fatal(err)
			}
			if err := tlog.CheckTree(p, size, root, old, oldRoot); err != nil {
				t.Fatalf("consistency %d -> %d: %v", old, size, err)
			}
		}
	}
	head, _, _ := d.Head(ctx)
	cp, _, err := audit.OpenCheckpoint(head, mustVerifier(t, d))
	if err != nil || cp.Root != roots[300] {
		t.Fatalf("head checkpoint %+v (%v) does not commit to the recomputed root", cp, err)
	}
	if _, err := d.ProveInclusion(ctx, 300, 300); keycab.ErrorCode(err) != keycab.EINVALID {
		t.Fatalf("proof past the end: %v", err)
	}
}

func mustVerifier(t *testing.T, d *store.DB) note.Verifier {
	t.Helper()
	v, err := d.Verifier()
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestNewerSchemaRefused(t *testing.T) {
	d := storetest.MustOpen(t, nil)
	path := d.Path()
	d.Close()
	raw := storetest.MustRawSQL(t, path)
	if _, err := raw.ExecContext(ctx, "PRAGMA user_version = 99"); err != nil {
		t.Fatal(err)
	}
	raw.Close()
	if _, err := store.Open(ctx, path, store.Options{}); err == nil || !strings.Contains(err.Error(), "newer than this build") {
		t.Fatalf("open of a newer schema: %v", err)
	}
}

func TestSnapshotRoundTrip(t *testing.T) {
	d := storetest.MustOpen(t, nil)
	cfg := storetest.Config(3)
	cfg.Members[2].Schedule = []keycab.Window{{Days: []time.Weekday{time.Monday}, From: 480, Until: 1080}}
	cfg.Members[1].SiteIDs = []string{"site-1"}
	cfg.Members[2].Language = "en-US"
	cfg.Site.Language = "de"
	cfg.Reservations = []keycab.Reservation{{ID: "r1", KeySetID: "ks-2", MemberID: "m-ana", From: time.UnixMilli(1767000000000).UTC(), Until: time.UnixMilli(1767003600000).UTC()}}
	cfg.Jobs = []keycab.Job{{ID: "j1", MemberID: "m-cara", KeySetIDs: []string{"ks-1", "ks-2"}, From: time.UnixMilli(1767000000000).UTC(), Until: time.UnixMilli(1767100000000).UTC(), Descriptor: "WO-17"}}
	if err := d.ApplyConfig(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	got, err := d.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got.Version != 3 || got.Org.Name != cfg.Org.Name || got.Cabinet.Kind != keycab.Slotted || len(got.Slots) != 3 || len(got.KeySets) != 3 ||
		len(got.Members) != 3 || len(got.Badges) != 3 || len(got.Tokens) != 3 || got.Policy.ScanCoolDown != cfg.Policy.ScanCoolDown {
		t.Fatalf("snapshot %+v", got)
	}
	var cara keycab.Member
	for _, m := range got.Members {
		if m.ID == "m-cara" {
			cara = m
		}
	}
	if len(cara.Schedule) != 1 || cara.Schedule[0].From != 480 || cara.Schedule[0].Days[0] != time.Monday {
		t.Fatalf("schedule %+v", cara.Schedule)
	}
	if cara.Language != "en-US" || got.Site.Language != "de" {
		t.Fatalf("languages: member %q, site %q", cara.Language, got.Site.Language)
	}
	if len(got.Jobs) != 1 || got.Jobs[0].KeySetIDs[1] != "ks-2" || !got.Jobs[0].From.Equal(cfg.Jobs[0].From) || len(got.Reservations) != 1 || !got.Reservations[0].Until.Equal(cfg.Reservations[0].Until) {
		t.Fatalf("jobs %+v reservations %+v", got.Jobs, got.Reservations)
	}
	empty, err := storetest.MustOpen(t, nil).Snapshot(ctx)
	if err != nil || empty.Version != 0 || empty.Policy.MaxFailedPINs == 0 {
		t.Fatalf("empty snapshot %+v %v", empty, err)
	}
}

// TestNewestDeletedWithoutKeptCheckpoint deletes the newest entries of a
// log that kept no checkpoint after them: the head they carried is gone,
// and verify names the first missing entry.
func TestNewestDeletedWithoutKeptCheckpoint(t *testing.T) {
	d := storetest.MustOpen(t, nil, func(o *store.Options) { o.RetainEvery = 1 << 20 })
	mustAppend(t, d, 10)
	raw := storetest.MustRawSQL(t, d.Path())
	defer raw.Close()
	for _, q := range []string{"DROP TRIGGER log_entries_no_delete", "DELETE FROM log_entries WHERE idx >= 7"} {
		if _, err := raw.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	_, err := d.Verify(ctx, nil)
	var p *audit.Problem
	if !errors.As(err, &p) || p.Index != 7 || !strings.Contains(p.What, "missing") {
		t.Fatalf("verify after deleting the newest entries: %v", err)
	}
}

func TestBrandingValidated(t *testing.T) {
	d := storetest.MustOpen(t, nil)
	cfg := storetest.Config(1)
	cfg.Branding = keycab.Branding{Accent: "blue"}
	if err := d.ApplyConfig(ctx, cfg); keycab.ErrorCode(err) != keycab.EINVALID {
		t.Fatalf("accent %q: %v", cfg.Branding.Accent, err)
	}
	cfg.Branding = keycab.Branding{Logo: []byte("GIF89a")}
	if err := d.ApplyConfig(ctx, cfg); keycab.ErrorCode(err) != keycab.EINVALID {
		t.Fatalf("GIF logo: %v", err)
	}
	cfg.Branding = keycab.Branding{Accent: "#A0b1C2", Logo: []byte("\x89PNG\r\n\x1a\nrest")}
	if err := d.ApplyConfig(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	got, _ := d.Snapshot(ctx)
	if got.Branding.Accent != "#A0b1C2" || string(got.Branding.Logo) != "\x89PNG\r\n\x1a\nrest" {
		t.Fatalf("branding %+v", got.Branding)
	}
}
