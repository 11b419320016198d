package store_test

import (
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"keycab.dev/keycab"
	"keycab.dev/keycab/audit"
	"keycab.dev/keycab/internal/testenv"
	"keycab.dev/keycab/store"
	"keycab.dev/keycab/store/storetest"
)

// rawHead returns the size the signed head stored in the file covers, as
// another program reading the file sees it.
func rawHead(t *testing.T, path string) int64 {
	t.Helper()
	raw := storetest.MustRawSQL(t, path)
	defer raw.Close()
	var idx int64
	if err := raw.QueryRowContext(ctx, "SELECT coalesce(max(idx), -1) FROM log_entries WHERE head IS NOT NULL").Scan(&idx); err != nil {
		t.Fatal(err)
	}
	return idx + 1
}

// crashImage copies the files of the open database at path as a power cut
// would leave them: the database, its write-ahead log (never checkpointed
// into it) and its mark, and returns the copy's path.
func crashImage(t *testing.T, path string) string {
	t.Helper()
	dir := t.TempDir()
	for _, name := range []string{path, path + "-wal", store.MarkPath(path)} {
		b, err := os.ReadFile(name)
		if errors.Is(err, os.ErrNotExist) {
			continue
		} else if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(name)), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return filepath.Join(dir, filepath.Base(path))
}

// rehashFrom makes the entries from index from on fit as a forger would:
// each chained to the one before it and its stored hashes recomputed.
func rehashFrom(t *testing.T, db *sql.DB, from int64) {
	t.Helper()
	rows, err := db.QueryContext(ctx, "SELECT leaf FROM log_entries ORDER BY idx")
	if err != nil {
		t.Fatal(err)
	}
	var leaves [][]byte
	for rows.Next() {
		var l []byte
		if err := rows.Scan(&l); err != nil {
			t.Fatal(err)
		}
		leaves = append(leaves, l)
	}
	rows.Close()
	storetest.MustExec(t, db, "DROP TRIGGER IF EXISTS log_entries_no_update")
	f := &audit.Frontier{}
	var prev []byte
	for i, l := range leaves {
		if int64(i) >= from {
			ev, err := audit.Decode(l)
			if err != nil {
				t.Fatal(err)
			}
			ev.Prev = prev
			if l, err = audit.Encode(ev); err != nil {
				t.Fatal(err)
			}
		}
		hs, err := f.Next(l)
		if err != nil {
			t.Fatal(err)
		}
		f.Advance(hs)
		prev = hs[0][:]
		if int64(i) >= from {
			storetest.MustExec(t, db, "UPDATE log_entries SET leaf = ?, hashes = ? WHERE idx = ?", l, audit.EncodeHashes(hs), i)
		}
	}
}

// TestSealWithinDelay: an append commits without waiting for a signature,
// and a signed head covering it follows within the seal delay, with no one
// asking.
func TestSealWithinDelay(t *testing.T) {
	d := storetest.MustOpen(t, nil, func(o *store.Options) { o.SealDelay = 20 * time.Millisecond })
	mustAppend(t, d, 30)
	testenv.Eventually(t, 5*time.Second, "a signed head over all 30 entries", func() bool {
		return rawHead(t, d.Path()) == 30
	})
	res := storetest.MustVerifyResult(t, d)
	if res.Entries != 30 || res.Unsigned != 0 {
		t.Fatalf("verify: %+v", res)
	}
}

// TestHeadSeals: whoever reads the head (a push, an export) gets one over
// every committed entry, at once.
func TestHeadSeals(t *testing.T) {
	d := storetest.MustOpen(t, nil, func(o *store.Options) { o.SealDelay = time.Hour })
	mustAppend(t, d, 12)
	if got := rawHead(t, d.Path()); got != 1 {
		t.Fatalf("before anyone asks, the stored head covers %d entries, want 1 (the log's first append signs its own)", got)
	}
	signed, size, err := d.Head(ctx)
	if err != nil || size != 12 {
		t.Fatalf("head: size %d, %v", size, err)
	}
	v, err := d.Verifier()
	if err != nil {
		t.Fatal(err)
	}
	cp, _, err := audit.OpenCheckpoint(signed, v)
	if err != nil || cp.Size != 12 {
		t.Fatalf("head checkpoint %+v: %v", cp, err)
	}
	if got := rawHead(t, d.Path()); got != 12 {
		t.Fatalf("after Head the stored head covers %d", got)
	}
}

// TestCrashBeforeSeal: a power cut after appends committed and before
// their head was signed loses none of them. A verifier of the file
// (without the key) checks them for chain and hashes and says they are
// not signed yet; the kiosk's next open checks their MACs and signs them.
func TestCrashBeforeSeal(t *testing.T) {
	signer := storetest.MustSigner(t, "test.keycab/seal")
	d := storetest.MustOpen(t, signer, func(o *store.Options) { o.SealDelay = time.Hour })
	mustAppend(t, d, 20)
	img := crashImage(t, d.Path())

	ro, err := store.Open(ctx, img, store.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	res, err := ro.Verify(ctx, signer.Verifier())
	ro.Close()
	if err != nil || res.Entries != 20 || res.Unsigned != 19 {
		t.Fatalf("read-only verify of the crash image: %+v, %v", res, err)
	}

	k, err := store.Open(ctx, img, store.Options{Signer: signer})
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	if k.Size() != 20 || rawHead(t, img) != 20 {
		t.Fatalf("reopened: size %d, stored head covers %d", k.Size(), rawHead(t, img))
	}
	mustAppend(t, k, 3)
	if res := storetest.MustVerifyResult(t, k); res.Entries != 23 || res.Unsigned != 0 {
		t.Fatalf("verify after reopening: %+v", res)
	}
}

// TestForgedTailRefused: an entry no head covers yet, edited with its hashes
// and chain made to fit, or one added behind the kiosk's back, lacks the
// kiosk's MAC: the kiosk refuses to sign it or append after it, and a
// verifier holding the key names it.
func TestForgedTailRefused(t *testing.T) {
	signer := storetest.MustSigner(t, "test.keycab/seal")
	for _, tc := range []struct {
		name   string
		forge  func(t *testing.T, path string)
		want   int64 // the entry named
		unsign int64 // what a verifier without the key counts as not signed yet
	}{
		{"tail entry edited and re-hashed", func(t *testing.T, path string) {
			raw := storetest.MustRawSQL(t, path)
			defer raw.Close()
			l := storetest.ForgedLeaf(t, raw, 5, "m-someone-else")
			storetest.MustExec(t, raw, "DROP TRIGGER log_entries_no_update")
			storetest.MustExec(t, raw, "UPDATE log_entries SET leaf = ? WHERE idx = 5", l)
			rehashFrom(t, raw, 5)
		}, 5, 9},
		{"entry appended behind the kiosk's back", func(t *testing.T, path string) {
			raw := storetest.MustRawSQL(t, path)
			defer raw.Close()
			l := storetest.ForgedLeaf(t, raw, 9, "m-x")
			storetest.MustExec(t, raw, "INSERT INTO log_entries (idx, leaf, hashes) VALUES (10, ?, x'')", l)
			rehashFrom(t, raw, 10)
		}, 10, 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := storetest.MustOpen(t, signer, func(o *store.Options) { o.SealDelay = time.Hour })
			mustAppend(t, d, 10)
			img := crashImage(t, d.Path())
			tc.forge(t, img)

			// Without the key, the forgery is indistinguishable from
			// entries a crash left unsigned: reported, not proven.
			ro, err := store.Open(ctx, img, store.Options{ReadOnly: true})
			if err != nil {
				t.Fatal(err)
			}
			res, err := ro.Verify(ctx, signer.Verifier())
			ro.Close()
			if err != nil || res.Unsigned != tc.unsign {
				t.Fatalf("verify without the key: %+v, %v", res, err)
			}

			k, err := store.Open(ctx, img, store.Options{Signer: signer})
			if err != nil {
				t.Fatal(err)
			}
			defer k.Close()
			_, err = k.Append(ctx, store.Record{Event: &audit.Event{Kind: keycab.EventDoorOpened}})
			if keycab.ErrorCode(err) != keycab.ETAMPERED || !strings.Contains(err.Error(), "MAC") {
				t.Fatalf("append after the forged entry: %v", err)
			}
			if rawHead(t, img) != 1 {
				t.Fatalf("the kiosk signed a head over the forged entry (covers %d)", rawHead(t, img))
			}
			_, err = k.Verify(ctx, nil)
			var p *audit.Problem
			if !errors.As(err, &p) || p.Index != tc.want || !strings.Contains(p.What, "MAC") {
				t.Fatalf("verify with the key: %v", err)
			}
		})
	}
}

// TestHeadRowDeleted: the newest entries deleted with the row that carried
// the head leave a log whose head is gone, which verify reports.
func TestHeadRowDeleted(t *testing.T) {
	d := storetest.MustOpen(t, nil, func(o *store.Options) { o.RetainEvery = 1 << 20 })
	mustAppend(t, d, 10)
	path := d.Path()
	d.Close()
	raw := storetest.MustRawSQL(t, path)
	storetest.MustExec(t, raw, "DROP TRIGGER log_entries_no_delete")
	storetest.MustExec(t, raw, "DELETE FROM log_entries WHERE idx >= 7")
	raw.Close()
	ro, err := store.Open(ctx, path, store.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	_, err = ro.Verify(ctx, nil)
	var p *audit.Problem
	if !errors.As(err, &p) || !strings.Contains(p.What, "missing") {
		t.Fatalf("verify: %v", err)
	}
}

// TestHeadTriggers: another program may not put a head on an entry that is
// not the newest, replace a head, take the newest entry's head, or change
// an entry's MAC.
func TestHeadTriggers(t *testing.T) {
	d := storetest.MustOpen(t, nil, func(o *store.Options) { o.SealDelay = time.Hour })
	mustAppend(t, d, 6)
	signed, _, err := d.Head(ctx)
	if err != nil {
		t.Fatal(err)
	}
	raw := storetest.MustRawSQL(t, d.Path())
	defer raw.Close()
	for _, q := range []string{
		"UPDATE log_entries SET head = x'00' WHERE idx = 2",
		"UPDATE log_entries SET head = x'00' WHERE idx = 5",
		"UPDATE log_entries SET head = NULL WHERE idx = 5",
		"UPDATE log_entries SET mac = NULL WHERE idx = 3",
	} {
		if _, err := raw.ExecContext(ctx, q); err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%s: %v", q, err)
		}
	}
	if got, _, err := d.Head(ctx); err != nil || string(got) != string(signed) {
		t.Fatalf("head changed: %v", err)
	}
}

// TestBogusHeadRefused: another program, with every trigger in place, adds
// an entry after the newest (chained, hashes right, no MAC) with some bytes
// as its head. The kiosk's open checks the head it starts from is its own
// signature over the stored tree, so it neither signs over the entry nor
// appends after it.
func TestBogusHeadRefused(t *testing.T) {
	signer := storetest.MustSigner(t, "test.keycab/seal")
	d := storetest.MustOpen(t, signer)
	mustAppend(t, d, 10)
	path := d.Path()
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	raw := storetest.MustRawSQL(t, path)
	l := storetest.ForgedLeaf(t, raw, 9, "m-forged")
	storetest.MustExec(t, raw, "INSERT INTO log_entries (idx, leaf, hashes, head) VALUES (10, ?, x'', x'00')", l)
	rehashFrom(t, raw, 10)
	raw.Close()

	k, err := store.Open(ctx, path, store.Options{Signer: signer})
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	_, err = k.Append(ctx, store.Record{Event: &audit.Event{Kind: keycab.EventDoorOpened}})
	if keycab.ErrorCode(err) != keycab.ETAMPERED || !strings.Contains(err.Error(), "not this log's signed checkpoint") {
		t.Fatalf("append after a forged head: %v", err)
	}
	if _, err := k.Verify(ctx, nil); err == nil {
		t.Fatal("verify with the key passed a log whose newest entry another program wrote")
	}
}

// TestRestoreNamesSignedPart: a backup whose newest entries carry no
// signature (taken from a running kiosk between an append and its head,
// or with rows added to it) restores, and the new log's epoch vouches only
// for what the old key signed.
func TestRestoreNamesSignedPart(t *testing.T) {
	dir := t.TempDir()
	d := storetest.MustOpen(t, storetest.MustSigner(t, "test.keycab/kiosk-1"), func(o *store.Options) { o.SealDelay = time.Hour })
	mustAppend(t, d, 10)
	backup := filepath.Join(dir, "backup.db")
	if err := d.Backup(ctx, backup); err != nil {
		t.Fatal(err)
	}
	raw := storetest.MustRawSQL(t, backup)
	for i := int64(10); i < 13; i++ {
		l := storetest.ForgedLeaf(t, raw, i-1, "m-forged")
		storetest.MustExec(t, raw, "INSERT INTO log_entries (idx, leaf, hashes) VALUES (?, ?, x'')", i, l)
	}
	rehashFrom(t, raw, 10)
	raw.Close()
	signedRoot, err := d.TreeRoot(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	ep, err := store.Restore(ctx, backup, filepath.Join(dir, "restored", "kiosk.db"), filepath.Join(dir, "restored", "epochs"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if ep.PrevSize != 10 || ep.PrevRoot != signedRoot.String() {
		t.Fatalf("epoch names size %d root %s, want the signed 10, %s", ep.PrevSize, ep.PrevRoot, signedRoot)
	}
}
