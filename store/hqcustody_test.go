package store_test

import (
	"testing"
	"time"

	"keycab.dev/keycab"
	"keycab.dev/keycab/audit"
	"keycab.dev/keycab/store"
	"keycab.dev/keycab/store/storetest"
)

// holders returns who has each key set out, by key set.
func holders(t *testing.T, d *store.DB) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, c := range storetest.MustKeysOut(t, d) {
		out[c.KeySetID] = c.MemberID
	}
	return out
}

// countKind counts the log's entries of kind.
func countKind(t *testing.T, d *store.DB, kind keycab.EventKind) int {
	t.Helper()
	leaves, err := d.ReadEntries(0, d.Size())
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, l := range leaves {
		e, err := audit.Decode(l)
		if err != nil {
			t.Fatal(err)
		}
		if e.Kind == kind {
			n++
		}
	}
	return n
}

// TestBundleHQCustody: a bundle's custody changes made at HQ are adopted
// once each, as custody.hq entries: a hand-over of a key set taken at
// the kiosk, a take at HQ of a key set the kiosk holds as in, and a
// return at HQ; a change the kiosk made after HQ's is kept; the log
// verifies.
func TestBundleHQCustody(t *testing.T) {
	d := storetest.MustOpen(t, storetest.MustSigner(t, "kiosk.test/hqcustody"))
	v := int64(1)
	apply := func(changes ...keycab.HQCustody) {
		t.Helper()
		cfg := storetest.Config(v)
		v++
		cfg.HQCustody = changes
		if err := d.ApplyConfig(ctx, cfg); err != nil {
			t.Fatal(err)
		}
	}
	apply()
	if err := d.Take(ctx, &keycab.Checkout{KeySetID: "ks-1", MemberID: "m-ben", Slot: 1}); err != nil {
		t.Fatal(err)
	}
	hq := time.Now().Add(time.Minute) // HQ's changes come after the kiosk's take
	due := hq.Add(2 * time.Hour).Truncate(time.Millisecond)

	// ks-1 handed over to Ana on a phone; ks-2 taken by Ben on a phone.
	handOver := keycab.HQCustody{KeySetID: "ks-1", Index: 4, At: hq, MemberID: "m-ana", Since: hq, Due: due}
	taken := keycab.HQCustody{KeySetID: "ks-2", Index: 5, At: hq, MemberID: "m-ben", Since: hq, Due: due}
	apply(handOver, taken)
	if h := holders(t, d); h["ks-1"] != "m-ana" || h["ks-2"] != "m-ben" || len(h) != 2 {
		t.Fatalf("after HQ's changes: %v", h)
	}
	for _, c := range storetest.MustKeysOut(t, d) {
		if c.KeySetID == "ks-2" && !c.DueAt.Equal(due) {
			t.Errorf("ks-2 due %v, want %v", c.DueAt, due)
		}
	}
	if n := countKind(t, d, keycab.EventCustodyFromHQ); n != 2 {
		t.Fatalf("%d custody.hq entries, want 2", n)
	}
	// The same changes again (every later bundle carries them): nothing.
	apply(handOver, taken)
	apply(handOver, taken)
	if n := countKind(t, d, keycab.EventCustodyFromHQ); n != 2 {
		t.Fatalf("%d custody.hq entries after the same changes again, want 2", n)
	}

	// Ana returns ks-1 at the kiosk (into its slot): an ordinary return.
	if _, err := d.Return(ctx, "ks-1", "m-ana", 1, false); err != nil {
		t.Fatal(err)
	}
	// ks-2 returned on a phone.
	apply(handOver, keycab.HQCustody{KeySetID: "ks-2", Index: 6, At: hq.Add(time.Minute)})
	if h := holders(t, d); len(h) != 0 {
		t.Fatalf("after the returns: %v", h)
	}

	// The kiosk takes ks-3 after HQ's newest change of it: the kiosk's
	// take stands (HQ hears of it with the next push).
	if err := d.Take(ctx, &keycab.Checkout{KeySetID: "ks-3", MemberID: "m-ana", Slot: 3}); err != nil {
		t.Fatal(err)
	}
	apply(keycab.HQCustody{KeySetID: "ks-3", Index: 7, At: time.Now().Add(-time.Hour)})
	if h := holders(t, d); h["ks-3"] != "m-ana" {
		t.Fatalf("a stale HQ return undid the kiosk's later take: %v", h)
	}
	if n := countKind(t, d, keycab.EventCustodyFromHQ); n != 3 {
		t.Fatalf("%d custody.hq entries, want 3", n)
	}
	storetest.MustVerify(t, d)
}
