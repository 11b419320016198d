// Package storetest helps tests and benchmarks of the kiosk store: it
// opens real databases on disk and generates realistic synthetic events.
package storetest

import (
	"context"
	"database/sql"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"keycab.dev/keycab"
	"keycab.dev/keycab/audit"
	"keycab.dev/keycab/internal/workload"
	"keycab.dev/keycab/store"
)

// NewSigner returns a fresh signer for a log named origin.
func NewSigner(origin string) (*audit.Signer, error) {
	_, s, err := NewSignerKey(origin)
	return s, err
}

// MustSigner is NewSigner for tests.
func MustSigner(tb testing.TB, origin string) *audit.Signer {
	tb.Helper()
	_, s := MustSignerKey(tb, origin)
	return s
}

// MustSignerKey is NewSignerKey for tests.
func MustSignerKey(tb testing.TB, origin string) (string, *audit.Signer) {
	tb.Helper()
	skey, s, err := NewSignerKey(origin)
	if err != nil {
		tb.Fatal(err)
	}
	return skey, s
}

// MustOpen creates a kiosk database in a temporary directory, signed by
// signer (a new one when nil), and closes it when the test ends.
func MustOpen(tb testing.TB, signer *audit.Signer, opts ...func(*store.Options)) *store.DB {
	tb.Helper()
	if signer == nil {
		signer = MustSigner(tb, "test.keycab/kiosk")
	}
	o := store.Options{Signer: signer, Create: true}
	for _, f := range opts {
		f(&o)
	}
	d, err := store.Open(context.Background(), filepath.Join(tb.TempDir(), "kiosk.db"), o)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { d.Close() })
	return d
}

// MustRawSQL opens the database file directly, bypassing the store, as
// another program (or an attacker) would.
func MustRawSQL(tb testing.TB, path string) *sql.DB {
	tb.Helper()
	db, err := sql.Open("sqlite", store.DSN(path, false, 5*time.Second))
	if err != nil {
		tb.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	return db
}

// MustExec runs a statement on a raw handle (MustRawSQL), as an attacker
// editing the file would.
func MustExec(tb testing.TB, db *sql.DB, q string, args ...any) {
	tb.Helper()
	if _, err := db.ExecContext(context.Background(), q, args...); err != nil {
		tb.Fatalf("%s: %v", q, err)
	}
}

// MustLeaf reads the stored bytes of entry i on a raw handle.
func MustLeaf(tb testing.TB, db *sql.DB, i int64) []byte {
	tb.Helper()
	var l []byte
	if err := db.QueryRowContext(context.Background(), "SELECT leaf FROM log_entries WHERE idx = ?", i).Scan(&l); err != nil {
		tb.Fatal(err)
	}
	return l
}

// ForgedLeaf returns the bytes of entry i on a raw handle with its actor
// changed to actor, re-encoded as a well-formed entry: what a forger
// writes in place of the entry, or after it.
func ForgedLeaf(tb testing.TB, db *sql.DB, i int64, actor string) []byte {
	tb.Helper()
	ev, err := audit.Decode(MustLeaf(tb, db, i))
	if err != nil {
		tb.Fatal(err)
	}
	ev.Actor = actor
	l, err := audit.Encode(ev)
	if err != nil {
		tb.Fatal(err)
	}
	return l
}

// Config returns a small config snapshot of version v: one slotted cabinet
// with three slots and key sets, three members with badges (and one
// revoked badge), and QR tokens for the key sets.
func Config(v int64) *keycab.Config {
	salt := []byte("test badge salt")
	return &keycab.Config{
		Version: v,
		Org:     keycab.Org{ID: "org-1", Name: "Test Lettings"},
		Site:    keycab.Site{ID: "site-1", Name: "Front office", TimeZone: "UTC"},
		Cabinet: keycab.Cabinet{ID: "cab-1", Name: "Cabinet", Kind: keycab.Slotted, DoorLock: "DOOR_LOCK", DoorSensor: "DOOR"},
		KeySets: []keycab.KeySet{{ID: "ks-1", Label: "1 High St"}, {ID: "ks-2", Label: "2 High St"}, {ID: "ks-3", Label: "Plant room", Sensitive: true}},
		Slots: []keycab.Slot{
			{Number: 1, Lock: "L1", Sensor: "S1", KeySetID: "ks-1"},
			{Number: 2, Lock: "L2", Sensor: "S2", KeySetID: "ks-2"},
			{Number: 3, Lock: "L3", Sensor: "S3", KeySetID: "ks-3"},
		},
		Tokens: []keycab.QRToken{
			{KeySetID: "ks-1", Hash: keycab.TokenHash("qr-token-1")},
			{KeySetID: "ks-2", Hash: keycab.TokenHash("qr-token-2")},
			{KeySetID: "ks-3", Hash: keycab.TokenHash("qr-token-3")},
		},
		Members: []keycab.Member{
			{ID: "m-ana", Name: "Ana Admin", Role: keycab.RoleAdmin},
			{ID: "m-ben", Name: "Ben Staff", Role: keycab.RoleStaff},
			{ID: "m-cara", Name: "Cara Contractor", Role: keycab.RoleContractor},
		},
		Badges: []keycab.Badge{
			{Hash: keycab.BadgeHash(salt, "BADGE-ANA"), MemberID: "m-ana", Kind: keycab.BadgeRFID},
			{Hash: keycab.BadgeHash(salt, "BADGE-BEN"), MemberID: "m-ben", Kind: keycab.BadgeRFID},
			{Hash: keycab.BadgeHash(salt, "BADGE-REVOKED"), MemberID: "m-cara", Kind: keycab.BadgeRFID, RevokedAt: time.Unix(1700000000, 0)},
		},
		Policy:    keycab.DefaultPolicy(),
		BadgeSalt: salt,
	}
}

// NewSignerKey returns a fresh note signer key (PRIVATE+KEY+...) and the
// signer it makes.
func NewSignerKey(origin string) (string, *audit.Signer, error) {
	return audit.GenerateSigner(origin)
}

// MustKeysOut returns the key sets out now.
func MustKeysOut(tb testing.TB, d *store.DB) []keycab.Checkout {
	tb.Helper()
	out, err := d.KeysOut(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

// MustVerify fails tb unless the whole log verifies, every entry parsed.
func MustVerify(tb testing.TB, d *store.DB) {
	tb.Helper()
	if _, err := d.VerifyStrict(context.Background(), nil); err != nil {
		tb.Fatalf("log does not verify: %v", err)
	}
}

// MustVerifyResult is MustVerify returning what verified.
func MustVerifyResult(tb testing.TB, d *store.DB) store.VerifyResult {
	tb.Helper()
	res, err := d.VerifyStrict(context.Background(), nil)
	if err != nil {
		tb.Fatalf("log does not verify: %v", err)
	}
	return res
}

// MustDamagedWAL builds a log of n synthetic entries through the store,
// keeping a checkpoint every retain entries, and returns the path of a copy
// of its files as a power cut would leave them (the database and its
// write-ahead log, never checkpointed into it, and the files beside it),
// with a few bytes flipped in the WAL frame written just after the first
// keep entries committed. SQLite stops replaying the WAL at that frame's
// bad checksum, so the copy opens as a log of keep entries.
func MustDamagedWAL(tb testing.TB, signer *audit.Signer, n, keep int, retain int64) string {
	tb.Helper()
	ctx := context.Background()
	dir := tb.TempDir()
	path := filepath.Join(dir, "kiosk.db")
	d, err := store.Open(ctx, path, store.Options{Signer: signer, Create: true, RetainEvery: retain})
	if err != nil {
		tb.Fatal(err)
	}
	defer d.Close()
	w := workload.New(7)
	var walAt int64
	for i := 0; i < n; i++ {
		if _, err := d.Append(ctx, w.Next()); err != nil {
			tb.Fatal(err)
		}
		if i == keep-1 {
			st, err := os.Stat(path + "-wal")
			if err != nil {
				tb.Fatalf("no WAL after %d entries: %v", keep, err)
			}
			walAt = st.Size()
		}
	}
	// The store is still open: nothing was checkpointed, as at a power cut.
	copyDir := tb.TempDir()
	for _, name := range []string{"kiosk.db", "kiosk.db-wal", filepath.Base(store.MarkPath(path))} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		} else if err != nil {
			tb.Fatal(err)
		}
		if name == "kiosk.db-wal" {
			if int64(len(b)) <= walAt+64 {
				tb.Fatalf("WAL of %d bytes has nothing after %d", len(b), walAt)
			}
			// Into the next frame's page, past its 24-byte frame header.
			for i := walAt + 40; i < walAt+44; i++ {
				b[i] ^= 0xa5
			}
		}
		if err := os.WriteFile(filepath.Join(copyDir, name), b, 0o600); err != nil {
			tb.Fatal(err)
		}
	}
	return filepath.Join(copyDir, "kiosk.db")
}
