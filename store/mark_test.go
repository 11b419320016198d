package store_test

import (
	"errors"
	"os"
	"strings"
	"testing"

	"keycab.dev/keycab/internal/workload"
	"keycab.dev/keycab/store"
	"keycab.dev/keycab/store/storetest"
)

// TestDamagedWALBehindMark flips a few bytes in a log's write-ahead log on
// disk: SQLite replays the WAL only up to the damaged frame, so of 38
// committed entries 8 remain, a log that is whole in itself. The
// high-water mark beside the database still records the newest kept
// checkpoint: opening the database to append is refused, naming the mark
// and the size found, and verification reports the loss.
func TestDamagedWALBehindMark(t *testing.T) {
	signer := storetest.MustSigner(t, "test.keycab/wal")
	path := storetest.MustDamagedWAL(t, signer, 38, 8, 8)
	wal, err := os.ReadFile(path + "-wal")
	if err != nil {
		t.Fatal(err)
	}

	_, err = store.Open(ctx, path, store.Options{Signer: signer})
	if err == nil {
		t.Fatal("a log that lost its newest 24 entries opened for appending")
	}
	for _, want := range []string{store.MarkPath(path), "size 32", "holds 8 entries"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("open error lacks %q: %v", want, err)
		}
	}
	if !errors.Is(err, store.ErrBehindMark) {
		t.Errorf("open error is not ErrBehindMark: %v", err)
	}
	// Refusing changed nothing on disk: the WAL, with what is left of the
	// lost entries, was not checkpointed away.
	if after, err := os.ReadFile(path + "-wal"); err != nil || string(after) != string(wal) {
		t.Errorf("the refused open changed the WAL (%d bytes, was %d): %v", len(after), len(wal), err)
	}

	ro, err := store.Open(ctx, path, store.Options{ReadOnly: true})
	if err != nil {
		t.Fatalf("read-only open (for verify and backup) refused: %v", err)
	}
	defer ro.Close()
	if ro.Size() != 8 {
		t.Fatalf("the damaged WAL left %d entries, the test wants 8", ro.Size())
	}
	_, err = ro.Verify(ctx, nil)
	if err == nil || !strings.Contains(err.Error(), "entry 8: missing") || !strings.Contains(err.Error(), store.MarkPath(path)) {
		t.Fatalf("verify of the shortened log: %v", err)
	}
}

// TestMarkFollowsLog checks that an undamaged log always reaches its mark:
// the mark moves at kept checkpoints and at Close, and the log reopens.
func TestMarkFollowsLog(t *testing.T) {
	signer := storetest.MustSigner(t, "test.keycab/mark")
	d := storetest.MustOpen(t, signer, func(o *store.Options) { o.RetainEvery = 4 })
	mustAppend(t, d, 10)
	b, err := os.ReadFile(store.MarkPath(d.Path()))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(b), "keycab log mark 1\n") || !strings.Contains(string(b), "\n8\n") {
		t.Fatalf("mark after 10 entries kept every 4:\n%s", b)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if b, err = os.ReadFile(store.MarkPath(d.Path())); err != nil || !strings.Contains(string(b), "\n10\n") {
		t.Fatalf("mark after Close: %v\n%s", err, b)
	}
	d2, err := store.Open(ctx, d.Path(), store.Options{Signer: signer})
	if err != nil {
		t.Fatal(err)
	}
	storetest.MustVerify(t, d2)
	if err := d2.Close(); err != nil {
		t.Fatal(err)
	}

	// The database lost, its mark kept: nothing is created over it.
	for _, name := range []string{"-wal", "-shm", ""} {
		os.Remove(d.Path() + name)
	}
	if _, err := store.Open(ctx, d.Path(), store.Options{Signer: signer, Create: true}); !errors.Is(err, store.ErrBehindMark) {
		t.Fatalf("open of a missing database beside its mark: %v", err)
	}
	if _, err := os.Stat(d.Path()); err == nil {
		t.Fatal("a new database was created beside the mark of a lost one")
	}
}

// TestCorruptMark damages the mark file itself: the store says so (the
// mark is unreadable, and how to settle it) instead of crashing or
// trusting it, opens read-only for verify, and once the mark is moved
// aside opens again and writes a new one.
func TestCorruptMark(t *testing.T) {
	signer := storetest.MustSigner(t, "test.keycab/corrupt")
	d := storetest.MustOpen(t, signer, func(o *store.Options) { o.RetainEvery = 4 })
	mustAppend(t, d, 6)
	path := d.Path()
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	for name, junk := range map[string]string{
		"junk":        "\x00\x01not a mark",
		"bad note":    "keycab log mark 1\nnot a note\n",
		"another key": "keycab log mark 1\n" + string(otherCheckpoint(t)),
	} {
		if err := os.WriteFile(store.MarkPath(path), []byte(junk), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := store.Open(ctx, path, store.Options{Signer: signer})
		if !errors.Is(err, store.ErrBehindMark) || !strings.Contains(err.Error(), store.MarkPath(path)) || !strings.Contains(err.Error(), "aside") {
			t.Errorf("%s: open to append beside a bad mark: %v", name, err)
		}
		ro, err := store.Open(ctx, path, store.Options{ReadOnly: true})
		if err != nil {
			t.Fatalf("%s: read-only open: %v", name, err)
		}
		if _, err := ro.Verify(ctx, nil); err == nil || !strings.Contains(err.Error(), "high-water mark") {
			t.Errorf("%s: verify beside a bad mark: %v", name, err)
		}
		ro.Close()
	}
	if err := os.Rename(store.MarkPath(path), store.MarkPath(path)+".bad"); err != nil {
		t.Fatal(err)
	}
	d, err := store.Open(ctx, path, store.Options{Signer: signer})
	if err != nil {
		t.Fatalf("open with the bad mark moved aside: %v", err)
	}
	storetest.MustVerify(t, d)
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(store.MarkPath(path)); err != nil || !strings.Contains(string(b), "\n6\n") {
		t.Fatalf("new mark: %v\n%s", err, b)
	}
}

// otherCheckpoint is a signed checkpoint of another log.
func otherCheckpoint(t *testing.T) []byte {
	t.Helper()
	d := storetest.MustOpen(t, storetest.MustSigner(t, "test.keycab/other"))
	mustAppend(t, d, 1)
	signed, _, err := d.Head(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return signed
}

// TestRewrittenBehindMark puts a log of other entries, under the same key
// and of the same size, where the mark's log was: the mark's root is not
// the log's at that size, and the store says the log was rewritten.
func TestRewrittenBehindMark(t *testing.T) {
	signer := storetest.MustSigner(t, "test.keycab/rewritten")
	build := func(seed uint64) string {
		d := storetest.MustOpen(t, signer, func(o *store.Options) { o.RetainEvery = 4 })
		w := workload.New(seed)
		for i := 0; i < 10; i++ {
			if _, err := d.Append(ctx, w.Next()); err != nil {
				t.Fatal(err)
			}
		}
		if err := d.Close(); err != nil {
			t.Fatal(err)
		}
		return d.Path()
	}
	orig, other := build(1), build(2)
	mark, err := os.ReadFile(store.MarkPath(orig))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(store.MarkPath(other), mark, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = store.Open(ctx, other, store.Options{Signer: signer})
	if !errors.Is(err, store.ErrBehindMark) || !strings.Contains(err.Error(), "at size 10") || !strings.Contains(err.Error(), "rewritten") {
		t.Fatalf("open of a rewritten log: %v", err)
	}
	ro, err := store.Open(ctx, other, store.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if _, err := ro.Verify(ctx, nil); err == nil || !strings.Contains(err.Error(), "rewritten") {
		t.Fatalf("verify of a rewritten log: %v", err)
	}
}
