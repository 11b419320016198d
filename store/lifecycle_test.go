package store_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"keycab.dev/keycab"
	"keycab.dev/keycab/audit"
	"keycab.dev/keycab/store"
	"keycab.dev/keycab/store/storetest"
)

// inFiles returns the files of d's database (WAL included) that hold b.
func inFiles(t *testing.T, d *store.DB, b []byte) []string {
	t.Helper()
	files, _ := filepath.Glob(d.Path() + "*")
	var where []string
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(raw, b) {
			where = append(where, filepath.Base(f))
		}
	}
	return where
}

// TestBundleErasure: a bundle listing a member as erased at HQ erases them
// at the kiosk once, leaving nothing of them in the files, and the log
// verifies.
func TestBundleErasure(t *testing.T) {
	d := storetest.MustOpen(t, storetest.MustSigner(t, "kiosk.test/erase"))
	cfg := storetest.Config(1)
	const name, recipient, notes = "Benedikt Quorvander", "Recipient-Hq9 Ymir", "Notes-Kz4 gate code"
	cfg.Members[1].Name = name
	badge := cfg.Badges[1].Hash
	if err := d.ApplyConfig(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	if err := d.Take(ctx, &keycab.Checkout{KeySetID: "ks-1", MemberID: "m-ben", Slot: 1, Recipient: recipient, Notes: notes}); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Return(ctx, "ks-1", "m-ben", 1, false); err != nil {
		t.Fatal(err)
	}
	secrets := [][]byte{[]byte(name), []byte(recipient), []byte(notes), badge}
	for _, s := range secrets {
		if len(inFiles(t, d, s)) == 0 {
			t.Fatalf("%q is not in the files before erasure; the test would prove nothing", s)
		}
	}

	// HQ's next bundle: Ben erased, so not among the members or badges.
	next := func(v int64) *keycab.Config {
		c := storetest.Config(v)
		c.Members = slices.DeleteFunc(c.Members, func(m keycab.Member) bool { return m.ID == "m-ben" })
		c.Badges = slices.DeleteFunc(c.Badges, func(b keycab.Badge) bool { return b.MemberID == "m-ben" })
		c.Erased = []string{"m-ben", "m-never-here"}
		return c
	}
	changed := d.ConfigChanged()
	if err := d.ApplyConfig(ctx, next(2)); err != nil {
		t.Fatal(err)
	}
	select {
	case <-changed:
	default:
		t.Fatal("applying the erasure did not signal a config change (the controller would not reload)")
	}
	for _, s := range secrets {
		if where := inFiles(t, d, s); len(where) > 0 {
			t.Errorf("%q still in %v after the bundle's erasure", s, where)
		}
	}
	res, err := d.VerifyStrict(ctx, nil)
	if err != nil {
		t.Fatalf("log does not verify after erasure: %v", err)
	}
	if res.Erased != 2 || res.Texts != 0 {
		t.Fatalf("verify: %d erased, %d texts; want 2 erased, 0 texts", res.Erased, res.Texts)
	}
	// Once: the next bundle lists Ben again and logs no second erasure;
	// a member the kiosk never held gets none.
	if err := d.ApplyConfig(ctx, next(3)); err != nil {
		t.Fatal(err)
	}
	var erasures int
	entries, err := d.ReadEntries(0, d.Size())
	if err != nil {
		t.Fatal(err)
	}
	for _, leaf := range entries {
		ev, err := audit.Decode(leaf)
		if err != nil {
			t.Fatal(err)
		}
		if ev.Kind == keycab.EventMemberErased {
			erasures++
			if ev.Detail["member"] != "m-ben" {
				t.Errorf("member.erased for %q", ev.Detail["member"])
			}
		}
	}
	if erasures != 1 {
		t.Fatalf("%d member.erased entries, want 1", erasures)
	}
}

// TestExpirePersonal: the bundle's retention rule deletes exactly the
// texts older than N days that no hold covers, on a clock moved past N
// days; verify counts them as removed by retention, and still names a
// held or a newer text deleted behind its back as missing.
func TestExpirePersonal(t *testing.T) {
	clock := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
	d := storetest.MustOpen(t, storetest.MustSigner(t, "kiosk.test/retain"), func(o *store.Options) {
		o.Now = func() time.Time { return clock }
	})
	cfg := storetest.Config(1)
	cfg.PersonalTextDays = 30
	cfg.Held = []string{"m-ana", "ks-3"}
	if err := d.ApplyConfig(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	take := func(ks, member, text string, slot int) {
		t.Helper()
		if err := d.Take(ctx, &keycab.Checkout{KeySetID: ks, MemberID: member, Slot: slot, Notes: text}); err != nil {
			t.Fatal(err)
		}
		if _, err := d.Return(ctx, ks, member, slot, false); err != nil {
			t.Fatal(err)
		}
	}
	take("ks-1", "m-ben", "old-Ben-note-Qx1", 1)   // expires
	take("ks-2", "m-ana", "old-Ana-note-Qx2", 2)   // held member
	take("ks-3", "m-ben", "old-plant-note-Qx3", 3) // held key set
	// A badge's value is no personal text of retention's: it stays.
	if err := d.LinkBadge(ctx, "m-ana", "m-ben", keycab.BadgeRFID, "0C0D0E0F10"); err != nil {
		t.Fatal(err)
	}
	clock = clock.Add(10 * 24 * time.Hour)
	take("ks-1", "m-ben", "newer-Ben-note-Qx4", 1) // younger than 30 days at the run

	clock = clock.Add(19 * 24 * time.Hour) // 29 days after the first
	if n, err := d.ExpirePersonal(ctx); err != nil || n != 0 {
		t.Fatalf("29 days on: expired %d (%v), want 0", n, err)
	}
	size := d.Size()
	clock = clock.Add(2 * 24 * time.Hour) // 31 days after the first
	n, err := d.ExpirePersonal(ctx)
	if err != nil || n != 1 {
		t.Fatalf("31 days on: expired %d (%v), want 1", n, err)
	}
	if d.Size() != size+1 {
		t.Fatalf("retention appended %d entries, want 1 (personal.expired)", d.Size()-size)
	}
	if where := inFiles(t, d, []byte("old-Ben-note-Qx1")); len(where) > 0 {
		t.Errorf("expired text still in %v", where)
	}
	for _, kept := range []string{"old-Ana-note-Qx2", "old-plant-note-Qx3", "newer-Ben-note-Qx4"} {
		if len(inFiles(t, d, []byte(kept))) == 0 {
			t.Errorf("retention deleted %q, which its rule does not name", kept)
		}
	}
	res, err := d.VerifyStrict(ctx, nil)
	if err != nil {
		t.Fatalf("log does not verify after retention: %v", err)
	}
	if res.Expired != 1 || res.Texts != 4 || res.Erased != 0 {
		t.Fatalf("verify: %d expired, %d texts (the badge's value among them), %d erased; want 1, 4, 0", res.Expired, res.Texts, res.Erased)
	}
	if n, err := d.ExpirePersonal(ctx); err != nil || n != 0 {
		t.Fatalf("second run: expired %d (%v), want 0", n, err)
	}

	// Deleting a held text, or a newer one, or a badge's value (older
	// than the cut-off, but never retention's) behind retention's back is
	// tampering (each deleted, verified, and put back).
	raw := storetest.MustRawSQL(t, d.Path())
	var badge string
	if err := raw.QueryRow("SELECT text FROM personal WHERE subject = 'm-ben' AND at_ms = 0").Scan(&badge); err != nil {
		t.Fatal(err)
	}
	for _, text := range []string{"old-Ana-note-Qx2", "old-plant-note-Qx3", "newer-Ben-note-Qx4", badge} {
		if _, err := raw.Exec("CREATE TEMP TABLE saved AS SELECT * FROM personal WHERE text = ?", text); err != nil {
			t.Fatal(err)
		}
		if _, err := raw.Exec("DELETE FROM personal WHERE text = ?", text); err != nil {
			t.Fatal(err)
		}
		_, err := d.Verify(ctx, nil)
		var p *audit.Problem
		if !errors.As(err, &p) {
			t.Fatalf("verify after deleting %q: %v, want a problem", text, err)
		}
		if _, err := raw.Exec("INSERT INTO personal SELECT * FROM saved; DROP TABLE saved"); err != nil {
			t.Fatal(err)
		}
		storetest.MustVerify(t, d)
	}
}
