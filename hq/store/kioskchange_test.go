package store_test

import (
	"context"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"keycab.dev/keycab"
	"keycab.dev/keycab/audit"
	"keycab.dev/keycab/hq/store"
)

// kioskLog pushes a kiosk's events one index after another, as its log
// holds them.
type kioskLog struct {
	t    *testing.T
	s    *store.Store
	sc   store.Scope
	next int64
	sent []store.Event
}

// push records the events at the next indexes and returns the first one's.
func (l *kioskLog) push(events ...*audit.Event) int64 {
	l.t.Helper()
	first := l.next
	var evs []store.Event
	for _, e := range events {
		evs = append(evs, store.Event{LogIndex: l.next, Kind: e.Kind, ActorID: e.Actor, KeySetID: e.KeySet, At: time.Now(), Entry: e})
		l.next++
	}
	MustNoErr(l.t, l.s.RecordEvents(context.Background(), l.sc, evs))
	l.sent = append(l.sent, evs...)
	return first
}

func enrolled(actor, keySet, token string) *audit.Event {
	return &audit.Event{Kind: keycab.EventAdminChange, Actor: actor, KeySet: keySet,
		Detail: map[string]string{"change": keycab.ChangeTokenEnrolled, "token_hash": hex.EncodeToString(keycab.TokenHash(token))}}
}

func linked(salt []byte, actor, member, code string) *audit.Event {
	return &audit.Event{Kind: keycab.EventAdminChange, Actor: actor,
		Detail: map[string]string{"change": keycab.ChangeBadgeLinked, "member": member,
			"badge_hash": hex.EncodeToString(keycab.BadgeHash(salt, code)), "badge_kind": string(keycab.BadgeRFID)}}
}

// refusedAt returns the bundle's refusal of the entry at index, if any.
func refusedAt(cfg keycab.Config, index int64) (keycab.Refusal, bool) {
	for _, r := range cfg.Refused {
		if r.Index == index {
			return r, true
		}
	}
	return keycab.Refusal{}, false
}

// TestKioskChanges: a fob enrolled and a badge linked at a kiosk's
// touchscreen are applied at HQ under the dashboard's role checks, are in
// the next bundles whatever HQ edits after, and every conflict or attack
// ends refused, in the admin log and in the kiosk's bundle, with the rest
// of the push applied.
func TestKioskChanges(t *testing.T) {
	ctx := context.Background()
	for _, e := range engines() {
		t.Run(e.Name, func(t *testing.T) {
			f := newFixture(t, e)
			a, b := f.a, f.b
			salt := must[keycab.Config](t)(f.s.KioskConfig(ctx, a.kiosk())).BadgeSalt
			l := &kioskLog{t: t, s: f.s, sc: a.kiosk()}

			// Applied: a fob by the admin, a badge by the site's manager.
			fob := l.push(enrolled(a.admin.ID, a.ks1.ID, "kc1.fob-one"))
			badge := l.push(linked(salt, a.manager.ID, a.staff.ID, "card-1"))
			toks := must[[]store.Token](t)(f.s.ListTokens(ctx, a.as(a.owner), a.ks1.ID))
			if len(toks) != 1 || toks[0].Kiosk != a.kiosk1.Name || !toks[0].Valid() {
				t.Fatalf("key set's tokens after the push: %+v", toks)
			}
			bs := must[[]keycab.Badge](t)(f.s.ListBadges(ctx, a.as(a.owner), a.staff.ID))
			if len(bs) != 1 || bs[0].Kiosk != a.kiosk1.Name {
				t.Fatalf("member's badges after the push: %+v", bs)
			}
			if m := must[keycab.Member](t)(f.s.FindBadge(ctx, a.kiosk(), "card-1")); m.ID != a.staff.ID {
				t.Fatalf("the kiosk's badge finds %s", m.ID)
			}
			// A slot mapped at the kiosk: slot 2 of cabinet 1 homes key set
			// 1, which leaves slot 1.
			MustNoErr(t, f.s.SetSlot(ctx, a.as(a.owner), keycab.Slot{CabinetID: a.cab1.ID, Number: 1, KeySetID: a.ks1.ID}))
			MustNoErr(t, f.s.SetSlot(ctx, a.as(a.owner), keycab.Slot{CabinetID: a.cab1.ID, Number: 2, Lock: "L2"}))
			mapped := l.push(&audit.Event{Kind: keycab.EventAdminChange, Actor: a.manager.ID, KeySet: a.ks1.ID,
				Detail: map[string]string{"change": keycab.ChangeSlotMapped, "slot": "2"}})
			sl := must[[]keycab.Slot](t)(f.s.ListSlots(ctx, a.as(a.owner), a.cab1.ID))
			if len(sl) != 2 || sl[0].KeySetID != "" || sl[1].KeySetID != a.ks1.ID || sl[1].Lock != "L2" {
				t.Fatalf("slots after the kiosk's mapping: %+v", sl)
			}
			// A later, unrelated edit at HQ keeps them in the bundle.
			ks := a.ks1
			ks.Label = "front door (new)"
			MustNoErr(t, f.s.UpdateKeySet(ctx, a.as(a.owner), ks))
			cfg := must[keycab.Config](t)(f.s.KioskConfig(ctx, a.kiosk()))
			if cfg.ChangesThrough != mapped+1 || len(cfg.Refused) != 0 {
				t.Fatalf("bundle's changes through %d, refused %+v; want through %d", cfg.ChangesThrough, cfg.Refused, mapped+1)
			}
			if !hasToken(cfg, keycab.TokenHash("kc1.fob-one")) || !hasBadge(cfg, keycab.BadgeHash(salt, "card-1")) {
				t.Fatalf("bundle lost the kiosk's changes: tokens %+v badges %+v", cfg.Tokens, cfg.Badges)
			}
			for _, c := range cfg.Tokens {
				if c.Kiosk != "" {
					t.Fatalf("a bundle's token names its kiosk: %+v", c)
				}
			}
			// A resend is a no-op.
			MustNoErr(t, f.s.RecordEvents(ctx, a.kiosk(), l.sent[fob:badge+1]))

			// The same badge linked at HQ after the kiosk: the first applied wins.
			if _, err := f.s.AddBadge(ctx, a.as(a.owner), a.admin.ID, keycab.BadgeRFID, "card-1"); keycab.ErrorCode(err) != keycab.ECONFLICT {
				t.Fatalf("HQ linked a badge a kiosk had linked to another member: %v", err)
			}
			// ... and at HQ before the kiosk: the kiosk's is refused.
			must[keycab.Badge](t)(f.s.AddBadge(ctx, a.as(a.owner), a.admin.ID, keycab.BadgeRFID, "card-2"))
			// A fob on a key set HQ just deleted.
			gone := must[keycab.KeySet](t)(f.s.CreateKeySet(ctx, a.as(a.owner), keycab.KeySet{SiteID: a.site1.ID, Label: "gone"}))
			MustNoErr(t, f.s.DeleteKeySet(ctx, a.as(a.owner), gone.ID))
			ks3 := must[keycab.KeySet](t)(f.s.CreateKeySet(ctx, a.as(a.owner), keycab.KeySet{SiteID: a.site1.ID, Label: "side door"}))

			refusals := []struct {
				name string
				e    *audit.Event
				want string // in the reason
			}{
				{"badge of another member", linked(salt, a.admin.ID, a.staff.ID, "card-2"), "already belongs to member " + a.admin.ID},
				{"fob on a deleted key set", enrolled(a.admin.ID, gone.ID, "kc1.gone"), "not found"},
				{"label of another key set", enrolled(a.admin.ID, ks3.ID, "kc1.fob-one"), "already belongs to key set " + a.ks1.ID},
				{"key set of another site", enrolled(a.admin.ID, a.ks2.ID, "kc1.other"), "not at the kiosk's site"},
				{"member of another organisation", linked(salt, a.admin.ID, b.staff.ID, "card-3"), "not found"},
				{"admin of another organisation", linked(salt, b.owner.ID, a.staff.ID, "card-4"), "not an active member"},
				{"contractor as admin", enrolled(a.contractor.ID, a.ks1.ID, "kc1.contractor"), "needs an owner, admin or the site's manager"},
				{"staff as admin", linked(salt, a.staff.ID, a.staff.ID, "card-5"), "cannot"},
				{"manager linking an admin", linked(salt, a.manager.ID, a.admin.ID, "card-6"), "not found"},
				{"manager on another site", enrolled(a.manager.ID, a.ks2.ID, "kc1.site2"), "not found"},
				{"no admin", enrolled("", a.ks1.ID, "kc1.nobody"), "names no admin"},
				{"unknown change", &audit.Event{Kind: keycab.EventAdminChange, Actor: a.admin.ID, Detail: map[string]string{"change": "slot.\x00mapped"}}, "unknown touchscreen change"},
				{"bad hash", &audit.Event{Kind: keycab.EventAdminChange, Actor: a.admin.ID, KeySet: a.ks1.ID, Detail: map[string]string{"change": keycab.ChangeTokenEnrolled, "token_hash": "zz"}}, "not a hex SHA-256"},
				{"member id not text", &audit.Event{Kind: keycab.EventAdminChange, Actor: a.admin.ID, Detail: map[string]string{"change": keycab.ChangeBadgeLinked, "member": "m\xff\x00",
					"badge_hash": hex.EncodeToString(keycab.BadgeHash(salt, "card-8")), "badge_kind": "rfid"}}, "member is not text"},
				{"slot HQ does not have", &audit.Event{Kind: keycab.EventAdminChange, Actor: a.admin.ID, KeySet: a.ks1.ID, Detail: map[string]string{"change": keycab.ChangeSlotMapped, "slot": "9"}}, "slot 9 is not one of the cabinet's"},
				{"slot not a number", &audit.Event{Kind: keycab.EventAdminChange, Actor: a.admin.ID, Detail: map[string]string{"change": keycab.ChangeSlotMapped, "slot": "x"}}, "not a slot number"},
				{"slot of another site's key set", &audit.Event{Kind: keycab.EventAdminChange, Actor: a.admin.ID, KeySet: a.ks2.ID, Detail: map[string]string{"change": keycab.ChangeSlotMapped, "slot": "1"}}, "not at the kiosk's site"},
				{"slot by staff", &audit.Event{Kind: keycab.EventAdminChange, Actor: a.staff.ID, Detail: map[string]string{"change": keycab.ChangeSlotMapped, "slot": "2"}}, "needs an owner, admin or the site's manager"},
				{"bad badge kind", &audit.Event{Kind: keycab.EventAdminChange, Actor: a.admin.ID, Detail: map[string]string{"change": keycab.ChangeBadgeLinked, "member": a.staff.ID,
					"badge_hash": hex.EncodeToString(keycab.BadgeHash(salt, "card-7")), "badge_kind": "laser"}}, "unknown badge kind"},
			}
			// One push: the refused changes and a take; the take lands.
			var evs []*audit.Event
			for _, r := range refusals {
				evs = append(evs, r.e)
			}
			evs = append(evs, &audit.Event{Kind: keycab.EventKeyTaken, Actor: a.staff.ID, KeySet: a.ks1.ID})
			first := l.push(evs...)
			cfg = must[keycab.Config](t)(f.s.KioskConfig(ctx, a.kiosk()))
			for i, r := range refusals {
				got, ok := refusedAt(cfg, first+int64(i))
				if !ok || !strings.Contains(got.Reason, r.want) {
					t.Errorf("%s: refusal %+v (found %v), want a reason with %q", r.name, got, ok, r.want)
				}
			}
			if cfg.ChangesThrough != first+int64(len(refusals)) {
				t.Errorf("changes through %d, want %d", cfg.ChangesThrough, first+int64(len(refusals)))
			}
			if n := len(must[[]keycab.Badge](t)(f.s.ListBadges(ctx, a.as(a.owner), a.staff.ID))); n != 1 {
				t.Errorf("staff has %d badges after the refusals", n)
			}
			if n := len(must[[]store.Token](t)(f.s.ListTokens(ctx, a.as(a.owner), a.ks1.ID))); n != 1 {
				t.Errorf("key set has %d tokens after the refusals", n)
			}
			out := must[[]store.Holding](t)(f.s.ListCustody(ctx, a.as(a.owner)))
			if len(out) != 1 || out[0].MemberID != a.staff.ID {
				t.Errorf("the take pushed with the refusals did not land: %+v", out)
			}
			acts := must[[]store.AdminAction](t)(f.s.ListAdminLog(ctx, a.as(a.owner), 1000))
			var refused, applied int
			for _, act := range acts {
				switch {
				case act.Action == "kiosk.change.refused":
					refused++
					if act.ActorID != a.kiosk1.ID || !strings.Contains(act.Detail, `"before"`) || !strings.Contains(act.Detail, `"after"`) {
						t.Errorf("refusal logged as %+v", act)
					}
				case strings.Contains(act.Detail, "at kiosk "+a.kiosk1.ID):
					applied++
				}
			}
			if refused != len(refusals) || applied != 3 {
				t.Errorf("admin log: %d refusals, %d kiosk changes applied; want %d and 3", refused, applied, len(refusals))
			}
			rs := must[[]store.KioskRefusal](t)(f.s.KioskLogs().ListKioskRefusals(ctx, a.as(a.auditor), a.kiosk1.ID))
			if len(rs) != len(refusals) {
				t.Errorf("HQ lists %d refusals", len(rs))
			}
			if _, err := f.s.KioskLogs().ListKioskRefusals(ctx, b.as(b.owner), a.kiosk1.ID); keycab.ErrorCode(err) != keycab.ENOTFOUND {
				t.Errorf("org B read A's kiosk refusals: %v", err)
			}
			if cfgB := must[keycab.Config](t)(f.s.KioskConfig(ctx, b.kiosk())); len(cfgB.Refused) != 0 || cfgB.ChangesThrough != 0 ||
				hasBadge(cfgB, keycab.BadgeHash(cfgB.BadgeSalt, "card-3")) {
				t.Errorf("B's bundle got A's changes: %+v", cfgB)
			}
		})
	}
}

func hasToken(cfg keycab.Config, hash []byte) bool {
	for _, t := range cfg.Tokens {
		if string(t.Hash) == string(hash) {
			return true
		}
	}
	return false
}

func hasBadge(cfg keycab.Config, hash []byte) bool {
	for _, b := range cfg.Badges {
		if string(b.Hash) == string(hash) {
			return true
		}
	}
	return false
}
