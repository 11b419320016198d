package store_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"keycab.dev/keycab"
	"keycab.dev/keycab/hq/store"
)

// TestGroups runs the group cases on both engines. Groups are the
// permission model: a key set in a key-set group is taken only by the
// member groups a rule lets, decided by keycab.DecideTake at HQ as at the
// kiosk. Most cases are attacks.
func TestGroups(t *testing.T) {
	ctx := context.Background()
	// plant makes, as A's owner, a key-set group at site 1 holding ks1, a
	// member group holding members, and a rule between them.
	plant := func(t *testing.T, f *fixture, members ...string) (mg, kg keycab.Group, rule keycab.AccessRule) {
		t.Helper()
		own := f.a.as(f.a.owner)
		kg = must[keycab.Group](t)(f.s.CreateGroup(ctx, own, keycab.Group{Kind: keycab.KeySetGroup, Name: "Plant rooms", SiteID: f.a.site1.ID}))
		MustNoErr(t, f.s.SetGroupEntries(ctx, own, kg.ID, []string{f.a.ks1.ID}))
		mg = must[keycab.Group](t)(f.s.CreateGroup(ctx, own, keycab.Group{Kind: keycab.MemberGroup, Name: "Engineers"}))
		MustNoErr(t, f.s.SetGroupEntries(ctx, own, mg.ID, members))
		rule = must[keycab.AccessRule](t)(f.s.CreateAccessRule(ctx, own, keycab.AccessRule{MemberGroupID: mg.ID, KeySetGroupID: kg.ID}))
		return mg, kg, rule
	}
	decide := func(t *testing.T, f *fixture, m keycab.Member, k keycab.KeySet) keycab.Decision {
		t.Helper()
		return must[keycab.Decision](t)(f.s.DecideTake(ctx, f.a.as(f.a.owner), m.ID, k.ID))
	}
	cases := []contractCase{
		{"a member outside the group is refused, one inside may take", func(t *testing.T, f *fixture) {
			if d := decide(t, f, f.a.staff, f.a.ks1); !d.Allowed {
				t.Fatalf("before any group: %+v", d)
			}
			plant(t, f, f.a.admin.ID)
			if d := decide(t, f, f.a.staff, f.a.ks1); d.Allowed || !strings.Contains(d.Reason, "groups do not give you") {
				t.Fatalf("staff outside the group: %+v", d)
			}
			if d := decide(t, f, f.a.admin, f.a.ks1); !d.Allowed {
				t.Fatalf("admin in the group: %+v", d)
			}
			if d := decide(t, f, f.a.staff, f.a.ks2); d.Allowed {
				t.Fatalf("staff of site 1 took site 2's key set: %+v", d)
			} else if strings.Contains(d.Reason, "groups") {
				t.Fatalf("site 2's key set is in no group, yet: %+v", d)
			}
		}},
		{"the bundle carries groups and rules; removing the rule refuses at once", func(t *testing.T, f *fixture) {
			mg, kg, rule := plant(t, f, f.a.staff.ID)
			cfg := must[keycab.Config](t)(f.s.KioskConfig(ctx, f.a.kiosk()))
			var staff *keycab.Member
			for i := range cfg.Members {
				if cfg.Members[i].ID == f.a.staff.ID {
					staff = &cfg.Members[i]
				}
			}
			if staff == nil || len(staff.Groups) != 1 || staff.Groups[0] != mg.ID || len(cfg.Rules) != 1 || cfg.Rules[0].ID != rule.ID {
				t.Fatalf("bundle: staff %+v rules %+v", staff, cfg.Rules)
			}
			for _, k := range cfg.KeySets {
				if k.ID == f.a.ks1.ID && (len(k.Groups) != 1 || k.Groups[0] != kg.ID) {
					t.Fatalf("bundle key set %+v", k)
				}
			}
			MustNoErr(t, f.s.DeleteAccessRule(ctx, f.a.as(f.a.manager), rule.ID))
			if cfg := must[keycab.Config](t)(f.s.KioskConfig(ctx, f.a.kiosk())); len(cfg.Rules) != 0 {
				t.Fatalf("rules after removal %+v", cfg.Rules)
			}
			if d := decide(t, f, f.a.staff, f.a.ks1); d.Allowed {
				t.Fatalf("after the rule's removal: %+v", d)
			}
			log := must[[]store.AdminAction](t)(f.s.ListAdminLog(ctx, f.a.as(f.a.owner), 1))
			if log[0].Action != "access_rule.delete" || !strings.Contains(log[0].Detail, `"before"`) || !strings.Contains(log[0].Detail, mg.ID) {
				t.Fatalf("admin log %+v", log[0])
			}
		}},
		{"a rule's schedule", func(t *testing.T, f *fixture) {
			own := f.a.as(f.a.owner)
			_, _, rule := plant(t, f, f.a.staff.ID)
			MustNoErr(t, f.s.DeleteAccessRule(ctx, own, rule.ID))
			mg := must[[]store.GroupDetail](t)(f.s.ListGroups(ctx, own))
			var mID, kID string
			for _, g := range mg {
				if g.Kind == keycab.MemberGroup {
					mID = g.ID
				} else {
					kID = g.ID
				}
			}
			// Open only on a day that is not today.
			other := time.Weekday((int(time.Now().UTC().Weekday()) + 3) % 7)
			must[keycab.AccessRule](t)(f.s.CreateAccessRule(ctx, own, keycab.AccessRule{MemberGroupID: mID, KeySetGroupID: kID,
				Schedule: []keycab.Window{{Days: []time.Weekday{other}, From: 0, Until: 1440}}}))
			if d := decide(t, f, f.a.staff, f.a.ks1); d.Allowed || !strings.Contains(d.Reason, "only at set times") {
				t.Fatalf("outside the rule's schedule: %+v", d)
			}
			_, err := f.s.CreateAccessRule(ctx, own, keycab.AccessRule{MemberGroupID: mID, KeySetGroupID: kID})
			wantCode(t, err, keycab.ECONFLICT)
			_, err = f.s.CreateAccessRule(ctx, own, keycab.AccessRule{MemberGroupID: kID, KeySetGroupID: mID})
			wantCode(t, err, keycab.EINVALID)
			_, err = f.s.CreateAccessRule(ctx, own, keycab.AccessRule{MemberGroupID: mID, KeySetGroupID: kID,
				Schedule: []keycab.Window{{Days: []time.Weekday{8}, From: 0, Until: 10}}})
			wantCode(t, err, keycab.EINVALID)
		}},
		{"a contractor added to a group outside their job is still refused", func(t *testing.T, f *fixture) {
			own := f.a.as(f.a.owner)
			kg := must[keycab.Group](t)(f.s.CreateGroup(ctx, own, keycab.Group{Kind: keycab.KeySetGroup, Name: "Site two"}))
			MustNoErr(t, f.s.SetGroupEntries(ctx, own, kg.ID, []string{f.a.ks2.ID}))
			mg := must[keycab.Group](t)(f.s.CreateGroup(ctx, own, keycab.Group{Kind: keycab.MemberGroup, Name: "Everyone"}))
			MustNoErr(t, f.s.SetGroupEntries(ctx, own, mg.ID, []string{f.a.contractor.ID, f.a.admin.ID}))
			must[keycab.AccessRule](t)(f.s.CreateAccessRule(ctx, own, keycab.AccessRule{MemberGroupID: mg.ID, KeySetGroupID: kg.ID}))
			if d := decide(t, f, f.a.contractor, f.a.ks2); d.Allowed || !strings.Contains(d.Reason, "no job") {
				t.Fatalf("a contractor through a group, outside their job: %+v", d)
			}
			if d := decide(t, f, f.a.admin, f.a.ks2); !d.Allowed {
				t.Fatalf("the admin in the same group: %+v", d)
			}
			if d := decide(t, f, f.a.contractor, f.a.ks1); !d.Allowed {
				t.Fatalf("the contractor's own job: %+v", d)
			}
		}},
		{"a site manager of another site edits a group", func(t *testing.T, f *fixture) {
			own, man := f.a.as(f.a.owner), f.a.as(f.a.manager)
			two := must[keycab.Group](t)(f.s.CreateGroup(ctx, own, keycab.Group{Kind: keycab.KeySetGroup, Name: "Two", SiteID: f.a.site2.ID}))
			wide := must[keycab.Group](t)(f.s.CreateGroup(ctx, own, keycab.Group{Kind: keycab.MemberGroup, Name: "Wide"}))
			notAllowed := func(what string, err error) {
				t.Helper()
				if c := keycab.ErrorCode(err); c != keycab.EFORBIDDEN && c != keycab.ENOTFOUND {
					t.Errorf("%s: %v", what, err)
				}
			}
			notAllowed("entries of site 2's group", f.s.SetGroupEntries(ctx, man, two.ID, []string{f.a.ks2.ID}))
			notAllowed("delete site 2's group", f.s.DeleteGroup(ctx, man, two.ID))
			notAllowed("entries of an organisation-wide group", f.s.SetGroupEntries(ctx, man, wide.ID, []string{f.a.staff.ID}))
			_, err := f.s.CreateGroup(ctx, man, keycab.Group{Kind: keycab.MemberGroup, Name: "Mine", SiteID: f.a.site2.ID})
			notAllowed("a group at site 2", err)
			_, err = f.s.CreateGroup(ctx, man, keycab.Group{Kind: keycab.MemberGroup, Name: "Org-wide"})
			notAllowed("an organisation-wide group", err)
			_, err = f.s.CreateAccessRule(ctx, man, keycab.AccessRule{MemberGroupID: wide.ID, KeySetGroupID: two.ID})
			notAllowed("a rule on site 2's key sets", err)
			// At their own site: their staff yes, an admin or another
			// site's key set no.
			mine := must[keycab.Group](t)(f.s.CreateGroup(ctx, man, keycab.Group{Kind: keycab.MemberGroup, Name: "Mine", SiteID: f.a.site1.ID}))
			MustNoErr(t, f.s.SetGroupEntries(ctx, man, mine.ID, []string{f.a.staff.ID}))
			notAllowed("an admin into their group", f.s.SetGroupEntries(ctx, man, mine.ID, []string{f.a.staff.ID, f.a.admin.ID}))
			keys := must[keycab.Group](t)(f.s.CreateGroup(ctx, man, keycab.Group{Kind: keycab.KeySetGroup, Name: "My keys", SiteID: f.a.site1.ID}))
			notAllowed("site 2's key set into their group", f.s.SetGroupEntries(ctx, man, keys.ID, []string{f.a.ks2.ID}))
			wantCode(t, f.s.SetGroupEntries(ctx, own, keys.ID, []string{f.a.ks2.ID}), keycab.EINVALID) // not at the group's site
			if g := must[store.GroupDetail](t)(f.s.GetGroup(ctx, own, mine.ID)); len(g.MemberIDs) != 1 {
				t.Fatalf("a refused change left %+v", g)
			}
			// Staff, auditors and kiosks write nothing.
			for _, sc := range []store.Scope{f.a.as(f.a.staff), f.a.as(f.a.auditor), f.a.kiosk()} {
				_, err := f.s.CreateGroup(ctx, sc, keycab.Group{Kind: keycab.MemberGroup, Name: "x", SiteID: f.a.site1.ID})
				notAllowed("create as a reader", err)
				notAllowed("entries as a reader", f.s.SetGroupEntries(ctx, sc, mine.ID, nil))
			}
		}},
		{"id swap: another organisation's groups, members and key sets", func(t *testing.T, f *fixture) {
			bOwn := f.b.as(f.b.owner)
			bg := must[keycab.Group](t)(f.s.CreateGroup(ctx, bOwn, keycab.Group{Kind: keycab.MemberGroup, Name: "B people"}))
			own := f.a.as(f.a.owner)
			sameMiss(t, "group", func(id string) error { _, err := f.s.GetGroup(ctx, own, id); return err }, bg.ID)
			sameMiss(t, "group", func(id string) error { return f.s.SetGroupEntries(ctx, own, id, nil) }, bg.ID)
			sameMiss(t, "group", func(id string) error { return f.s.DeleteGroup(ctx, own, id) }, bg.ID)
			ag := must[keycab.Group](t)(f.s.CreateGroup(ctx, own, keycab.Group{Kind: keycab.MemberGroup, Name: "A people"}))
			sameMiss(t, "member", func(id string) error { return f.s.SetGroupEntries(ctx, own, ag.ID, []string{id}) }, f.b.staff.ID)
			akg := must[keycab.Group](t)(f.s.CreateGroup(ctx, own, keycab.Group{Kind: keycab.KeySetGroup, Name: "A keys"}))
			sameMiss(t, "key set", func(id string) error { return f.s.SetGroupEntries(ctx, own, akg.ID, []string{id}) }, f.b.ks1.ID)
			sameMiss(t, "group", func(id string) error {
				_, err := f.s.CreateAccessRule(ctx, own, keycab.AccessRule{MemberGroupID: id, KeySetGroupID: akg.ID})
				return err
			}, bg.ID)
			_, err := f.s.DecideTake(ctx, own, f.b.staff.ID, f.a.ks1.ID)
			wantCode(t, err, keycab.ENOTFOUND)
			if g := must[store.GroupDetail](t)(f.s.GetGroup(ctx, bOwn, bg.ID)); g.Name != "B people" {
				t.Fatalf("B's group %+v", g)
			}
		}},
		{"bad groups and duplicate names", func(t *testing.T, f *fixture) {
			own := f.a.as(f.a.owner)
			for _, g := range []keycab.Group{{Kind: "people", Name: "x"}, {Kind: keycab.MemberGroup, Name: " "}, {Kind: keycab.MemberGroup, Name: "a\x00b"}} {
				_, err := f.s.CreateGroup(ctx, own, g)
				wantCode(t, err, keycab.EINVALID)
			}
			must[keycab.Group](t)(f.s.CreateGroup(ctx, own, keycab.Group{Kind: keycab.MemberGroup, Name: "Keyholders"}))
			_, err := f.s.CreateGroup(ctx, own, keycab.Group{Kind: keycab.MemberGroup, Name: "Keyholders"})
			wantCode(t, err, keycab.ECONFLICT)
			must[keycab.Group](t)(f.s.CreateGroup(ctx, own, keycab.Group{Kind: keycab.KeySetGroup, Name: "Keyholders"}))
		}},
		{"removing a member or a group removes what refers to it", func(t *testing.T, f *fixture) {
			own := f.a.as(f.a.owner)
			mg, kg, _ := plant(t, f, f.a.staff.ID, f.a.admin.ID)
			MustNoErr(t, f.s.RemoveMember(ctx, own, f.a.staff.ID))
			if g := must[store.GroupDetail](t)(f.s.GetGroup(ctx, own, mg.ID)); len(g.MemberIDs) != 1 || g.MemberIDs[0] != f.a.admin.ID {
				t.Fatalf("after removing a member: %+v", g)
			}
			MustNoErr(t, f.s.DeleteGroup(ctx, own, kg.ID))
			if rules := must[[]keycab.AccessRule](t)(f.s.ListAccessRules(ctx, own)); len(rules) != 0 {
				t.Fatalf("rules after deleting the key-set group: %+v", rules)
			}
			if d := decide(t, f, f.a.manager, f.a.ks1); !d.Allowed {
				t.Fatalf("ks1 in no group after the delete: %+v", d)
			}
		}},
	}
	for _, e := range engines() {
		t.Run(e.Name, func(t *testing.T) {
			t.Parallel()
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					t.Parallel()
					c.fn(t, newFixture(t, e))
				})
			}
		})
	}
}
