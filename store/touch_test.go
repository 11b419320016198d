package store_test

import (
	"strconv"
	"testing"

	"keycab.dev/keycab"
	"keycab.dev/keycab/audit"
	"keycab.dev/keycab/store"
	"keycab.dev/keycab/store/storetest"
)

// refusalEntries returns the change.refused entries of the log, by the
// index they refuse.
func refusalEntries(t *testing.T, d *store.DB) map[string]int {
	t.Helper()
	out := map[string]int{}
	err := d.Scan(ctx, 0, -1, func(e store.Entry) error {
		ev, err := audit.Decode(e.Leaf)
		if err != nil {
			return err
		}
		if ev.Kind == keycab.EventAdminChange && ev.Detail["change"] == keycab.ChangeRefused {
			out[ev.Detail["index"]]++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestTouchChangesSurviveBundles: a fob enrolled and a badge linked at the
// touchscreen work on through bundles that do not carry them yet; once a
// bundle answers them, HQ's answer holds: a refused change is gone, for
// good, and its refusal is logged once.
func TestTouchChangesSurviveBundles(t *testing.T) {
	d := storetest.MustOpen(t, nil)
	if err := d.ApplyConfig(ctx, storetest.Config(1)); err != nil {
		t.Fatal(err)
	}
	if err := d.EnrolToken(ctx, "m-ana", "ks-2", "new-fob"); err != nil {
		t.Fatal(err)
	}
	if err := d.LinkBadge(ctx, "m-ana", "m-cara", keycab.BadgeRFID, "NEW-CARD"); err != nil {
		t.Fatal(err)
	}
	fob, badge := d.Size()-2, d.Size()-1
	works := func(v int64, wantFob, wantBadge bool) {
		t.Helper()
		_, err := d.KeySetByToken(ctx, "new-fob")
		if (err == nil) != wantFob {
			t.Errorf("after bundle %d the enrolled fob: %v, want working %v", v, err, wantFob)
		}
		_, err = d.MemberByBadge(ctx, "NEW-CARD")
		if (err == nil) != wantBadge {
			t.Errorf("after bundle %d the linked badge: %v, want working %v", v, err, wantBadge)
		}
	}
	// A bundle HQ made before it read the changes.
	if err := d.ApplyConfig(ctx, storetest.Config(2)); err != nil {
		t.Fatal(err)
	}
	works(2, true, true)
	if snap, err := d.Snapshot(ctx); err != nil || len(snap.Tokens) != 4 || len(snap.Badges) != 4 {
		t.Fatalf("snapshot after bundle 2: %v tokens %d badges %d", err, len(snap.Tokens), len(snap.Badges))
	}

	// HQ applied the fob and refused the badge.
	c := storetest.Config(3)
	c.Tokens = append(c.Tokens, keycab.QRToken{KeySetID: "ks-2", Hash: keycab.TokenHash("new-fob")})
	c.ChangesThrough = badge + 1
	c.Refused = []keycab.Refusal{{Index: badge, Change: keycab.ChangeBadgeLinked, Reason: "that badge already belongs to member m-x"}}
	if err := d.ApplyConfig(ctx, c); err != nil {
		t.Fatal(err)
	}
	works(3, true, false)
	// The same answer again, and a stale bundle that answers less: the
	// refusal holds and is logged once.
	c.Version = 4
	if err := d.ApplyConfig(ctx, c); err != nil {
		t.Fatal(err)
	}
	c = storetest.Config(5)
	c.Refused = []keycab.Refusal{{Index: badge, Change: keycab.ChangeBadgeLinked, Reason: "again"}, {Index: 999, Change: "slot.mapped", Reason: "unknown"}}
	if err := d.ApplyConfig(ctx, c); err != nil {
		t.Fatal(err)
	}
	works(5, true, false)
	if snap, err := d.Snapshot(ctx); err != nil || len(snap.Refused) != 2 || snap.Refused[0].Index != badge || snap.Refused[0].Reason != "that badge already belongs to member m-x" {
		t.Fatalf("snapshot's refusals: %v %+v", err, snap.Refused)
	}
	if got := refusalEntries(t, d); len(got) != 2 || got[strconv.FormatInt(badge, 10)] != 1 || got[strconv.FormatInt(fob, 10)] != 0 || got["999"] != 1 {
		t.Fatalf("refusal entries by index: %v", got)
	}
	// A bundle without the fob's key set: the fob is left out, no error.
	c = storetest.Config(6)
	c.KeySets, c.Slots, c.Tokens = c.KeySets[:1], c.Slots[:1], c.Tokens[:1]
	if err := d.ApplyConfig(ctx, c); err != nil {
		t.Fatal(err)
	}
	works(6, false, false)
	storetest.MustVerify(t, d)
}

// TestTouchSlotMapSurvivesBundles: a slot mapped at the touchscreen stays
// mapped through a bundle that does not answer it yet, and follows HQ's
// answer once one does.
func TestTouchSlotMapSurvivesBundles(t *testing.T) {
	d := storetest.MustOpen(t, nil)
	if err := d.ApplyConfig(ctx, storetest.Config(1)); err != nil {
		t.Fatal(err)
	}
	if err := d.MapSlot(ctx, "m-ana", 9, "ks-1"); keycab.ErrorCode(err) != keycab.ENOTFOUND {
		t.Fatalf("mapping a slot the kiosk has not: %v", err)
	}
	if err := d.MapSlot(ctx, "m-ana", 3, "ks-nope"); keycab.ErrorCode(err) != keycab.ENOTFOUND {
		t.Fatalf("mapping a key set the kiosk has not: %v", err)
	}
	if err := d.MapSlot(ctx, "m-ana", 3, "ks-1"); err != nil {
		t.Fatal(err)
	}
	mapped := d.Size() - 1
	homes := func() map[int]string {
		t.Helper()
		snap, err := d.Snapshot(ctx)
		if err != nil {
			t.Fatal(err)
		}
		out := map[int]string{}
		for _, s := range snap.Slots {
			out[s.Number] = s.KeySetID
		}
		return out
	}
	if got := homes(); got[1] != "" || got[3] != "ks-1" {
		t.Fatalf("slots after the mapping: %v", got)
	}
	if err := d.ApplyConfig(ctx, storetest.Config(2)); err != nil {
		t.Fatal(err)
	}
	if got := homes(); got[1] != "" || got[3] != "ks-1" {
		t.Fatalf("slots after a bundle that does not answer the mapping: %v", got)
	}
	// HQ refused it: its slots hold.
	c := storetest.Config(3)
	c.ChangesThrough = mapped + 1
	c.Refused = []keycab.Refusal{{Index: mapped, Change: keycab.ChangeSlotMapped, Reason: "no"}}
	if err := d.ApplyConfig(ctx, c); err != nil {
		t.Fatal(err)
	}
	if got := homes(); got[1] != "ks-1" || got[3] != "ks-3" {
		t.Fatalf("slots after HQ refused the mapping: %v", got)
	}
	storetest.MustVerify(t, d)
}
