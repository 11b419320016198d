package kioskapi_test

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"keycab.dev/keycab"
	"keycab.dev/keycab/audit"
	hqstore "keycab.dev/keycab/hq/store"
	"keycab.dev/keycab/store"
)

// TestTouchChanges: a fob enrolled and a badge linked at a kiosk reach HQ
// with the push that carries their entries, over HTTP, and come back in
// the next bundle; a contractor's change and a malformed one are refused,
// the rest of the push lands, and the kiosk logs each refusal once.
func TestTouchChanges(t *testing.T) {
	engines(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		h := MustHQ(t, dsn)
		admin := must[keycab.Member](t)(h.s.CreateMember(ctx, h.own(), keycab.Member{Name: "Ada", Email: "ada@org.test", Role: keycab.RoleAdmin}))
		contractor := must[keycab.Member](t)(h.s.CreateMember(ctx, h.own(), keycab.Member{Name: "Cy", Email: "cy@org.test", Role: keycab.RoleContractor}))
		k := MustKiosk(t, h, h.srv.URL)
		must[bool](t)(k.a.PullConfig(ctx, 0))

		MustNoErr(t, k.db.EnrolToken(ctx, admin.ID, h.ks.ID, "kc1.touch-fob"))
		MustNoErr(t, k.db.LinkBadge(ctx, admin.ID, h.staff.ID, keycab.BadgeRFID, "TOUCH-CARD"))
		bad := must[[]store.Appended](t)(k.db.Append(ctx,
			store.Record{Event: &audit.Event{Kind: keycab.EventAdminChange, Actor: contractor.ID, KeySet: h.ks.ID,
				Detail: map[string]string{"change": keycab.ChangeTokenEnrolled, "token_hash": strings.Repeat("ab", 32)}}},
			store.Record{Event: &audit.Event{Kind: keycab.EventAdminChange, Actor: admin.ID,
				Detail: map[string]string{"change": keycab.ChangeBadgeLinked, "member": h.staff.ID, "badge_hash": "not hex", "badge_kind": "rfid"}}},
			store.Record{Event: &audit.Event{Kind: keycab.EventKeyTaken, Actor: h.staff.ID, KeySet: h.ks.ID}}))
		must[int64](t)(k.a.Push(ctx))

		toks := must[[]hqstore.Token](t)(h.s.ListTokens(ctx, h.own(), h.ks.ID))
		if len(toks) != 1 || toks[0].Hash == nil || toks[0].Kiosk != "kiosk" {
			t.Fatalf("HQ's tokens of the key set after the push: %+v", toks)
		}
		bs := must[[]keycab.Badge](t)(h.s.ListBadges(ctx, h.own(), h.staff.ID))
		if len(bs) != 2 || bs[1].Kiosk != "kiosk" {
			t.Fatalf("HQ's badges of the member after the push: %+v", bs)
		}
		if out := must[[]hqstore.Holding](t)(h.s.ListCustody(ctx, h.own())); len(out) != 1 {
			t.Fatalf("the take pushed with the refused changes: custody %+v", out)
		}
		// An unrelated edit at HQ; the next bundle keeps the changes and
		// tells the kiosk of the refusals.
		ks := h.ks
		ks.Label = "front door, renamed"
		MustNoErr(t, h.s.UpdateKeySet(ctx, h.own(), ks))
		if applied := must[bool](t)(k.a.PullConfig(ctx, 0)); !applied {
			t.Fatal("no new bundle after the push and the edit")
		}
		if _, err := k.db.KeySetByToken(ctx, "kc1.touch-fob"); err != nil {
			t.Errorf("the enrolled fob after the bundle: %v", err)
		}
		if m, err := k.db.MemberByBadge(ctx, "TOUCH-CARD"); err != nil || m.ID != h.staff.ID {
			t.Errorf("the linked badge after the bundle: %v %v", m, err)
		}
		reasons := map[int64]string{}
		MustNoErr(t, k.db.Scan(ctx, 0, -1, func(e store.Entry) error {
			ev, err := audit.Decode(e.Leaf)
			if err == nil && ev.Detail["change"] == keycab.ChangeRefused {
				reasons[e.Index] = ev.Detail["index"] + ": " + ev.Detail["reason"]
			}
			return err
		}))
		if len(reasons) != 2 {
			t.Fatalf("the kiosk logged refusals %v, want 2", reasons)
		}
		all := ""
		for _, r := range reasons {
			all += r + "\n"
		}
		for _, want := range []string{strconv.FormatInt(bad[0].Index, 10) + ": key set", strconv.FormatInt(bad[1].Index, 10) + ": badge_hash is not a hex"} {
			if !strings.Contains(all, want) {
				t.Errorf("refusals logged %q, want one with %q", all, want)
			}
		}
		// The refusals' own entries reach HQ and are not refused again.
		must[int64](t)(k.a.Push(ctx))
		if rs := must[[]hqstore.KioskRefusal](t)(h.s.KioskLogs().ListKioskRefusals(ctx, h.own(), k.peer.KioskID)); len(rs) != 2 {
			t.Fatalf("HQ holds %d refusals, want 2: %+v", len(rs), rs)
		}
	})
}
