package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"keycab.dev/keycab"
	"keycab.dev/keycab/audit"
	"keycab.dev/keycab/internal/workload"
	"keycab.dev/keycab/store"
	"keycab.dev/keycab/store/storetest"
	"keycab.dev/keycab/sync/wire"
)

var ctx = context.Background()

// mustLog makes a kiosk database of n synthetic entries that keeps a
// checkpoint every 8 entries, and returns its path and signer.
func mustLog(t *testing.T, n int) (string, *audit.Signer) {
	t.Helper()
	signer := storetest.MustSigner(t, "test.keycab/tamper")
	path := filepath.Join(t.TempDir(), "kiosk.db")
	d, err := store.Open(ctx, path, store.Options{Signer: signer, Create: true, RetainEvery: 8})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	w := workload.New(3)
	for i := 0; i < n; i++ {
		if _, err := d.Append(ctx, w.Next()); err != nil {
			t.Fatal(err)
		}
	}
	return path, signer
}

// attacker opens the file as another program would and drops the log's
// triggers.
func attacker(t *testing.T, path string) *sql.DB {
	t.Helper()
	db := storetest.MustRawSQL(t, path)
	t.Cleanup(func() { db.Close() })
	rows, err := db.QueryContext(ctx, "SELECT name FROM sqlite_schema WHERE type = 'trigger'")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for rows.Next() {
		var n string
		rows.Scan(&n)
		names = append(names, n)
	}
	rows.Close()
	for _, n := range names {
		storetest.MustExec(t, db, "DROP TRIGGER "+n)
	}
	return db
}

// rehash recomputes and stores every entry's tree hashes, as an attacker
// who edited entries would to make the stored tree consistent again.
func rehash(t *testing.T, db *sql.DB) {
	t.Helper()
	rows, err := db.QueryContext(ctx, "SELECT idx, leaf FROM log_entries ORDER BY idx")
	if err != nil {
		t.Fatal(err)
	}
	var leaves [][]byte
	for rows.Next() {
		var i int
		var l []byte
		rows.Scan(&i, &l)
		leaves = append(leaves, l)
	}
	rows.Close()
	f := &audit.Frontier{}
	for i, l := range leaves {
		hs, err := f.Next(l)
		if err != nil {
			t.Fatal(err)
		}
		f.Advance(hs)
		storetest.MustExec(t, db, "UPDATE log_entries SET hashes = ? WHERE idx = ?", audit.EncodeHashes(hs), i)
	}
}

func TestVerifyDetectsTampering(t *testing.T) {
	const n = 40
	cases := []struct {
		name   string
		tamper func(t *testing.T, path string, signer *audit.Signer)
		want   string // in the error: the index named and what is wrong
	}{
		{"leaf byte changed", func(t *testing.T, path string, _ *audit.Signer) {
			db := attacker(t, path)
			l := storetest.MustLeaf(t, db, 17)
			l[len(l)/2] ^= 0x01
			storetest.MustExec(t, db, "UPDATE log_entries SET leaf = ? WHERE idx = 17", l)
		}, "entry 17: entry bytes do not match"},
		{"newest entries deleted", func(t *testing.T, path string, _ *audit.Signer) {
			storetest.MustExec(t, attacker(t, path), "DELETE FROM log_entries WHERE idx >= 35")
		}, "entry 35: missing"},
		{"two entries swapped", func(t *testing.T, path string, _ *audit.Signer) {
			db := attacker(t, path)
			storetest.MustExec(t, db, "UPDATE log_entries SET idx = 1000 WHERE idx = 12")
			storetest.MustExec(t, db, "UPDATE log_entries SET idx = 12 WHERE idx = 21")
			storetest.MustExec(t, db, "UPDATE log_entries SET idx = 21 WHERE idx = 1000")
		}, "entry 12: entry is out of place"},
		{"two entries' bytes swapped", func(t *testing.T, path string, _ *audit.Signer) {
			db := attacker(t, path)
			a, b := storetest.MustLeaf(t, db, 12), storetest.MustLeaf(t, db, 21)
			storetest.MustExec(t, db, "UPDATE log_entries SET leaf = ? WHERE idx = 12", b)
			storetest.MustExec(t, db, "UPDATE log_entries SET leaf = ? WHERE idx = 21", a)
		}, "entry 12: entry bytes do not match"},
		{"checkpoint signature replaced", func(t *testing.T, path string, signer *audit.Signer) {
			db := attacker(t, path)
			var cp []byte
			db.QueryRowContext(ctx, "SELECT head FROM log_entries WHERE head IS NOT NULL").Scan(&cp)
			text, _ := audit.NoteText(cp)
			c, err := audit.ParseCheckpoint(text)
			if err != nil {
				t.Fatal(err)
			}
			forged, err := audit.SignCheckpoint(c, storetest.MustSigner(t, signer.Name()))
			if err != nil {
				t.Fatal(err)
			}
			storetest.MustExec(t, db, "UPDATE log_entries SET head = ? WHERE head IS NOT NULL", forged)
		}, "entry 39: checkpoint at size 40: checkpoint signature"},
		{"tree hashes recomputed after an edit", func(t *testing.T, path string, _ *audit.Signer) {
			db := attacker(t, path)
			l := storetest.ForgedLeaf(t, db, 17, "m-someone-else")
			storetest.MustExec(t, db, "UPDATE log_entries SET leaf = ? WHERE idx = 17", l)
			rehash(t, db)
		}, "entry 17: entry was changed after it was written"},
		{"triggers dropped and a hash row edited", func(t *testing.T, path string, _ *audit.Signer) {
			db := attacker(t, path)
			var h []byte
			db.QueryRowContext(ctx, "SELECT hashes FROM log_entries WHERE idx = 9").Scan(&h)
			h[len(h)-1] ^= 0x80
			storetest.MustExec(t, db, "UPDATE log_entries SET hashes = ? WHERE idx = 9", h)
		}, "entry 9: stored tree hashes do not match"},
		{"entry appended without a signature", func(t *testing.T, path string, _ *audit.Signer) {
			db := attacker(t, path)
			rows, _ := db.QueryContext(ctx, "SELECT leaf FROM log_entries ORDER BY idx")
			f := &audit.Frontier{}
			for rows.Next() {
				var l []byte
				rows.Scan(&l)
				hs, _ := f.Next(l)
				f.Advance(hs)
			}
			rows.Close()
			l, _ := audit.Encode(&audit.Event{Kind: "key.returned", Actor: "m-x", Prev: make([]byte, 32)})
			hs, _ := f.Next(l)
			storetest.MustExec(t, db, "INSERT INTO log_entries (idx, leaf, hashes) VALUES (40, ?, ?)", l, audit.EncodeHashes(hs))
		}, "entry 40: newest entry does not chain"},
		{"log truncated, its head re-signed at the cut", func(t *testing.T, path string, signer *audit.Signer) {
			db := attacker(t, path)
			storetest.MustExec(t, db, "DELETE FROM log_entries WHERE idx >= 20")
			// The attacker holds the kiosk's key and re-signs the head at
			// the cut, then grows the log again through the store.
			ro, err := store.Open(ctx, path, store.Options{ReadOnly: true})
			if err != nil {
				t.Fatal(err)
			}
			root, err := tlog.TreeHash(20, ro.HashReader(ctx))
			ro.Close()
			if err != nil {
				t.Fatal(err)
			}
			cp, err := audit.SignCheckpoint(audit.Checkpoint{Origin: signer.Name(), Size: 20, Root: root}, signer)
			if err != nil {
				t.Fatal(err)
			}
			storetest.MustExec(t, db, "UPDATE log_entries SET head = ? WHERE idx = 19", cp)
			db.Close()
			// And removes the high-water mark, which would refuse the
			// store's open (TestVerifyDamagedWAL): the kept checkpoints
			// still catch it, and the store refuses to grow it again.
			if err := os.Remove(store.MarkPath(path)); err != nil {
				t.Fatal(err)
			}
			d, err := store.Open(ctx, path, store.Options{Signer: signer, RetainEvery: 1 << 20})
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			_, err = d.Append(ctx, workload.New(99).Next())
			if keycab.ErrorCode(err) != keycab.ETAMPERED || !strings.Contains(err.Error(), "kept checkpoint covers 40") {
				t.Fatalf("append to the truncated log: %v", err)
			}
		}, "missing: a signed checkpoint covers 40 entries but the log has 20"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path, signer := mustLog(t, n)
			if code, out, errs := run(t, "audit", "verify", "--db", path); code != 0 {
				t.Fatalf("before tampering: exit %d: %s%s", code, out, errs)
			}
			tc.tamper(t, path, signer)
			code, out, errs := run(t, "audit", "verify", "--db", path, "--key", signer.VerifierKey)
			if code != 1 || !strings.Contains(errs, tc.want) {
				t.Fatalf("verify after tampering: exit %d\nstdout: %s\nstderr: %s\nwant %q", code, out, errs, tc.want)
			}
		})
	}
}

func TestVerifyPinnedKey(t *testing.T) {
	path, signer := mustLog(t, 5)
	code, out, _ := run(t, "audit", "verify", "--db", path, "--key", signer.VerifierKey)
	if code != 0 || !strings.HasPrefix(out, "ok: 5 entries") {
		t.Fatalf("exit %d: %s", code, out)
	}
	// A log whose recorded key was swapped (with every checkpoint re-signed)
	// still fails against the pinned key.
	other := storetest.MustSigner(t, signer.Name())
	code, _, errs := run(t, "audit", "verify", "--db", path, "--key", other.VerifierKey)
	if code != 1 || !strings.Contains(errs, "FAILED") {
		t.Fatalf("wrong pinned key: exit %d: %s", code, errs)
	}
	keyFile := filepath.Join(t.TempDir(), "vkey")
	os.WriteFile(keyFile, []byte(signer.VerifierKey+"\n"), 0o644)
	if code, _, errs := run(t, "audit", "verify", "--db", path, "--key", "@"+keyFile); code != 0 {
		t.Fatalf("key from file: exit %d: %s", code, errs)
	}
}

func TestCommandErrors(t *testing.T) {
	dir := t.TempDir()
	junk := filepath.Join(dir, "junk.db")
	os.WriteFile(junk, []byte("hello, this is not a database at all................."), 0o644)
	path, _ := mustLog(t, 3)
	for _, args := range [][]string{
		{"audit", "verify", "--db", filepath.Join(dir, "missing.db")},
		{"audit", "show", "--db", junk},
		{"audit", "verify"},
	} {
		code, out, errs := run(t, args...)
		lines := strings.Split(strings.TrimSpace(errs), "\n")
		if code != 1 || len(lines) != 1 || out != "" {
			t.Errorf("%v: exit %d, stdout %q, stderr %q: want one line and exit 1", args, code, out, errs)
		}
	}
	_, _, errs := run(t, "audit", "verify", "--db", filepath.Join(dir, "missing.db"))
	if !strings.Contains(errs, "no such file") {
		t.Errorf("missing file: %q", errs)
	}
	_, _, errs = run(t, "audit", "show", "--db", junk)
	if !strings.Contains(errs, "not a keycab database") {
		t.Errorf("junk file: %q", errs)
	}
	// Locked by another program.
	db := storetest.MustRawSQL(t, path)
	defer db.Close()
	conn, _ := db.Conn(ctx)
	defer conn.Close()
	for _, q := range []string{"PRAGMA locking_mode = EXCLUSIVE", "BEGIN EXCLUSIVE", "INSERT INTO personal (ref, subject, salt, text) VALUES (x'01', 's', x'02', 't')"} {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	code, _, errs := run(t, "audit", "verify", "--db", path)
	if code != 1 || !strings.Contains(errs, "locked by another program") || strings.Count(errs, "\n") != 1 {
		t.Errorf("locked database: exit %d, %q", code, errs)
	}
	conn.ExecContext(ctx, "ROLLBACK")
}

func TestKeygen(t *testing.T) {
	out := filepath.Join(t.TempDir(), "kiosk.key")
	code, stdout, errs := run(t, "keygen", "--out", out, "--name", "keycab.kiosk/front")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	st, err := os.Stat(out)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v (%v), want 0600", st.Mode().Perm(), err)
	}
	b, _ := os.ReadFile(out)
	s, err := audit.ParseSignerKey(string(b))
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(stdout) != s.VerifierKey || !strings.HasPrefix(stdout, "keycab.kiosk/front+") {
		t.Fatalf("printed %q, key's verifier is %q", stdout, s.VerifierKey)
	}
	if strings.Contains(stdout, "PRIVATE") {
		t.Fatal("keygen printed the private key")
	}
	if code, _, errs := run(t, "keygen", "--out", out); code != 1 || !strings.Contains(errs, "already exists") {
		t.Fatalf("overwrite: exit %d %q", code, errs)
	}
}

func TestShowAndProve(t *testing.T) {
	path, signer := mustLog(t, 30)
	code, out, errs := run(t, "audit", "show", "--db", path, "--from", "10", "--to", "14", "--json")
	if code != 0 {
		t.Fatal(errs)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 5 {
		t.Fatalf("show 10..14 printed %d lines", len(lines))
	}
	for i, l := range lines {
		var e shownEntry
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			t.Fatal(err)
		}
		if e.Index != int64(10+i) || e.Kind == "" || e.Error != "" || e.Time.Before(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)) {
			t.Fatalf("line %d: %+v", i, e)
		}
	}
	code, out, _ = run(t, "audit", "show", "--db", path)
	if code != 0 || strings.Count(out, "\n") != 30 {
		t.Fatalf("show all: exit %d, %d lines", code, strings.Count(out, "\n"))
	}

	code, out, errs = run(t, "audit", "prove", "--db", path, "--index", "13")
	if code != 0 {
		t.Fatal(errs)
	}
	// Check the printed proof with tlog alone against the printed checkpoint.
	parts := strings.SplitN(out, "\n\n", 2)
	fields := strings.Split(parts[0], "\n")
	leaf, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(fields[1], "leaf "))
	var proof tlog.RecordProof
	for _, f := range fields[4:] {
		h, err := tlog.ParseHash(f)
		if err != nil {
			t.Fatal(err)
		}
		proof = append(proof, h)
	}
	cp, _, err := audit.OpenCheckpoint([]byte(parts[1]), signer.Verifier())
	if err != nil {
		t.Fatal(err)
	}
	if err := tlog.CheckRecord(proof, cp.Size, cp.Root, 13, tlog.RecordHash(leaf)); err != nil {
		t.Fatalf("printed proof does not check: %v", err)
	}
	if code, _, errs := run(t, "audit", "prove", "--db", path, "--index", "30"); code != 1 || !strings.Contains(errs, "not in the log") {
		t.Fatalf("prove past the end: exit %d %q", code, errs)
	}
}

func TestDemo(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "demo")
	code, out, errs := run(t, "demo", "--dir", dir)
	if code != 0 {
		t.Fatal(errs)
	}
	for _, want := range []string{"Log verified: 6 entries", "key.taken", "key.returned", "Verifier key: keycab.kiosk/demo-front-office+"} {
		if !strings.Contains(out, want) {
			t.Errorf("demo output lacks %q:\n%s", want, out)
		}
	}
	if bytes.Contains([]byte(out), []byte("Patel")) {
		t.Error("demo printed personal text from the log")
	}
}

// A log exported as tlog-tiles verifies from the directory, with HQ's
// cosignature when asked for, and a changed entry, hash tile or checkpoint
// fails naming where.
func TestVerifyTiles(t *testing.T) {
	path, signer := mustLog(t, 600)
	dir := filepath.Join(t.TempDir(), "tiles")
	if code, out, errs := run(t, "audit", "export", "--db", path, "--out", dir); code != 0 {
		t.Fatalf("export: exit %d: %s%s", code, out, errs)
	}
	code, out, errs := run(t, "audit", "verify", "--tiles", dir, "--key", signer.VerifierKey)
	if code != 0 || !strings.HasPrefix(out, "ok: 600 entries, tree size 600") {
		t.Fatalf("verify tiles: exit %d: %s%s", code, out, errs)
	}
	if code, _, _ := run(t, "audit", "verify", "--tiles", dir); code != 2 {
		t.Fatalf("--tiles without --key: exit %d, want usage", code)
	}

	// Cosigned by an HQ key: the right cosigner key passes, another fails.
	_, priv, _ := ed25519.GenerateKey(nil)
	hqKey, err := wire.NewCosigner("hq.test", priv, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, priv2, _ := ed25519.GenerateKey(nil)
	otherHQ, _ := wire.NewCosigner("hq.test", priv2, nil)
	cpFile := filepath.Join(dir, "checkpoint")
	signed, _ := os.ReadFile(cpFile)
	cosigned, err := wire.Cosign(signed, hqKey)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(cpFile, cosigned, 0o644)
	code, out, errs = run(t, "audit", "verify", "--tiles", dir, "--key", signer.VerifierKey, "--cosigner", hqKey.VerifierKey())
	if code != 0 || !strings.Contains(out, "cosigned by HQ at") {
		t.Fatalf("cosigned: exit %d: %s%s", code, out, errs)
	}
	code, _, errs = run(t, "audit", "verify", "--tiles", dir, "--key", signer.VerifierKey, "--cosigner", otherHQ.VerifierKey())
	if code != 1 || !strings.Contains(errs, "FAILED") {
		t.Fatalf("wrong cosigner: exit %d: %s", code, errs)
	}

	// One byte of entry 261 changed in its bundle.
	bundleFile := filepath.Join(dir, "tile", "entries", "001")
	bundle, _ := os.ReadFile(bundleFile)
	leaves, err := audit.ParseEntryBundle(bundle)
	if err != nil || len(leaves) != 256 {
		t.Fatalf("bundle 001: %d entries, %v", len(leaves), err)
	}
	off := 0
	for _, l := range leaves[:5] {
		off += 2 + len(l)
	}
	off += 2 + len(leaves[5])/2
	changed := bytes.Clone(bundle)
	changed[off] ^= 0x01
	os.WriteFile(bundleFile, changed, 0o644)
	code, _, errs = run(t, "audit", "verify", "--tiles", dir, "--key", signer.VerifierKey)
	if code != 1 || !strings.Contains(errs, "FAILED at entry 261:") {
		t.Fatalf("changed entry: exit %d: %s", code, errs)
	}
	os.WriteFile(bundleFile, bundle, 0o644)

	// One stored hash of entry 3 changed in the first hash tile.
	tileFile := filepath.Join(dir, "tile", "0", "000")
	tile, _ := os.ReadFile(tileFile)
	changed = bytes.Clone(tile)
	changed[3*tlog.HashSize] ^= 0x80
	os.WriteFile(tileFile, changed, 0o644)
	code, _, errs = run(t, "audit", "verify", "--tiles", dir, "--key", signer.VerifierKey)
	if code != 1 || !strings.Contains(errs, "FAILED at entry 3:") {
		t.Fatalf("changed hash tile: exit %d: %s", code, errs)
	}
	os.WriteFile(tileFile, tile, 0o644)

	// A checkpoint signed by another key.
	other := storetest.MustSigner(t, signer.Name())
	code, _, errs = run(t, "audit", "verify", "--tiles", dir, "--key", other.VerifierKey)
	if code != 1 || !strings.Contains(errs, "FAILED") || !strings.Contains(errs, "checkpoint") {
		t.Fatalf("other key: exit %d: %s", code, errs)
	}
}

// TestVerifyDamagedWAL flips a few bytes in a log's write-ahead log on
// disk, so that SQLite replays only the first 8 of 38 committed entries: a
// log that is whole in itself. audit verify fails it all the same (exit
// 1), naming the high-water mark beside the database and the size found.
func TestVerifyDamagedWAL(t *testing.T) {
	signer := storetest.MustSigner(t, "test.keycab/wal")
	path := storetest.MustDamagedWAL(t, signer, 38, 8, 8)
	code, out, errs := run(t, "audit", "verify", "--db", path)
	if code != 1 {
		t.Fatalf("verify of a log that lost 24 entries: exit %d\nstdout: %s\nstderr: %s", code, out, errs)
	}
	for _, want := range []string{"FAILED at entry 8: missing", store.MarkPath(path), "size 32", "holds 8 entries"} {
		if !strings.Contains(errs, want) {
			t.Errorf("verify error lacks %q: %s", want, errs)
		}
	}
}

// personalLog makes a kiosk database on disk where m-ben and m-ana each
// took a key set with a recipient and notes, among synthetic entries, and
// returns its path and the index of each take.
func personalLog(t *testing.T) (path string, ben, ana int64, signer *audit.Signer) {
	t.Helper()
	signer = storetest.MustSigner(t, "test.keycab/personal")
	path = filepath.Join(t.TempDir(), "kiosk.db")
	d, err := store.Open(ctx, path, store.Options{Signer: signer, Create: true, RetainEvery: 8})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := d.ApplyConfig(ctx, storetest.Config(1)); err != nil {
		t.Fatal(err)
	}
	w := workload.New(5)
	for i := 0; i < 10; i++ {
		if _, err := d.Append(ctx, w.Next()); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []*keycab.Checkout{
		{KeySetID: "ks-1", MemberID: "m-ben", Slot: 1, Recipient: "Ben's visitor", Notes: "gate code 1234"},
		{KeySetID: "ks-2", MemberID: "m-ana", Slot: 2, Recipient: "Ana's plumber", Notes: "back door"},
	} {
		if err := d.Take(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 10; i++ {
		if _, err := d.Append(ctx, w.Next()); err != nil {
			t.Fatal(err)
		}
	}
	out, err := d.KeysOut(ctx)
	if err != nil || len(out) != 2 {
		t.Fatalf("keys out: %v %v", out, err)
	}
	return path, out[0].LogIndex, out[1].LogIndex, signer
}

// keptTexts counts the rows of the personal table.
func keptTexts(t *testing.T, path string) int {
	t.Helper()
	db := storetest.MustRawSQL(t, path)
	defer db.Close()
	var n int
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM personal").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestVerifyPersonalText runs keycab audit verify on a kiosk database whose
// personal table was edited behind the store's back: each edit is named as
// tampering with its entry and field; an erasure is counted, not a fault.
func TestVerifyPersonalText(t *testing.T) {
	refOf := func(t *testing.T, db *sql.DB, member, field string) []byte {
		t.Helper()
		var ref []byte
		if err := db.QueryRowContext(ctx, "SELECT "+field+"_ref FROM custody WHERE member_id = ?", member).Scan(&ref); err != nil {
			t.Fatal(err)
		}
		return ref
	}
	cases := []struct {
		name   string
		tamper func(t *testing.T, path string)
		want   func(ben, ana int64) string // in stderr; "" means verify passes
	}{
		{"clean", func(*testing.T, string) {}, nil},
		{"recipient text edited", func(t *testing.T, path string) {
			db := storetest.MustRawSQL(t, path)
			defer db.Close()
			storetest.MustExec(t, db, "UPDATE personal SET text = 'Mallory' WHERE ref = ?", refOf(t, db, "m-ben", "recipient"))
		}, func(ben, _ int64) string {
			return fmt.Sprintf("entry %d: recipient: personal text tampered with", ben)
		}},
		{"notes salt edited", func(t *testing.T, path string) {
			db := storetest.MustRawSQL(t, path)
			defer db.Close()
			storetest.MustExec(t, db, "UPDATE personal SET salt = zeroblob(32) WHERE ref = ?", refOf(t, db, "m-ana", "notes"))
		}, func(_, ana int64) string {
			return fmt.Sprintf("entry %d: notes: personal text tampered with", ana)
		}},
		{"two rows' texts swapped", func(t *testing.T, path string) {
			db := storetest.MustRawSQL(t, path)
			defer db.Close()
			a, b := refOf(t, db, "m-ben", "recipient"), refOf(t, db, "m-ana", "recipient")
			storetest.MustExec(t, db, "UPDATE personal SET text = 'swap' WHERE ref = ?", a)
			storetest.MustExec(t, db, "UPDATE personal SET text = 'Ben''s visitor' WHERE ref = ?", b)
			storetest.MustExec(t, db, "UPDATE personal SET text = 'Ana''s plumber' WHERE ref = ?", a)
		}, func(ben, _ int64) string {
			return fmt.Sprintf("entry %d: recipient: personal text tampered with", ben)
		}},
		{"row deleted without erasure", func(t *testing.T, path string) {
			db := storetest.MustRawSQL(t, path)
			defer db.Close()
			storetest.MustExec(t, db, "DELETE FROM personal WHERE ref = ?", refOf(t, db, "m-ana", "notes"))
		}, func(_, ana int64) string {
			return fmt.Sprintf("entry %d: notes: personal text missing: no kept text and no later member.erased entry for m-ana", ana)
		}},
		{"row inserted", func(t *testing.T, path string) {
			db := storetest.MustRawSQL(t, path)
			defer db.Close()
			salt := audit.NewSalt()
			storetest.MustExec(t, db, "INSERT INTO personal (ref, subject, salt, text) VALUES (?, 'm-ben', ?, 'forged')", audit.PersonalRef(salt, "forged"), salt)
		}, func(int64, int64) string { return "personal text of m-ben under reference" }},
		{"NUL byte edited in", func(t *testing.T, path string) {
			db := storetest.MustRawSQL(t, path)
			defer db.Close()
			storetest.MustExec(t, db, "UPDATE personal SET text = 'gate' || char(0) || 'code' WHERE ref = ?", refOf(t, db, "m-ben", "notes"))
		}, func(ben, _ int64) string {
			return fmt.Sprintf("entry %d: notes: personal text tampered with: the kept text and salt do not match the reference the entry carries (the text or its salt edited, or another entry's text moved here); its text holds a NUL byte", ben)
		}},
		{"invalid UTF-8 edited in", func(t *testing.T, path string) {
			db := storetest.MustRawSQL(t, path)
			defer db.Close()
			storetest.MustExec(t, db, "UPDATE personal SET text = CAST(x'ff' AS TEXT) WHERE ref = ?", refOf(t, db, "m-ben", "notes"))
		}, func(ben, _ int64) string {
			return fmt.Sprintf("entry %d: notes: personal text tampered with", ben)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path, ben, ana, _ := personalLog(t)
			kept := keptTexts(t, path)
			tc.tamper(t, path)
			code, out, errs := run(t, "audit", "verify", "--db", path)
			if tc.want == nil {
				if code != 0 || kept < 4 || !strings.Contains(out, fmt.Sprintf(", %d personal texts match their references, 0 erased, 0 removed by retention (", kept)) {
					t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, out, errs)
				}
				return
			}
			want := tc.want(ben, ana)
			if code != 1 || !strings.Contains(errs, "FAILED at "+want) {
				t.Fatalf("exit %d\nstdout: %s\nstderr: %s\nwant %q", code, out, errs, want)
			}
			if strings.Contains(errs, "Mallory") || strings.Contains(errs, "gate") {
				t.Fatalf("verify printed personal text: %s", errs)
			}
		})
	}
	t.Run("invalid UTF-8 message", func(t *testing.T) {
		path, _, _, _ := personalLog(t)
		db := storetest.MustRawSQL(t, path)
		storetest.MustExec(t, db, "UPDATE personal SET text = CAST(x'ff' AS TEXT) WHERE ref = ?", refOf(t, db, "m-ben", "notes"))
		db.Close()
		if code, _, errs := run(t, "audit", "verify", "--db", path); code != 1 || !strings.Contains(errs, "its text is not valid UTF-8") {
			t.Fatalf("exit %d: %s", code, errs)
		}
	})
}

// TestVerifyErasedText erases a member through the store: their texts are
// gone, verify passes and counts them as erased.
func TestVerifyErasedText(t *testing.T) {
	path, _, _, signer := personalLog(t)
	before := keptTexts(t, path)
	d, err := store.Open(ctx, path, store.Options{Signer: signer})
	if err == nil {
		err = d.Erase(ctx, "m-ben", "m-ana")
		d.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	after := keptTexts(t, path)
	if before-after < 2 {
		t.Fatalf("erasure removed %d texts, want m-ben's recipient and notes at least", before-after)
	}
	code, out, errs := run(t, "audit", "verify", "--db", path)
	if code != 0 || !strings.Contains(out, fmt.Sprintf(", %d personal texts match their references, %d erased, 0 removed by retention (", after, before-after)) {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, out, errs)
	}
}

// badgeLog is personalLog with a badge linked to m-ben at the touchscreen
// by m-ana: it returns the path, the signer, the link's index and the
// badge's hash. The entry carries only a reference to the hash, which the
// personal table keeps (store.DB.LinkBadge).
func badgeLog(t *testing.T) (path string, signer *audit.Signer, index int64, hash []byte) {
	t.Helper()
	path, _, _, signer = personalLog(t)
	d, err := store.Open(ctx, path, store.Options{Signer: signer})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := d.LinkBadge(ctx, "m-ana", "m-ben", keycab.BadgeRFID, "0B1C2D3E4F"); err != nil {
		t.Fatal(err)
	}
	var salt []byte
	if err := d.SQL().QueryRowContext(ctx, "SELECT badge_salt FROM config").Scan(&salt); err != nil {
		t.Fatal(err)
	}
	return path, signer, d.Size() - 1, keycab.BadgeHash(salt, "0B1C2D3E4F")
}

// TestVerifyBadgeValue: keycab audit verify checks the kept value of a
// badge linked at the touchscreen against the reference its entry
// carries: an edited value or salt is named as tampering, a row deleted
// without erasure as missing, and the member's erasure is counted, not a
// fault, with the hash gone from the database's files.
func TestVerifyBadgeValue(t *testing.T) {
	other := fmt.Sprintf("%x", keycab.BadgeHash(make([]byte, 32), "0B1C2D3E40"))
	for _, tc := range []struct {
		name, sql, want string
	}{
		{"value edited", "UPDATE personal SET text = '" + other + "' WHERE subject = 'm-ben' AND length(text) = 64", "badge: badge value tampered with"},
		{"salt edited", "UPDATE personal SET salt = zeroblob(32) WHERE subject = 'm-ben' AND length(text) = 64", "badge: badge value tampered with"},
		{"deleted without erasure", "DELETE FROM personal WHERE subject = 'm-ben' AND length(text) = 64", "badge: badge value missing: no kept value and no later member.erased entry for m-ben"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path, _, index, _ := badgeLog(t)
			if code, out, errs := run(t, "audit", "verify", "--db", path); code != 0 {
				t.Fatalf("before the edit: exit %d\nstdout: %s\nstderr: %s", code, out, errs)
			}
			db := storetest.MustRawSQL(t, path)
			storetest.MustExec(t, db, tc.sql)
			db.Close()
			code, out, errs := run(t, "audit", "verify", "--db", path)
			want := fmt.Sprintf("FAILED at entry %d: %s", index, tc.want)
			if code != 1 || !strings.Contains(errs, want) {
				t.Fatalf("exit %d\nstdout: %s\nstderr: %s\nwant %q", code, out, errs, want)
			}
			if strings.Contains(errs, other) {
				t.Fatalf("verify printed the badge value: %s", errs)
			}
		})
	}
	t.Run("erased", func(t *testing.T) {
		path, signer, _, hash := badgeLog(t)
		before := keptTexts(t, path)
		d, err := store.Open(ctx, path, store.Options{Signer: signer})
		if err == nil {
			err = d.Erase(ctx, "m-ben", "m-ana")
			d.Close()
		}
		if err != nil {
			t.Fatal(err)
		}
		after := keptTexts(t, path)
		code, out, errs := run(t, "audit", "verify", "--db", path)
		if code != 0 || !strings.Contains(out, fmt.Sprintf(", %d personal texts match their references, %d erased, 0 removed by retention (", after, before-after)) {
			t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, out, errs)
		}
		if before-after != 3 {
			t.Fatalf("erasure removed %d values, want m-ben's recipient, notes and badge", before-after)
		}
		for _, s := range [][]byte{hash, []byte(fmt.Sprintf("%x", hash)), []byte("0B1C2D3E4F")} {
			for _, f := range []string{path, path + "-wal"} {
				raw, err := os.ReadFile(f)
				if err != nil && !os.IsNotExist(err) {
					t.Fatal(err)
				}
				if bytes.Contains(raw, s) {
					t.Errorf("%s still holds the erased badge (%.12q)", filepath.Base(f), s)
				}
			}
		}
	})
}

// TestVerifyStills: `keycab audit verify --db` checks each kept camera
// still against the hash its entry holds: it counts those that match,
// names the entry of an edited one, and counts an erased member's
// stills as erased, the log verifying.
func TestVerifyStills(t *testing.T) {
	signer := storetest.MustSigner(t, "test.keycab/stills")
	path := filepath.Join(t.TempDir(), "kiosk.db")
	d, err := store.Open(ctx, path, store.Options{Signer: signer, Create: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.ApplyConfig(ctx, storetest.Config(1)); err != nil {
		t.Fatal(err)
	}
	co := keycab.Checkout{KeySetID: "ks-1", MemberID: "m-ben", Slot: 1, Still: []byte("\xff\xd8 a JPEG of Ben")}
	if err := d.Take(ctx, &co); err != nil {
		t.Fatal(err)
	}
	if _, err := d.ReturnKey(ctx, store.Returned{KeySet: "ks-1", Member: "m-ben", Slot: 1, Still: []byte("\xff\xd8 a JPEG of Ben again")}); err != nil {
		t.Fatal(err)
	}
	d.Close()
	if code, out, errs := run(t, "audit", "verify", "--db", path); code != 0 || !strings.Contains(out, "; 2 camera stills match their hashes") {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, out, errs)
	}
	db := storetest.MustRawSQL(t, path)
	storetest.MustExec(t, db, "UPDATE stills SET jpeg = CAST('\xff\xd8 a JPEG of Mallory' AS BLOB) WHERE idx = ?", co.LogIndex)
	want := fmt.Sprintf("FAILED at entry %d: still: camera still tampered with", co.LogIndex)
	if code, out, errs := run(t, "audit", "verify", "--db", path); code != 1 || !strings.Contains(errs, want) {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s\nwant %q", code, out, errs, want)
	}
	storetest.MustExec(t, db, "UPDATE stills SET jpeg = CAST('\xff\xd8 a JPEG of Ben' AS BLOB) WHERE idx = ?", co.LogIndex)
	db.Close()
	if d, err = store.Open(ctx, path, store.Options{Signer: signer}); err != nil {
		t.Fatal(err)
	}
	err = d.Erase(ctx, "m-ben", "m-ana")
	d.Close()
	if err != nil {
		t.Fatal(err)
	}
	if code, out, errs := run(t, "audit", "verify", "--db", path); code != 0 || !strings.Contains(out, ", 2 erased, 0 removed by retention (") || strings.Contains(out, "camera stills") {
		t.Fatalf("after erasure: exit %d\nstdout: %s\nstderr: %s", code, out, errs)
	}
}

// TestVerifyUnsignedTail: a kiosk's database copied between appends and
// the head signed over them (or left so by a power cut) is not proven
// without the kiosk's key: verify says how many of the newest entries no
// signature covers and fails, unless told to accept them.
func TestVerifyUnsignedTail(t *testing.T) {
	signer := storetest.MustSigner(t, "test.keycab/tail")
	dir := t.TempDir()
	path := filepath.Join(dir, "kiosk.db")
	d, err := store.Open(ctx, path, store.Options{Signer: signer, Create: true, RetainEvery: 1 << 20, SealDelay: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	w := workload.New(3)
	for i := 0; i < 5; i++ {
		if _, err := d.Append(ctx, w.Next()); err != nil {
			t.Fatal(err)
		}
	}
	cut := t.TempDir()
	for _, name := range []string{"kiosk.db", "kiosk.db-wal"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(cut, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	code, out, errs := run(t, "audit", "verify", "--db", filepath.Join(cut, "kiosk.db"), "--key", signer.VerifierKey)
	if code != 1 || !strings.Contains(errs, "NOT PROVEN: the newest 4 of 5 entries carry no signature yet") {
		t.Fatalf("without --allow-unsigned: exit %d\nstdout: %s\nstderr: %s", code, out, errs)
	}
	code, out, errs = run(t, "audit", "verify", "--db", filepath.Join(cut, "kiosk.db"), "--key", signer.VerifierKey, "--allow-unsigned")
	if code != 0 || !strings.HasPrefix(out, "ok: 5 entries") || !strings.Contains(out, "the newest 4 entries are not signed yet") {
		t.Fatalf("with --allow-unsigned: exit %d\nstdout: %s\nstderr: %s", code, out, errs)
	}
}
