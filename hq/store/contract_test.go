package store_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"keycab.dev/keycab"
	"keycab.dev/keycab/hq/store"
)

// TestContract runs every contract case on SQLite and on PostgreSQL, each
// on a fresh database holding two organisations, A and B. Most cases are
// attacks: a principal of A (or a narrower role) reaching for what it
// must not have.
func TestContract(t *testing.T) {
	for _, e := range engines() {
		t.Run(e.Name, func(t *testing.T) {
			t.Parallel()
			for _, c := range append(append(append(contractCases(), personalCases()...), publicLogCases()...), append(apiKeyCases(), scimCases()...)...) {
				t.Run(c.name, func(t *testing.T) {
					t.Parallel()
					c.fn(t, newFixture(t, e))
				})
			}
		})
	}
}

type contractCase struct {
	name string
	fn   func(t *testing.T, f *fixture)
}

// sameMiss checks that reaching for another organisation's row by id
// answers exactly as a missing row does: ENOTFOUND and the same message
// but for the id.
func sameMiss(t *testing.T, what string, cross func(id string) error, crossID string) {
	t.Helper()
	errCross := cross(crossID)
	errMissing := cross("nope_" + what)
	wantCode(t, errCross, keycab.ENOTFOUND)
	wantCode(t, errMissing, keycab.ENOTFOUND)
	a := strings.ReplaceAll(keycab.ErrorMessage(errCross), crossID, "ID")
	b := strings.ReplaceAll(keycab.ErrorMessage(errMissing), "nope_"+what, "ID")
	if a != b {
		t.Fatalf("a cross-tenant miss says %q, a missing row %q", a, b)
	}
}

func contractCases() []contractCase {
	ctx := context.Background()
	return append([]contractCase{
		// ID swaps: A's owner names B's rows.
		{"id swap: read site", func(t *testing.T, f *fixture) {
			sameMiss(t, "site", func(id string) error { _, err := f.s.GetSite(ctx, f.a.as(f.a.owner), id); return err }, f.b.site1.ID)
		}},
		{"id swap: update site", func(t *testing.T, f *fixture) {
			sameMiss(t, "site", func(id string) error {
				return f.s.UpdateSite(ctx, f.a.as(f.a.owner), keycab.Site{ID: id, Name: "pwned"})
			}, f.b.site1.ID)
			got := must[store.Site](t)(f.s.GetSite(ctx, f.b.as(f.b.owner), f.b.site1.ID))
			if got.Name == "pwned" {
				t.Fatal("B's site was renamed by A")
			}
		}},
		{"id swap: delete site and set its notes", func(t *testing.T, f *fixture) {
			sameMiss(t, "site", func(id string) error { return f.s.DeleteSite(ctx, f.a.as(f.a.owner), id) }, f.b.site2.ID)
			sameMiss(t, "site", func(id string) error { return f.s.SetSiteNotes(ctx, f.a.as(f.a.owner), id, "x") }, f.b.site2.ID)
			must[store.Site](t)(f.s.GetSite(ctx, f.b.as(f.b.owner), f.b.site2.ID))
		}},
		{"id swap: read cabinet and its slots", func(t *testing.T, f *fixture) {
			sameMiss(t, "cabinet", func(id string) error { _, err := f.s.GetCabinet(ctx, f.a.as(f.a.owner), id); return err }, f.b.cab1.ID)
			sameMiss(t, "cabinet", func(id string) error { _, err := f.s.ListSlots(ctx, f.a.as(f.a.owner), id); return err }, f.b.cab1.ID)
		}},
		{"id swap: update and delete cabinet", func(t *testing.T, f *fixture) {
			sameMiss(t, "cabinet", func(id string) error {
				return f.s.UpdateCabinet(ctx, f.a.as(f.a.owner), keycab.Cabinet{ID: id, Name: "x", Kind: keycab.Slotted})
			}, f.b.cab2.ID)
			sameMiss(t, "cabinet", func(id string) error { return f.s.DeleteCabinet(ctx, f.a.as(f.a.owner), id) }, f.b.cab2.ID)
			must[keycab.Cabinet](t)(f.s.GetCabinet(ctx, f.b.as(f.b.owner), f.b.cab2.ID))
		}},
		{"id swap: slots of another org's cabinet", func(t *testing.T, f *fixture) {
			wantCode(t, f.s.SetSlot(ctx, f.a.as(f.a.owner), keycab.Slot{CabinetID: f.b.cab1.ID, Number: 1}), keycab.ENOTFOUND)
			MustNoErr(t, f.s.SetSlot(ctx, f.b.as(f.b.owner), keycab.Slot{CabinetID: f.b.cab1.ID, Number: 1}))
			wantCode(t, f.s.DeleteSlot(ctx, f.a.as(f.a.owner), f.b.cab1.ID, 1), keycab.ENOTFOUND)
		}},
		{"id swap: read key set", func(t *testing.T, f *fixture) {
			sameMiss(t, "key set", func(id string) error { _, err := f.s.GetKeySet(ctx, f.a.as(f.a.owner), id); return err }, f.b.ks1.ID)
			sameMiss(t, "key set", func(id string) error { _, err := f.s.ListReservations(ctx, f.a.as(f.a.owner), id); return err }, f.b.ks1.ID)
		}},
		{"id swap: update and delete key set", func(t *testing.T, f *fixture) {
			sameMiss(t, "key set", func(id string) error {
				return f.s.UpdateKeySet(ctx, f.a.as(f.a.owner), keycab.KeySet{ID: id, Label: "x"})
			}, f.b.ks1.ID)
			sameMiss(t, "key set", func(id string) error { return f.s.DeleteKeySet(ctx, f.a.as(f.a.owner), id) }, f.b.ks2.ID)
		}},
		{"id swap: tokens of another org's key set", func(t *testing.T, f *fixture) {
			own := f.a.as(f.a.owner)
			_, _, err := f.s.IssueToken(ctx, own, f.b.ks1.ID)
			wantCode(t, err, keycab.ENOTFOUND)
			_, _, err = f.s.RotateToken(ctx, own, f.b.ks1.ID)
			wantCode(t, err, keycab.ENOTFOUND)
			wantCode(t, f.s.RevokeTokens(ctx, own, f.b.ks1.ID), keycab.ENOTFOUND)
			text, _, err := f.s.IssueToken(ctx, f.b.as(f.b.owner), f.b.ks1.ID)
			MustNoErr(t, err)
			_, err = f.s.LookupToken(ctx, own, text)
			wantCode(t, err, keycab.ENOTFOUND)
			_, err = f.s.LookupToken(ctx, f.a.kiosk(), text)
			wantCode(t, err, keycab.ENOTFOUND)
		}},
		{"id swap: read member", func(t *testing.T, f *fixture) {
			sameMiss(t, "member", func(id string) error { _, err := f.s.GetMember(ctx, f.a.as(f.a.owner), id); return err }, f.b.staff.ID)
			ms := must[[]keycab.Member](t)(f.s.ListMembers(ctx, f.a.as(f.a.owner)))
			for _, m := range ms {
				if m.OrgID != f.a.org.ID {
					t.Fatalf("A lists B's member %s", m.ID)
				}
			}
		}},
		{"id swap: change role, sites, PIN and badges of another org's member", func(t *testing.T, f *fixture) {
			own := f.a.as(f.a.owner)
			sameMiss(t, "member", func(id string) error { return f.s.SetMemberRole(ctx, own, id, keycab.RoleContractor) }, f.b.admin.ID)
			sameMiss(t, "member", func(id string) error { return f.s.SetMemberSites(ctx, own, id, nil) }, f.b.staff.ID)
			sameMiss(t, "member", func(id string) error { return f.s.SetPINHash(ctx, own, id, "x") }, f.b.staff.ID)
			sameMiss(t, "member", func(id string) error { _, err := f.s.AddBadge(ctx, own, id, keycab.BadgeRFID, "123"); return err }, f.b.staff.ID)
			sameMiss(t, "member", func(id string) error { _, err := f.s.ListBadges(ctx, own, id); return err }, f.b.staff.ID)
			if m := must[keycab.Member](t)(f.s.GetMember(ctx, f.b.as(f.b.owner), f.b.admin.ID)); m.Role != keycab.RoleAdmin {
				t.Fatalf("B's admin is now a %s", m.Role)
			}
		}},
		{"id swap: remove another org's member", func(t *testing.T, f *fixture) {
			sameMiss(t, "member", func(id string) error { return f.s.RemoveMember(ctx, f.a.as(f.a.owner), id) }, f.b.owner.ID)
			must[keycab.Member](t)(f.s.GetMember(ctx, f.b.as(f.b.owner), f.b.owner.ID))
		}},
		{"id swap: jobs, reservations, alarms and kiosks", func(t *testing.T, f *fixture) {
			own := f.a.as(f.a.owner)
			now := time.Now()
			r := must[keycab.Reservation](t)(f.s.CreateReservation(ctx, f.b.as(f.b.owner), keycab.Reservation{KeySetID: f.b.ks1.ID, MemberID: f.b.staff.ID, From: now, Until: now.Add(time.Hour)}))
			wantCode(t, f.s.DeleteReservation(ctx, own, r.ID), keycab.ENOTFOUND)
			wantCode(t, f.s.DeleteJob(ctx, own, f.b.job.ID), keycab.ENOTFOUND)
			wantCode(t, f.s.RevokeKiosk(ctx, own, f.b.kiosk1.ID), keycab.ENOTFOUND)
			MustNoErr(t, f.s.RecordEvents(ctx, f.b.kiosk(), []store.Event{{LogIndex: 0, Kind: keycab.EventAlarmRaised, At: now, Detail: keycab.AlarmDoorForced}}))
			as := must[[]store.Alarm](t)(f.s.ListAlarms(ctx, f.b.as(f.b.owner), true))
			if len(as) != 1 {
				t.Fatalf("B has %d alarms, want 1", len(as))
			}
			wantCode(t, f.s.ClearAlarm(ctx, own, as[0].ID, "mine now"), keycab.ENOTFOUND)
			if got := must[[]store.Alarm](t)(f.s.ListAlarms(ctx, own, false)); len(got) != 0 {
				t.Fatalf("A sees %d of B's alarms", len(got))
			}
			if got := must[[]store.Kiosk](t)(f.s.ListKiosks(ctx, own)); len(got) != 1 || got[0].ID != f.a.kiosk1.ID {
				t.Fatalf("A lists kiosks %v", got)
			}
		}},
		// Org swaps in arguments.
		{"org swap: create rows naming another org", func(t *testing.T, f *fixture) {
			own := f.a.as(f.a.owner)
			_, err := f.s.CreateSite(ctx, own, store.Site{Site: keycab.Site{OrgID: f.b.org.ID, Name: "x"}})
			wantCode(t, err, keycab.ENOTFOUND)
			_, err = f.s.CreateKeySet(ctx, own, keycab.KeySet{OrgID: f.b.org.ID, SiteID: f.b.site1.ID, Label: "x"})
			wantCode(t, err, keycab.ENOTFOUND)
			_, err = f.s.CreateMember(ctx, own, keycab.Member{OrgID: f.b.org.ID, Role: keycab.RoleStaff})
			wantCode(t, err, keycab.ENOTFOUND)
			_, err = f.s.CreateCabinet(ctx, own, keycab.Cabinet{OrgID: f.b.org.ID, SiteID: f.a.site1.ID, Name: "x", Kind: keycab.Slotted})
			wantCode(t, err, keycab.ENOTFOUND)
			if n := len(must[[]store.Site](t)(f.s.ListSites(ctx, f.b.as(f.b.owner)))); n != 2 {
				t.Fatalf("B has %d sites, want 2", n)
			}
		}},
		{"org swap: update rows naming another org", func(t *testing.T, f *fixture) {
			own := f.a.as(f.a.owner)
			wantCode(t, f.s.UpdateSite(ctx, own, keycab.Site{OrgID: f.b.org.ID, ID: f.a.site1.ID, Name: "x"}), keycab.ENOTFOUND)
			wantCode(t, f.s.UpdateKeySet(ctx, own, keycab.KeySet{OrgID: f.b.org.ID, ID: f.a.ks1.ID, Label: "x"}), keycab.ENOTFOUND)
			wantCode(t, f.s.UpdateCabinet(ctx, own, keycab.Cabinet{OrgID: f.b.org.ID, ID: f.a.cab1.ID, Name: "x", Kind: keycab.Slotted}), keycab.ENOTFOUND)
		}},
		{"org swap: a scope mixing one org with another's member or kiosk", func(t *testing.T, f *fixture) {
			_, err := f.s.ListSites(ctx, store.MemberScope(f.b.org.ID, f.a.owner.ID))
			wantCode(t, err, keycab.EUNAUTHORIZED)
			_, err = f.s.KioskConfig(ctx, store.KioskScope(f.b.org.ID, f.a.kiosk1.ID))
			wantCode(t, err, keycab.EUNAUTHORIZED)
			_, err = f.s.ListSites(ctx, store.Scope{})
			wantCode(t, err, keycab.EUNAUTHORIZED)
		}},
		// Other tenants' parents in foreign keys.
		{"foreign parent: cabinet in another org's site", func(t *testing.T, f *fixture) {
			_, err := f.s.CreateCabinet(ctx, f.a.as(f.a.owner), keycab.Cabinet{SiteID: f.b.site1.ID, Name: "x", Kind: keycab.Slotted})
			wantCode(t, err, keycab.ENOTFOUND)
		}},
		{"foreign parent: key set in another org's site", func(t *testing.T, f *fixture) {
			_, err := f.s.CreateKeySet(ctx, f.a.as(f.a.owner), keycab.KeySet{SiteID: f.b.site1.ID, Label: "x"})
			wantCode(t, err, keycab.ENOTFOUND)
		}},
		{"foreign parent: slot homing another org's key set", func(t *testing.T, f *fixture) {
			err := f.s.SetSlot(ctx, f.a.as(f.a.owner), keycab.Slot{CabinetID: f.a.cab1.ID, Number: 1, KeySetID: f.b.ks1.ID})
			wantCode(t, err, keycab.ENOTFOUND)
			MustNoErr(t, f.s.SetSlot(ctx, f.a.as(f.a.owner), keycab.Slot{CabinetID: f.a.cab1.ID, Number: 1, KeySetID: f.a.ks1.ID}))
		}},
		{"foreign parent: reservation of another org's key set or for its member", func(t *testing.T, f *fixture) {
			now := time.Now()
			_, err := f.s.CreateReservation(ctx, f.a.as(f.a.owner), keycab.Reservation{KeySetID: f.b.ks1.ID, MemberID: f.a.staff.ID, From: now, Until: now.Add(time.Hour)})
			wantCode(t, err, keycab.ENOTFOUND)
			_, err = f.s.CreateReservation(ctx, f.a.as(f.a.owner), keycab.Reservation{KeySetID: f.a.ks1.ID, MemberID: f.b.staff.ID, From: now, Until: now.Add(time.Hour)})
			wantCode(t, err, keycab.ENOTFOUND)
		}},
		{"foreign parent: job for another org's contractor or key set", func(t *testing.T, f *fixture) {
			now := time.Now()
			_, err := f.s.CreateJob(ctx, f.a.as(f.a.owner), keycab.Job{MemberID: f.b.contractor.ID, KeySetIDs: []string{f.a.ks1.ID}, From: now, Until: now.Add(time.Hour)})
			wantCode(t, err, keycab.ENOTFOUND)
			_, err = f.s.CreateJob(ctx, f.a.as(f.a.owner), keycab.Job{MemberID: f.a.contractor.ID, KeySetIDs: []string{f.b.ks1.ID}, From: now, Until: now.Add(time.Hour)})
			wantCode(t, err, keycab.ENOTFOUND)
		}},
		{"foreign parent: member scoped to another org's site", func(t *testing.T, f *fixture) {
			_, err := f.s.CreateMember(ctx, f.a.as(f.a.owner), keycab.Member{Email: "x@a.test", Role: keycab.RoleStaff, SiteIDs: []string{f.b.site1.ID}})
			wantCode(t, err, keycab.ENOTFOUND)
			wantCode(t, f.s.SetMemberSites(ctx, f.a.as(f.a.owner), f.a.staff.ID, []string{f.b.site1.ID}), keycab.ENOTFOUND)
		}},
		{"foreign parent: kiosk for another org's cabinet", func(t *testing.T, f *fixture) {
			_, err := f.s.CreateKiosk(ctx, f.a.as(f.a.owner), store.Kiosk{CabinetID: f.b.cab1.ID})
			wantCode(t, err, keycab.ENOTFOUND)
		}},
		{"foreign parent: kiosk event naming another org's key set or member", func(t *testing.T, f *fixture) {
			// To A, B's ids are ids A does not have: the events are kept
			// (a kiosk's push must not stall) but move no custody anywhere.
			MustNoErr(t, f.s.RecordEvents(ctx, f.a.kiosk(), []store.Event{{LogIndex: 0, Kind: keycab.EventKeyTaken, ActorID: f.a.staff.ID, KeySetID: f.b.ks1.ID, At: time.Now()}}))
			MustNoErr(t, f.s.RecordEvents(ctx, f.a.kiosk(), []store.Event{{LogIndex: 1, Kind: keycab.EventKeyTaken, ActorID: f.b.staff.ID, KeySetID: f.a.ks1.ID, At: time.Now()}}))
			if h := must[[]store.Holding](t)(f.s.ListCustody(ctx, f.b.as(f.b.owner))); len(h) != 0 {
				t.Fatalf("B's custody changed: %v", h)
			}
			if h := must[[]store.Holding](t)(f.s.ListCustody(ctx, f.a.as(f.a.owner))); len(h) != 0 {
				t.Fatalf("A's custody names B's key set or member: %v", h)
			}
		}},
		// Role escalation.
		{"escalation: admin cannot invite or promote an owner", func(t *testing.T, f *fixture) {
			adm := f.a.as(f.a.admin)
			_, err := f.s.CreateMember(ctx, adm, keycab.Member{Email: "o2@a.test", Role: keycab.RoleOwner})
			wantCode(t, err, keycab.EFORBIDDEN)
			wantCode(t, f.s.SetMemberRole(ctx, adm, f.a.admin.ID, keycab.RoleOwner), keycab.EFORBIDDEN)
			wantCode(t, f.s.SetMemberRole(ctx, adm, f.a.staff.ID, keycab.RoleOwner), keycab.EFORBIDDEN)
			must[keycab.Member](t)(f.s.CreateMember(ctx, adm, keycab.Member{Email: "a2@a.test", Role: keycab.RoleAdmin}))
		}},
		{"escalation: admin cannot demote or remove an owner", func(t *testing.T, f *fixture) {
			adm := f.a.as(f.a.admin)
			o2 := must[keycab.Member](t)(f.s.CreateMember(ctx, f.a.as(f.a.owner), keycab.Member{Email: "o2@a.test", Role: keycab.RoleOwner}))
			wantCode(t, f.s.SetMemberRole(ctx, adm, o2.ID, keycab.RoleStaff), keycab.EFORBIDDEN)
			wantCode(t, f.s.RemoveMember(ctx, adm, o2.ID), keycab.EFORBIDDEN)
			wantCode(t, f.s.SetPINHash(ctx, adm, o2.ID, "x"), keycab.EFORBIDDEN)
		}},
		{"escalation: site manager grants only staff and contractor at own sites", func(t *testing.T, f *fixture) {
			mgr := f.a.as(f.a.manager)
			for _, r := range []keycab.Role{keycab.RoleOwner, keycab.RoleAdmin, keycab.RoleSiteManager, keycab.RoleAuditor} {
				_, err := f.s.CreateMember(ctx, mgr, keycab.Member{Email: string(r) + "2@a.test", Role: r, SiteIDs: []string{f.a.site1.ID}})
				wantCode(t, err, keycab.EFORBIDDEN)
			}
			wantCode(t, f.s.SetMemberRole(ctx, mgr, f.a.staff.ID, keycab.RoleAdmin), keycab.EFORBIDDEN)
			wantCode(t, f.s.SetMemberRole(ctx, mgr, f.a.manager.ID, keycab.RoleAdmin), keycab.EFORBIDDEN)
			_, err := f.s.CreateMember(ctx, mgr, keycab.Member{Email: "s2@a.test", Role: keycab.RoleStaff})
			wantCode(t, err, keycab.EFORBIDDEN) // unscoped: every site
			_, err = f.s.CreateMember(ctx, mgr, keycab.Member{Email: "s3@a.test", Role: keycab.RoleStaff, SiteIDs: []string{f.a.site2.ID}})
			wantCode(t, err, keycab.ENOTFOUND)
			must[keycab.Member](t)(f.s.CreateMember(ctx, mgr, keycab.Member{Email: "s4@a.test", Role: keycab.RoleStaff, SiteIDs: []string{f.a.site1.ID}}))
		}},
		{"escalation: staff and contractors manage nobody", func(t *testing.T, f *fixture) {
			for _, m := range []keycab.Member{f.a.staff, f.a.contractor} {
				_, err := f.s.CreateMember(ctx, f.a.as(m), keycab.Member{Email: "x@a.test", Role: keycab.RoleContractor})
				wantCode(t, err, keycab.EFORBIDDEN)
				wantCode(t, f.s.SetMemberRole(ctx, f.a.as(m), m.ID, keycab.RoleOwner), keycab.EFORBIDDEN)
			}
		}},
		{"escalation: a demoted admin loses admin rights at once", func(t *testing.T, f *fixture) {
			adm := f.a.as(f.a.admin)
			MustNoErr(t, f.s.SetMemberRole(ctx, f.a.as(f.a.owner), f.a.admin.ID, keycab.RoleStaff))
			_, err := f.s.CreateSite(ctx, adm, store.Site{Site: keycab.Site{Name: "x"}})
			wantCode(t, err, keycab.EFORBIDDEN)
			MustNoErr(t, f.s.RemoveMember(ctx, f.a.as(f.a.owner), f.a.admin.ID))
			_, err = f.s.ListSites(ctx, adm)
			wantCode(t, err, keycab.EUNAUTHORIZED)
		}},
		// The last owner.
		{"last owner cannot be demoted or leave", func(t *testing.T, f *fixture) {
			own := f.a.as(f.a.owner)
			wantCode(t, f.s.SetMemberRole(ctx, own, f.a.owner.ID, keycab.RoleAdmin), keycab.ECONFLICT)
			wantCode(t, f.s.RemoveMember(ctx, own, f.a.owner.ID), keycab.ECONFLICT)
			o2 := must[keycab.Member](t)(f.s.CreateMember(ctx, own, keycab.Member{Email: "o2@a.test", Role: keycab.RoleOwner}))
			MustNoErr(t, f.s.SetMemberRole(ctx, own, f.a.owner.ID, keycab.RoleAdmin))
			wantCode(t, f.s.RemoveMember(ctx, f.a.as(o2), o2.ID), keycab.ECONFLICT)
		}},
		{"last owner: two owners demoting each other at once leave one", func(t *testing.T, f *fixture) {
			own := f.a.as(f.a.owner)
			o2 := must[keycab.Member](t)(f.s.CreateMember(ctx, own, keycab.Member{Email: "o2@a.test", Role: keycab.RoleOwner}))
			errs := race(2, func(i int) error {
				if i == 0 {
					return f.s.SetMemberRole(ctx, own, o2.ID, keycab.RoleAdmin)
				}
				return f.s.SetMemberRole(ctx, f.a.as(o2), f.a.owner.ID, keycab.RoleAdmin)
			})
			owners := 0
			for _, m := range must[[]keycab.Member](t)(f.s.ListMembers(ctx, f.a.as(f.a.auditor))) {
				if m.Role == keycab.RoleOwner {
					owners++
				}
			}
			if owners != 1 {
				t.Fatalf("%d owners left (errors %v)", owners, errs)
			}
		}},
		// Site managers outside their sites.
		{"site manager: sees and changes only own sites", func(t *testing.T, f *fixture) {
			mgr := f.a.as(f.a.manager)
			_, err := f.s.GetCabinet(ctx, mgr, f.a.cab2.ID)
			wantCode(t, err, keycab.ENOTFOUND)
			_, err = f.s.GetSite(ctx, mgr, f.a.site2.ID)
			wantCode(t, err, keycab.ENOTFOUND)
			_, err = f.s.CreateKeySet(ctx, mgr, keycab.KeySet{SiteID: f.a.site2.ID, Label: "x"})
			wantCode(t, err, keycab.ENOTFOUND)
			wantCode(t, f.s.UpdateKeySet(ctx, mgr, keycab.KeySet{ID: f.a.ks2.ID, Label: "x"}), keycab.ENOTFOUND)
			wantCode(t, f.s.DeleteCabinet(ctx, mgr, f.a.cab2.ID), keycab.ENOTFOUND)
			must[keycab.KeySet](t)(f.s.CreateKeySet(ctx, mgr, keycab.KeySet{SiteID: f.a.site1.ID, Label: "new"}))
			for _, k := range must[[]keycab.KeySet](t)(f.s.ListKeySets(ctx, mgr, "")) {
				if k.SiteID != f.a.site1.ID {
					t.Fatalf("site manager lists key set %s of site %s", k.ID, k.SiteID)
				}
			}
			_, err = f.s.CreateSite(ctx, mgr, store.Site{Site: keycab.Site{Name: "x"}})
			wantCode(t, err, keycab.EFORBIDDEN)
		}},
		// Contractors: only their jobs' key sets, inside the window.
		{"contractor: job key sets inside the window only", func(t *testing.T, f *fixture) {
			con := f.a.as(f.a.contractor)
			MustNoErr(t, f.s.CheckTake(ctx, con, f.a.ks1.ID))
			wantCode(t, f.s.CheckTake(ctx, con, f.a.ks2.ID), keycab.ENOTFOUND)
			ks := must[[]keycab.KeySet](t)(f.s.ListKeySets(ctx, con, ""))
			if len(ks) != 1 || ks[0].ID != f.a.ks1.ID {
				t.Fatalf("contractor lists %v", ks)
			}
			_, err := f.s.GetCabinet(ctx, con, f.a.cab1.ID)
			wantCode(t, err, keycab.ENOTFOUND)
			// A job that starts tomorrow gives nothing today.
			now := time.Now()
			must[keycab.Job](t)(f.s.CreateJob(ctx, f.a.as(f.a.owner), keycab.Job{MemberID: f.a.contractor.ID, KeySetIDs: []string{f.a.ks2.ID},
				From: now.Add(24 * time.Hour), Until: now.Add(25 * time.Hour)}))
			wantCode(t, f.s.CheckTake(ctx, con, f.a.ks2.ID), keycab.ENOTFOUND)
			_, err = f.s.GetKeySet(ctx, con, f.a.ks2.ID)
			wantCode(t, err, keycab.ENOTFOUND)
		}},
		{"contractor: a deleted job revokes at once", func(t *testing.T, f *fixture) {
			con := f.a.as(f.a.contractor)
			MustNoErr(t, f.s.CheckTake(ctx, con, f.a.ks1.ID))
			MustNoErr(t, f.s.DeleteJob(ctx, f.a.as(f.a.owner), f.a.job.ID))
			wantCode(t, f.s.CheckTake(ctx, con, f.a.ks1.ID), keycab.ENOTFOUND)
			if ks := must[[]keycab.KeySet](t)(f.s.ListKeySets(ctx, con, "")); len(ks) != 0 {
				t.Fatalf("contractor still lists %v", ks)
			}
		}},
		{"contractor and staff: writes and other people refused", func(t *testing.T, f *fixture) {
			for _, m := range []keycab.Member{f.a.staff, f.a.contractor} {
				sc := f.a.as(m)
				_, err := f.s.CreateKeySet(ctx, sc, keycab.KeySet{SiteID: f.a.site1.ID, Label: "x"})
				wantCode(t, err, keycab.EFORBIDDEN)
				_, err = f.s.GetMember(ctx, sc, f.a.owner.ID)
				wantCode(t, err, keycab.ENOTFOUND)
				_, err = f.s.ListAdminLog(ctx, sc, 0)
				wantCode(t, err, keycab.EFORBIDDEN)
				must[keycab.Member](t)(f.s.GetMember(ctx, sc, m.ID))
			}
			wantCode(t, f.s.CheckTake(ctx, f.a.as(f.a.staff), f.a.ks2.ID), keycab.ENOTFOUND) // staff scoped to site 1
			MustNoErr(t, f.s.CheckTake(ctx, f.a.as(f.a.staff), f.a.ks1.ID))
		}},
		// Auditors are read-only.
		{"auditor: every mutating method refused", func(t *testing.T, f *fixture) {
			aud := f.a.as(f.a.auditor)
			now := time.Now()
			writes := map[string]func() error{
				"RenameOrg":  func() error { return f.s.RenameOrg(ctx, aud, "x") },
				"CreateSite": func() error { _, err := f.s.CreateSite(ctx, aud, store.Site{Site: keycab.Site{Name: "x"}}); return err },
				"UpdateSite": func() error { return f.s.UpdateSite(ctx, aud, keycab.Site{ID: f.a.site1.ID, Name: "x"}) },
				"SetNotes":   func() error { return f.s.SetSiteNotes(ctx, aud, f.a.site1.ID, "x") },
				"DeleteSite": func() error { return f.s.DeleteSite(ctx, aud, f.a.site2.ID) },
				"CreateCab": func() error {
					_, err := f.s.CreateCabinet(ctx, aud, keycab.Cabinet{SiteID: f.a.site1.ID, Name: "x", Kind: keycab.Slotted})
					return err
				},
				"UpdateCab": func() error {
					return f.s.UpdateCabinet(ctx, aud, keycab.Cabinet{ID: f.a.cab1.ID, Name: "x", Kind: keycab.Slotted})
				},
				"DeleteCab":  func() error { return f.s.DeleteCabinet(ctx, aud, f.a.cab2.ID) },
				"SetSlot":    func() error { return f.s.SetSlot(ctx, aud, keycab.Slot{CabinetID: f.a.cab1.ID, Number: 1}) },
				"DeleteSlot": func() error { return f.s.DeleteSlot(ctx, aud, f.a.cab1.ID, 1) },
				"CreateKS": func() error {
					_, err := f.s.CreateKeySet(ctx, aud, keycab.KeySet{SiteID: f.a.site1.ID, Label: "x"})
					return err
				},
				"UpdateKS":    func() error { return f.s.UpdateKeySet(ctx, aud, keycab.KeySet{ID: f.a.ks1.ID, Label: "x"}) },
				"DeleteKS":    func() error { return f.s.DeleteKeySet(ctx, aud, f.a.ks2.ID) },
				"IssueToken":  func() error { _, _, err := f.s.IssueToken(ctx, aud, f.a.ks1.ID); return err },
				"RotateToken": func() error { _, _, err := f.s.RotateToken(ctx, aud, f.a.ks1.ID); return err },
				"RevokeToken": func() error { return f.s.RevokeTokens(ctx, aud, f.a.ks1.ID) },
				"CreateMem": func() error {
					_, err := f.s.CreateMember(ctx, aud, keycab.Member{Role: keycab.RoleContractor})
					return err
				},
				"SetRole":     func() error { return f.s.SetMemberRole(ctx, aud, f.a.staff.ID, keycab.RoleContractor) },
				"SetSites":    func() error { return f.s.SetMemberSites(ctx, aud, f.a.staff.ID, nil) },
				"RemoveMem":   func() error { return f.s.RemoveMember(ctx, aud, f.a.staff.ID) },
				"SetPIN":      func() error { return f.s.SetPINHash(ctx, aud, f.a.staff.ID, "x") },
				"AddBadge":    func() error { _, err := f.s.AddBadge(ctx, aud, f.a.staff.ID, keycab.BadgeRFID, "1"); return err },
				"RevokeBadge": func() error { return f.s.RevokeBadge(ctx, aud, f.a.staff.ID, []byte("x")) },
				"CreateJob": func() error {
					_, err := f.s.CreateJob(ctx, aud, keycab.Job{MemberID: f.a.contractor.ID, KeySetIDs: []string{f.a.ks1.ID}, From: now, Until: now.Add(time.Hour)})
					return err
				},
				"DeleteJob": func() error { return f.s.DeleteJob(ctx, aud, f.a.job.ID) },
				"Reserve": func() error {
					_, err := f.s.CreateReservation(ctx, aud, keycab.Reservation{KeySetID: f.a.ks1.ID, MemberID: f.a.staff.ID, From: now, Until: now.Add(time.Hour)})
					return err
				},
				"DeleteRes":   func() error { return f.s.DeleteReservation(ctx, aud, "res_x") },
				"CreateKiosk": func() error { _, err := f.s.CreateKiosk(ctx, aud, store.Kiosk{CabinetID: f.a.cab1.ID}); return err },
				"RevokeKiosk": func() error { return f.s.RevokeKiosk(ctx, aud, f.a.kiosk1.ID) },
				"Record":      func() error { return f.s.RecordEvents(ctx, aud, nil) },
				"ClearAlarm":  func() error { return f.s.ClearAlarm(ctx, aud, "alarm_x", "x") },
				"CheckTake":   func() error { return f.s.CheckTake(ctx, aud, f.a.ks1.ID) },
				"DeleteOrg":   func() error { _, err := f.s.ScheduleOrgDeletion(ctx, aud, f.a.org.Name, 0); return err },
				"RestoreOrg":  func() error { return f.s.RestoreOrg(ctx, aud) },
			}
			before := len(must[[]store.AdminAction](t)(f.s.ListAdminLog(ctx, aud, 1000)))
			for name, w := range writes {
				if err := w(); keycab.ErrorCode(err) != keycab.EFORBIDDEN {
					t.Errorf("%s by an auditor: %v, want forbidden", name, err)
				}
			}
			if after := len(must[[]store.AdminAction](t)(f.s.ListAdminLog(ctx, aud, 1000))); after != before {
				t.Fatalf("refused writes logged %d admin actions", after-before)
			}
			// Reads work.
			if n := len(must[[]store.Site](t)(f.s.ListSites(ctx, aud))); n != 2 {
				t.Fatalf("auditor lists %d sites", n)
			}
			must[[]store.Event](t)(f.s.ListEvents(ctx, aud, store.EventFilter{}))
		}},
		// Kiosks: own cabinet only, no dashboard data.
		{"kiosk: own cabinet only", func(t *testing.T, f *fixture) {
			k := f.a.kiosk()
			must[keycab.Cabinet](t)(f.s.GetCabinet(ctx, k, f.a.cab1.ID))
			must[[]keycab.Slot](t)(f.s.ListSlots(ctx, k, f.a.cab1.ID))
			_, err := f.s.GetCabinet(ctx, k, f.a.cab2.ID)
			wantCode(t, err, keycab.ENOTFOUND)
			_, err = f.s.ListSlots(ctx, k, f.a.cab2.ID)
			wantCode(t, err, keycab.ENOTFOUND)
			_, err = f.s.GetCabinet(ctx, k, f.b.cab1.ID)
			wantCode(t, err, keycab.ENOTFOUND)
			_, err = f.s.GetKeySet(ctx, k, f.a.ks2.ID)
			wantCode(t, err, keycab.ENOTFOUND)
			cfg := must[keycab.Config](t)(f.s.KioskConfig(ctx, k))
			if cfg.Cabinet.ID != f.a.cab1.ID || cfg.Site.ID != f.a.site1.ID || len(cfg.KeySets) != 1 || cfg.KeySets[0].ID != f.a.ks1.ID {
				t.Fatalf("kiosk config: cabinet %s site %s key sets %v", cfg.Cabinet.ID, cfg.Site.ID, cfg.KeySets)
			}
			for _, m := range cfg.Members {
				if m.OrgID != f.a.org.ID || !m.AtSite(f.a.site1.ID) {
					t.Fatalf("kiosk config holds member %v", m)
				}
			}
		}},
		{"kiosk: no dashboard data and no other kiosk's log", func(t *testing.T, f *fixture) {
			k := f.a.kiosk()
			for name, read := range map[string]func() error{
				"members":   func() error { _, err := f.s.ListMembers(ctx, k); return err },
				"member":    func() error { _, err := f.s.GetMember(ctx, k, f.a.owner.ID); return err },
				"events":    func() error { _, err := f.s.ListEvents(ctx, k, store.EventFilter{}); return err },
				"custody":   func() error { _, err := f.s.ListCustody(ctx, k); return err },
				"alarms":    func() error { _, err := f.s.ListAlarms(ctx, k, false); return err },
				"kiosks":    func() error { _, err := f.s.ListKiosks(ctx, k); return err },
				"admin log": func() error { _, err := f.s.ListAdminLog(ctx, k, 0); return err },
				"cabinets":  func() error { _, err := f.s.ListCabinets(ctx, k, ""); return err },
				"jobs":      func() error { _, err := f.s.ListJobs(ctx, k, ""); return err },
				"write":     func() error { return f.s.RenameOrg(ctx, k, "x") },
			} {
				if err := read(); keycab.ErrorCode(err) != keycab.EFORBIDDEN {
					t.Errorf("kiosk reads %s: %v, want forbidden", name, err)
				}
			}
			err := f.s.RecordEvents(ctx, k, []store.Event{{KioskID: f.b.kiosk1.ID, LogIndex: 0, Kind: keycab.EventBoot, At: time.Now()}})
			wantCode(t, err, keycab.ENOTFOUND)
			err = f.s.RecordEvents(ctx, k, []store.Event{{CabinetID: f.a.cab2.ID, LogIndex: 0, Kind: keycab.EventBoot, At: time.Now()}})
			wantCode(t, err, keycab.ENOTFOUND)
			_, err = f.s.KioskConfig(ctx, f.a.as(f.a.owner))
			wantCode(t, err, keycab.EFORBIDDEN)
		}},
		{"kiosk: revoked kiosk is refused at once", func(t *testing.T, f *fixture) {
			MustNoErr(t, f.s.RevokeKiosk(ctx, f.a.as(f.a.owner), f.a.kiosk1.ID))
			_, err := f.s.KioskConfig(ctx, f.a.kiosk())
			wantCode(t, err, keycab.EUNAUTHORIZED)
		}},
		{"kiosk: resend is a no-op, other bytes at an index are equivocation", func(t *testing.T, f *fixture) {
			at := time.Now().Truncate(time.Microsecond)
			ev := []store.Event{{LogIndex: 0, Kind: keycab.EventBoot, At: at}, {LogIndex: 1, Kind: keycab.EventKeyTaken, ActorID: f.a.staff.ID, KeySetID: f.a.ks1.ID, At: at}}
			MustNoErr(t, f.s.RecordEvents(ctx, f.a.kiosk(), ev))
			MustNoErr(t, f.s.RecordEvents(ctx, f.a.kiosk(), ev))
			ev[1].ActorID = f.a.owner.ID
			wantCode(t, f.s.RecordEvents(ctx, f.a.kiosk(), ev[1:]), keycab.ECONFLICT)
			if n := len(must[[]store.Event](t)(f.s.ListEvents(ctx, f.a.as(f.a.owner), store.EventFilter{}))); n != 2 {
				t.Fatalf("%d events stored, want 2", n)
			}
			h := must[[]store.Holding](t)(f.s.ListCustody(ctx, f.a.as(f.a.owner)))
			if len(h) != 1 || h[0].MemberID != f.a.staff.ID {
				t.Fatalf("custody %v", h)
			}
		}},
		// Caps under concurrent creation.
		{"caps: racing site creation stops at the cap", func(t *testing.T, f *fixture) {
			c := raceCap(t, f, keycab.Caps{Sites: 4, KeySets: 1, Cabinets: 1, Members: 1}, func(sc store.Scope, i int) error {
				_, err := f.s.CreateSite(ctx, sc, store.Site{Site: keycab.Site{Name: fmt.Sprint("s", i)}})
				return err
			})
			if c != 4 {
				t.Fatalf("%d sites created, want 4", c)
			}
		}},
		{"caps: racing key sets, cabinets and members stop at their caps", func(t *testing.T, f *fixture) {
			caps := keycab.Caps{Sites: 1, KeySets: 3, Cabinets: 2, Members: 5}
			var site string
			setup := func(sc store.Scope) {
				site = must[store.Site](t)(f.s.CreateSite(ctx, sc, store.Site{Site: keycab.Site{Name: "only"}})).ID
			}
			if n := raceCapSetup(t, f, caps, setup, func(sc store.Scope, i int) error {
				_, err := f.s.CreateKeySet(ctx, sc, keycab.KeySet{SiteID: site, Label: fmt.Sprint("k", i)})
				return err
			}); n != 3 {
				t.Fatalf("%d key sets created, want 3", n)
			}
			if n := raceCapSetup(t, f, caps, setup, func(sc store.Scope, i int) error {
				_, err := f.s.CreateCabinet(ctx, sc, keycab.Cabinet{SiteID: site, Name: fmt.Sprint("c", i), Kind: keycab.Slotted})
				return err
			}); n != 2 {
				t.Fatalf("%d cabinets created, want 2", n)
			}
			if n := raceCapSetup(t, f, caps, setup, func(sc store.Scope, i int) error {
				_, err := f.s.CreateMember(ctx, sc, keycab.Member{Email: fmt.Sprintf("m%d@c.test", i), Role: keycab.RoleStaff})
				return err
			}); n != 4 { // the owner is the fifth
				t.Fatalf("%d members created, want 4", n)
			}
		}},
		// Reservations.
		{"reservations: no overlaps, adjacent windows fine", func(t *testing.T, f *fixture) {
			own := f.a.as(f.a.owner)
			t0 := time.Now().Truncate(time.Second).Add(time.Hour)
			res := func(from, until time.Time) error {
				_, err := f.s.CreateReservation(ctx, own, keycab.Reservation{KeySetID: f.a.ks1.ID, MemberID: f.a.staff.ID, From: from, Until: until})
				return err
			}
			MustNoErr(t, res(t0, t0.Add(time.Hour)))
			wantCode(t, res(t0.Add(30*time.Minute), t0.Add(90*time.Minute)), keycab.ECONFLICT)
			wantCode(t, res(t0.Add(-time.Minute), t0.Add(2*time.Hour)), keycab.ECONFLICT)
			MustNoErr(t, res(t0.Add(time.Hour), t0.Add(2*time.Hour)))
			MustNoErr(t, res(t0.Add(-time.Hour), t0))
			wantCode(t, res(t0, t0), keycab.EINVALID)
			// Another key set's window may overlap.
			_, err := f.s.CreateReservation(ctx, own, keycab.Reservation{KeySetID: f.a.ks2.ID, MemberID: f.a.owner.ID, From: t0, Until: t0.Add(time.Hour)})
			MustNoErr(t, err)
		}},
		{"reservations: racing overlaps, exactly one wins", func(t *testing.T, f *fixture) {
			own := f.a.as(f.a.owner)
			t0 := time.Now().Add(time.Hour)
			errs := race(8, func(i int) error {
				from := t0.Add(time.Duration(i) * time.Minute)
				_, err := f.s.CreateReservation(ctx, own, keycab.Reservation{KeySetID: f.a.ks1.ID, MemberID: f.a.staff.ID, From: from, Until: from.Add(time.Hour)})
				return err
			})
			ok := 0
			for _, err := range errs {
				if err == nil {
					ok++
				} else if c := keycab.ErrorCode(err); c != keycab.ECONFLICT {
					t.Errorf("racing reservation: %v", err)
				}
			}
			if ok != 1 {
				t.Fatalf("%d overlapping reservations created, want 1", ok)
			}
		}},
		{"reservations: someone else's reservation blocks a take", func(t *testing.T, f *fixture) {
			now := time.Now()
			staff2 := must[keycab.Member](t)(f.s.CreateMember(ctx, f.a.as(f.a.owner), keycab.Member{Email: "s2@a.test", Role: keycab.RoleStaff, SiteIDs: []string{f.a.site1.ID}}))
			must[keycab.Reservation](t)(f.s.CreateReservation(ctx, f.a.as(f.a.staff), keycab.Reservation{KeySetID: f.a.ks1.ID, From: now.Add(-time.Minute), Until: now.Add(time.Hour)}))
			MustNoErr(t, f.s.CheckTake(ctx, f.a.as(f.a.staff), f.a.ks1.ID))
			wantCode(t, f.s.CheckTake(ctx, f.a.as(staff2), f.a.ks1.ID), keycab.ECONFLICT)
			_, err := f.s.CreateReservation(ctx, f.a.as(staff2), keycab.Reservation{KeySetID: f.a.ks1.ID, MemberID: f.a.staff.ID, From: now.Add(2 * time.Hour), Until: now.Add(3 * time.Hour)})
			wantCode(t, err, keycab.ENOTFOUND) // staff reserve for themselves only, and see no one else
		}},
		// The admin-action log.
		{"admin log: every change writes one entry, in A's log only", func(t *testing.T, f *fixture) {
			own := f.a.as(f.a.owner)
			count := func(tn tenant) int {
				return len(must[[]store.AdminAction](t)(f.s.ListAdminLog(ctx, tn.as(tn.owner), 1000)))
			}
			a0, b0 := count(f.a), count(f.b)
			MustNoErr(t, f.s.RenameOrg(ctx, own, "A renamed"))
			MustNoErr(t, f.s.SetSlot(ctx, own, keycab.Slot{CabinetID: f.a.cab1.ID, Number: 2}))
			_, _, err := f.s.IssueToken(ctx, own, f.a.ks1.ID)
			MustNoErr(t, err)
			MustNoErr(t, f.s.SetPINHash(ctx, f.a.as(f.a.staff), f.a.staff.ID, "$argon2id$x"))
			if a, b := count(f.a), count(f.b); a != a0+4 || b != b0 {
				t.Fatalf("A's log grew by %d (want 4), B's by %d (want 0)", a-a0, b-b0)
			}
			log := must[[]store.AdminAction](t)(f.s.ListAdminLog(ctx, own, 1))
			if log[0].Action != "member.pin" || log[0].ActorID != f.a.staff.ID || log[0].OrgID != f.a.org.ID {
				t.Fatalf("newest entry %+v", log[0])
			}
		}},
		{"admin log: append-only in the database", func(t *testing.T, f *fixture) {
			MustNoErr(t, f.s.RecordEvents(ctx, f.a.kiosk(), []store.Event{{LogIndex: 0, Kind: keycab.EventBoot, At: time.Now()}}))
			db := openRaw(t, f.owner, f.a.org.ID)
			for _, q := range []string{"UPDATE admin_log SET action = 'x'", "DELETE FROM admin_log", "UPDATE events SET kind = 'x'", "DELETE FROM events"} {
				if _, err := db.ExecContext(ctx, q); err == nil || !strings.Contains(err.Error(), "append-only") {
					t.Errorf("%s as the schema owner: %v, want append-only", q, err)
				}
			}
			if len(must[[]store.AdminAction](t)(f.s.ListAdminLog(ctx, f.a.as(f.a.owner), 1000))) == 0 {
				t.Fatal("admin log emptied")
			}
		}},
		// Property notes.
		{"notes: decrypted for owners and admins only", func(t *testing.T, f *fixture) {
			for _, m := range []keycab.Member{f.a.owner, f.a.admin} {
				s := must[store.Site](t)(f.s.GetSite(ctx, f.a.as(m), f.a.site1.ID))
				if s.Notes != "alarm code 1234 at A" || s.NotesRedacted {
					t.Fatalf("%s reads notes %q", m.Role, s.Notes)
				}
			}
			for _, sc := range []store.Scope{f.a.as(f.a.manager), f.a.as(f.a.auditor), f.a.as(f.a.staff), f.a.kiosk()} {
				s := must[store.Site](t)(f.s.GetSite(ctx, sc, f.a.site1.ID))
				if s.Notes != "" || !s.NotesRedacted {
					t.Fatalf("notes shown: %q", s.Notes)
				}
			}
			for _, s := range must[[]store.Site](t)(f.s.ListSites(ctx, f.a.as(f.a.auditor))) {
				if s.Notes != "" || !s.NotesRedacted {
					t.Fatalf("auditor lists notes %q", s.Notes)
				}
			}
		}},
		{"notes: shown to staff and contractors only while they hold a key of the site", func(t *testing.T, f *fixture) {
			at := time.Now()
			notes := func(m keycab.Member, site string) string {
				return must[store.Site](t)(f.s.GetSite(ctx, f.a.as(m), site)).Notes
			}
			MustNoErr(t, f.s.RecordEvents(ctx, f.a.kiosk(), []store.Event{{LogIndex: 0, Kind: keycab.EventKeyTaken, ActorID: f.a.staff.ID, KeySetID: f.a.ks1.ID, At: at}}))
			if got := notes(f.a.staff, f.a.site1.ID); got != "alarm code 1234 at A" {
				t.Fatalf("holding staff reads %q", got)
			}
			if s := must[store.Site](t)(f.s.GetSite(ctx, f.a.as(f.a.manager), f.a.site1.ID)); s.Notes != "" {
				t.Fatal("site manager reads notes")
			}
			MustNoErr(t, f.s.RecordEvents(ctx, f.a.kiosk(), []store.Event{{LogIndex: 1, Kind: keycab.EventKeyReturned, ActorID: f.a.staff.ID, KeySetID: f.a.ks1.ID, At: at}}))
			if got := notes(f.a.staff, f.a.site1.ID); got != "" {
				t.Fatalf("staff reads %q after returning the key", got)
			}
			MustNoErr(t, f.s.RecordEvents(ctx, f.a.kiosk(), []store.Event{{LogIndex: 2, Kind: keycab.EventKeyTaken, ActorID: f.a.contractor.ID, KeySetID: f.a.ks1.ID, At: at}}))
			if got := notes(f.a.contractor, f.a.site1.ID); got != "alarm code 1234 at A" {
				t.Fatalf("holding contractor reads %q", got)
			}
			if got := notes(f.a.staff, f.a.site1.ID); got != "" {
				t.Fatalf("staff reads %q while another holds the key", got)
			}
		}},
		{"notes: sealed in the database, bound to their row", func(t *testing.T, f *fixture) {
			db := openRaw(t, f.owner, f.a.org.ID)
			var sealed []byte
			MustNoErr(t, db.QueryRowContext(ctx, "SELECT notes FROM sites WHERE org_id = $1 AND id = $2", f.a.org.ID, f.a.site1.ID).Scan(&sealed))
			if len(sealed) == 0 || strings.Contains(string(sealed), "1234") {
				t.Fatalf("notes stored as %q", sealed)
			}
			// Copy the sealed notes onto site 2: they must not open there.
			if _, err := db.ExecContext(ctx, "UPDATE sites SET notes = $1 WHERE org_id = $2 AND id = $3", sealed, f.a.org.ID, f.a.site2.ID); err != nil {
				t.Fatal(err)
			}
			_, err := f.s.GetSite(ctx, f.a.as(f.a.owner), f.a.site2.ID)
			if err == nil {
				t.Fatal("notes sealed for site 1 opened as site 2's")
			}
		}},
		{"notes: a store without the key cannot read or write notes", func(t *testing.T, f *fixture) {
			s, err := store.Open(ctx, f.appDSN, store.Options{})
			MustNoErr(t, err)
			defer s.Close()
			site := must[store.Site](t)(s.GetSite(ctx, f.a.as(f.a.owner), f.a.site1.ID))
			if site.Notes != "" || !site.NotesRedacted {
				t.Fatalf("keyless store reads %q", site.Notes)
			}
			wantCode(t, s.SetSiteNotes(ctx, f.a.as(f.a.owner), f.a.site1.ID, "x"), keycab.EINVALID)
		}},
		{"tokens: issue, rotate, revoke; only the hash is kept", func(t *testing.T, f *fixture) {
			own := f.a.as(f.a.owner)
			t1, tok1, err := f.s.IssueToken(ctx, own, f.a.ks1.ID)
			MustNoErr(t, err)
			if string(tok1.Hash) != string(keycab.TokenHash(t1)) {
				t.Fatal("stored hash is not TokenHash of the text")
			}
			_, _, err = f.s.IssueToken(ctx, own, f.a.ks1.ID)
			wantCode(t, err, keycab.ECONFLICT)
			if k := must[keycab.KeySet](t)(f.s.LookupToken(ctx, f.a.kiosk(), t1)); k.ID != f.a.ks1.ID {
				t.Fatalf("token names %s", k.ID)
			}
			t2, _, err := f.s.RotateToken(ctx, own, f.a.ks1.ID)
			MustNoErr(t, err)
			_, err = f.s.LookupToken(ctx, f.a.kiosk(), t1)
			wantCode(t, err, keycab.ENOTFOUND)
			must[keycab.KeySet](t)(f.s.LookupToken(ctx, f.a.kiosk(), t2))
			MustNoErr(t, f.s.RevokeTokens(ctx, own, f.a.ks1.ID))
			_, err = f.s.LookupToken(ctx, f.a.kiosk(), t2)
			wantCode(t, err, keycab.ENOTFOUND)
			db := openRaw(t, f.owner, f.a.org.ID)
			var n int
			MustNoErr(t, db.QueryRowContext(ctx, "SELECT count(*) FROM qr_tokens WHERE org_id = $1 AND (hash = $2 OR hash = $3)", f.a.org.ID, []byte(t1), []byte(t2)).Scan(&n))
			if n != 0 {
				t.Fatal("token text stored")
			}
		}},
		{"sessions: removing a member revokes its sessions in the same transaction", func(t *testing.T, f *fixture) {
			acct := must[store.Account](t)(f.s.Accounts().CreateAccount(ctx, store.Account{Email: "staff@a.test"}))
			MustNoErr(t, f.s.Accounts().LinkMember(ctx, acct.ID, f.a.org.ID, f.a.staff.ID))
			other := must[store.Account](t)(f.s.Accounts().CreateAccount(ctx, store.Account{Email: "admin@a.test"}))
			MustNoErr(t, f.s.Accounts().LinkMember(ctx, other.ID, f.a.org.ID, f.a.admin.ID))
			session := func(a store.Account, m keycab.Member, n string) store.Session {
				return must[store.Session](t)(f.s.Accounts().CreateSession(ctx, store.Session{AccountID: a.ID, OrgID: f.a.org.ID, MemberID: m.ID,
					AccessHash: []byte("access " + n), RefreshHash: []byte("refresh " + n), ExpiresAt: time.Now().Add(time.Hour)}))
			}
			session(acct, f.a.staff, "1")
			session(other, f.a.admin, "2")
			live := func(store.Session) error { return nil }
			must[store.Session](t)(f.s.Accounts().SessionByAccess(ctx, []byte("access 1")))
			MustNoErr(t, f.s.RemoveMember(ctx, f.a.as(f.a.owner), f.a.staff.ID))
			_, err := f.s.Accounts().SessionByAccess(ctx, []byte("access 1"))
			wantCode(t, err, keycab.EUNAUTHORIZED)
			_, err = f.s.Accounts().RotateSession(ctx, []byte("refresh 1"), store.Session{AccessHash: []byte("a3"), RefreshHash: []byte("r3")}, live)
			wantCode(t, err, keycab.EUNAUTHORIZED)
			db := openRaw(t, f.appDSN, f.a.org.ID)
			var open int
			MustNoErr(t, db.QueryRowContext(ctx, "SELECT count(*) FROM sessions WHERE org_id = $1 AND member_id = $2 AND revoked_us = 0", f.a.org.ID, f.a.staff.ID).Scan(&open))
			if open != 0 {
				t.Fatalf("%d sessions of the removed member are not revoked", open)
			}
			// Another member's session is untouched.
			must[store.Session](t)(f.s.Accounts().SessionByAccess(ctx, []byte("access 2")))
			must[store.Session](t)(f.s.Accounts().RotateSession(ctx, []byte("refresh 2"), store.Session{AccessHash: []byte("a4"), RefreshHash: []byte("r4")}, live))
		}},
		{"invitations: only the inviter's own organisation's sites, within their scope", func(t *testing.T, f *fixture) {
			inv := func(sc store.Scope, role keycab.Role, sites ...string) error {
				_, err := f.s.Accounts().CreateInvite(ctx, sc, store.AuthToken{Hash: []byte("h" + fmt.Sprint(sites, role)), Email: "new@a.test",
					Role: role, SiteIDs: sites, ExpiresAt: time.Now().Add(time.Hour)})
				return err
			}
			mgr, own := f.a.as(f.a.manager), f.a.as(f.a.owner)
			wantCode(t, inv(mgr, keycab.RoleStaff, f.a.site2.ID), keycab.ENOTFOUND)
			wantCode(t, inv(mgr, keycab.RoleStaff, f.a.site1.ID, f.a.site2.ID), keycab.ENOTFOUND)
			wantCode(t, inv(mgr, keycab.RoleStaff), keycab.EFORBIDDEN)
			wantCode(t, inv(mgr, keycab.RoleAdmin, f.a.site1.ID), keycab.EFORBIDDEN)
			wantCode(t, inv(mgr, keycab.RoleStaff, f.b.site1.ID), keycab.ENOTFOUND)
			wantCode(t, inv(own, keycab.RoleStaff, f.b.site1.ID), keycab.ENOTFOUND)
			wantCode(t, inv(own, keycab.RoleStaff, "site_nonesuch"), keycab.ENOTFOUND)
			wantCode(t, inv(f.a.as(f.a.auditor), keycab.RoleStaff, f.a.site1.ID), keycab.EFORBIDDEN)
			wantCode(t, inv(f.a.kiosk(), keycab.RoleStaff, f.a.site1.ID), keycab.EFORBIDDEN)
			if is := must[[]store.AuthToken](t)(f.s.Accounts().ListInvites(ctx, own)); len(is) != 0 {
				t.Fatalf("refused invitations were stored: %v", is)
			}
			MustNoErr(t, inv(mgr, keycab.RoleContractor, f.a.site1.ID))
			MustNoErr(t, inv(own, keycab.RoleSiteManager, f.a.site1.ID, f.a.site2.ID))
			is := must[[]store.AuthToken](t)(f.s.Accounts().ListInvites(ctx, own))
			if len(is) != 2 || is[0].OrgID != f.a.org.ID {
				t.Fatalf("invitations %v", is)
			}
			if is := must[[]store.AuthToken](t)(f.s.Accounts().ListInvites(ctx, f.b.as(f.b.owner))); len(is) != 0 {
				t.Fatalf("B lists A's invitations: %v", is)
			}
		}},
		{"mfa reset: owners and admins of the member's own organisation only, never an owner by an admin", func(t *testing.T, f *fixture) {
			// Accounts with MFA for A's staff, admin and owner, and B's staff.
			withMFA := func(tn tenant, m keycab.Member) store.Account { return mustMFAAccount(t, f, tn, m) }
			staff, admin, owner := withMFA(f.a, f.a.staff), withMFA(f.a, f.a.admin), withMFA(f.a, f.a.owner)
			bStaff := withMFA(f.b, f.b.staff)
			mfaOn := func(a store.Account) bool { return must[store.Account](t)(f.s.Accounts().GetAccount(ctx, a.ID)).MFA }
			// Another organisation's member answers as a missing one.
			sameMiss(t, "member", func(id string) error { return f.s.Accounts().ResetMemberMFA(ctx, f.a.as(f.a.owner), id) }, f.b.staff.ID)
			sameMiss(t, "member", func(id string) error { return f.s.Accounts().ResetMemberMFA(ctx, f.b.as(f.b.owner), id) }, f.a.staff.ID)
			// Roles below admin, and kiosks, may not; an admin may not reset an owner's; nobody their own.
			for _, sc := range []store.Scope{f.a.as(f.a.staff), f.a.as(f.a.manager), f.a.as(f.a.auditor), f.a.as(f.a.contractor), f.a.kiosk()} {
				wantCode(t, f.s.Accounts().ResetMemberMFA(ctx, sc, f.a.admin.ID), keycab.EFORBIDDEN)
			}
			wantCode(t, f.s.Accounts().ResetMemberMFA(ctx, f.a.as(f.a.admin), f.a.owner.ID), keycab.EFORBIDDEN)
			wantCode(t, f.s.Accounts().ResetMemberMFA(ctx, f.a.as(f.a.admin), f.a.admin.ID), keycab.EFORBIDDEN)
			if !mfaOn(staff) || !mfaOn(admin) || !mfaOn(owner) || !mfaOn(bStaff) {
				t.Fatal("a refused reset turned MFA off")
			}
			// A member without an account: nothing to reset.
			wantCode(t, f.s.Accounts().ResetMemberMFA(ctx, f.a.as(f.a.owner), f.a.manager.ID), keycab.ENOTFOUND)
			// An admin resets staff, an owner resets an admin.
			MustNoErr(t, f.s.Accounts().ResetMemberMFA(ctx, f.a.as(f.a.admin), f.a.staff.ID))
			MustNoErr(t, f.s.Accounts().ResetMemberMFA(ctx, f.a.as(f.a.owner), f.a.admin.ID))
			if mfaOn(staff) || mfaOn(admin) || !mfaOn(owner) || !mfaOn(bStaff) {
				t.Fatal("reset the wrong accounts' MFA")
			}
			wantCode(t, f.s.Accounts().UseRecoveryCode(ctx, staff.ID, []byte("code "+f.a.staff.ID)), keycab.EUNAUTHORIZED) // codes gone too
			wantCode(t, f.s.Accounts().ResetMemberMFA(ctx, f.a.as(f.a.owner), f.a.staff.ID), keycab.ECONFLICT)             // nothing left to reset
			// In A's admin log with before and after; nothing in B's.
			log := must[[]store.AdminAction](t)(f.s.ListAdminLog(ctx, f.a.as(f.a.owner), 50))
			var resets []store.AdminAction
			for _, x := range log {
				if x.Action == "member.mfa_reset" {
					resets = append(resets, x)
				}
			}
			if len(resets) != 2 || resets[1].Target != f.a.staff.ID || resets[1].ActorID != f.a.admin.ID ||
				resets[1].Detail != `{"before":{"mfa":true},"after":{"mfa":false}}` {
				t.Fatalf("admin log %+v", resets)
			}
			for _, x := range must[[]store.AdminAction](t)(f.s.ListAdminLog(ctx, f.b.as(f.b.owner), 50)) {
				if x.Action == "member.mfa_reset" {
					t.Fatalf("B's log has A's reset: %+v", x)
				}
			}
			// An account that is also a member of B: A's owner may not
			// strip the MFA that guards B too.
			MustNoErr(t, f.s.Accounts().LinkMember(ctx, bStaff.ID, f.a.org.ID, f.a.contractor.ID))
			wantCode(t, f.s.Accounts().ResetMemberMFA(ctx, f.a.as(f.a.owner), f.a.contractor.ID), keycab.EFORBIDDEN)
			if !mfaOn(bStaff) {
				t.Fatal("a refused reset turned MFA off")
			}
		}},
		{"mfa rule: set by owners and admins of their own organisation only, in its admin log", func(t *testing.T, f *fixture) {
			for _, sc := range []store.Scope{f.a.as(f.a.staff), f.a.as(f.a.manager), f.a.as(f.a.auditor), f.a.kiosk()} {
				wantCode(t, f.s.Accounts().SetRequireMFA(ctx, sc, true), keycab.EFORBIDDEN)
			}
			wantCode(t, f.s.Accounts().SetRequireMFA(ctx, f.a.as(f.a.admin), true), keycab.EINVALID) // their own MFA first
			mustMFAAccount(t, f, f.a, f.a.admin)
			MustNoErr(t, f.s.Accounts().SetRequireMFA(ctx, f.a.as(f.a.admin), true))
			if !must[bool](t)(f.s.Accounts().RequireMFA(ctx, f.a.as(f.a.staff))) || must[bool](t)(f.s.Accounts().RequireMFA(ctx, f.b.as(f.b.owner))) {
				t.Fatal("the rule is not A's alone")
			}
			log := must[[]store.AdminAction](t)(f.s.ListAdminLog(ctx, f.a.as(f.a.owner), 1))
			if len(log) != 1 || log[0].Action != "org.require_mfa" || log[0].Detail != `{"before":{"require_mfa":false},"after":{"require_mfa":true}}` {
				t.Fatalf("admin log %+v", log)
			}
		}},
		{"sessions: an account lists and signs out its own sessions only", func(t *testing.T, f *fixture) {
			mine := must[store.Account](t)(f.s.Accounts().CreateAccount(ctx, store.Account{Email: "mine@x.test"}))
			theirs := must[store.Account](t)(f.s.Accounts().CreateAccount(ctx, store.Account{Email: "theirs@x.test"}))
			MustNoErr(t, f.s.Accounts().LinkMember(ctx, mine.ID, f.a.org.ID, f.a.staff.ID))
			MustNoErr(t, f.s.Accounts().LinkMember(ctx, mine.ID, f.b.org.ID, f.b.staff.ID))
			MustNoErr(t, f.s.Accounts().LinkMember(ctx, theirs.ID, f.a.org.ID, f.a.admin.ID))
			session := func(a store.Account, tn tenant, m keycab.Member, n string) store.Session {
				return must[store.Session](t)(f.s.Accounts().CreateSession(ctx, store.Session{AccountID: a.ID, OrgID: tn.org.ID, MemberID: m.ID,
					AccessHash: []byte("access " + n), RefreshHash: []byte("refresh " + n), ExpiresAt: time.Now().Add(time.Hour)}))
			}
			inA, inB := session(mine, f.a, f.a.staff, "1"), session(mine, f.b, f.b.staff, "2")
			other := session(theirs, f.a, f.a.admin, "3")
			// A refreshed login is listed once, as its current pair.
			live := func(store.Session) error { return nil }
			must[store.Session](t)(f.s.Accounts().RotateSession(ctx, []byte("refresh 1"), store.Session{AccessHash: []byte("access 1b"), RefreshHash: []byte("refresh 1b")}, live))
			list := must[[]store.Session](t)(f.s.Accounts().AccountSessions(ctx, mine.ID))
			if len(list) != 2 {
				t.Fatalf("sessions %+v", list)
			}
			fams := map[string]bool{}
			for _, ss := range list {
				fams[ss.FamilyID] = true
				if ss.AccountID != mine.ID || ss.AccessHash != nil || ss.RefreshHash != nil {
					t.Fatalf("listed %+v", ss)
				}
			}
			if !fams[inA.FamilyID] || !fams[inB.FamilyID] {
				t.Fatalf("families %v", fams)
			}
			// Another account's login answers as a missing one.
			sameMiss(t, "session", func(id string) error { return f.s.Accounts().RevokeAccountFamily(ctx, mine.ID, id) }, other.FamilyID)
			must[store.Session](t)(f.s.Accounts().SessionByAccess(ctx, []byte("access 3")))
			if ss := must[store.Session](t)(f.s.Accounts().SessionByAccess(ctx, []byte("access 3"))); !ss.RevokedAt.IsZero() {
				t.Fatal("another account's session was signed out")
			}
			// Signing out one login (in B) leaves the other.
			MustNoErr(t, f.s.Accounts().RevokeAccountFamily(ctx, mine.ID, inB.FamilyID))
			if ss := must[store.Session](t)(f.s.Accounts().SessionByAccess(ctx, []byte("access 2"))); ss.RevokedAt.IsZero() {
				t.Fatal("not signed out")
			}
			if ss := must[store.Session](t)(f.s.Accounts().SessionByAccess(ctx, []byte("access 1b"))); !ss.RevokedAt.IsZero() {
				t.Fatal("the other login was signed out")
			}
			if list := must[[]store.Session](t)(f.s.Accounts().AccountSessions(ctx, mine.ID)); len(list) != 1 || list[0].FamilyID != inA.FamilyID {
				t.Fatalf("sessions after sign-out %+v", list)
			}
			if list := must[[]store.Session](t)(f.s.Accounts().AccountSessions(ctx, theirs.ID)); len(list) != 1 || list[0].FamilyID != other.FamilyID {
				t.Fatalf("their sessions %+v", list)
			}
		}},
		{"badges: hashed with the org's salt, found by kiosks of the member's sites", func(t *testing.T, f *fixture) {
			b := must[keycab.Badge](t)(f.s.AddBadge(ctx, f.a.as(f.a.manager), f.a.staff.ID, keycab.BadgeRFID, "0012345678"))
			if strings.Contains(string(b.Hash), "0012345678") {
				t.Fatal("badge code stored")
			}
			if m := must[keycab.Member](t)(f.s.FindBadge(ctx, f.a.kiosk(), "0012345678")); m.ID != f.a.staff.ID {
				t.Fatalf("badge found %s", m.ID)
			}
			_, err := f.s.FindBadge(ctx, f.b.kiosk(), "0012345678")
			wantCode(t, err, keycab.ENOTFOUND)
			MustNoErr(t, f.s.RevokeBadge(ctx, f.a.as(f.a.admin), f.a.staff.ID, b.Hash))
			_, err = f.s.FindBadge(ctx, f.a.kiosk(), "0012345678")
			wantCode(t, err, keycab.ENOTFOUND)
			// The same code in B hashes differently.
			bb := must[keycab.Badge](t)(f.s.AddBadge(ctx, f.b.as(f.b.owner), f.b.staff.ID, keycab.BadgeRFID, "0012345678"))
			if string(bb.Hash) == string(b.Hash) {
				t.Fatal("two organisations share a badge salt")
			}
		}},
	}, slices.Concat(lifecycleContractCases(), importContractCases(), subjectContractCases(), orgDeletionContractCases())...)
}

// raceCap makes a fresh organisation with caps and races 12 creations
// in it; it returns how many succeeded, failing on any error but
// ECAPACITY.
func raceCap(t *testing.T, f *fixture, caps keycab.Caps, create func(store.Scope, int) error) int {
	return raceCapSetup(t, f, caps, func(store.Scope) {}, create)
}

func raceCapSetup(t *testing.T, f *fixture, caps keycab.Caps, setup func(store.Scope), create func(store.Scope, int) error) int {
	t.Helper()
	org, owner, err := f.s.CreateOrg(context.Background(), store.NewOrg{Name: "capped", Caps: caps, Owner: keycab.Member{Email: "o@c.test"}})
	MustNoErr(t, err)
	sc := store.MemberScope(org.ID, owner.ID)
	setup(sc)
	ok := 0
	for _, err := range race(12, func(i int) error { return create(sc, i) }) {
		switch keycab.ErrorCode(err) {
		case "":
			ok++
		case keycab.ECAPACITY:
		default:
			t.Errorf("racing creation: %v", err)
		}
	}
	return ok
}
