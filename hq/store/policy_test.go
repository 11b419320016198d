package store_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"keycab.dev/keycab"
	"keycab.dev/keycab/hq/store"
)

func ptr[T any](v T) *T { return &v }

// TestPolicy runs the policy cases on both engines: levels inherit and
// reach the kiosk's bundle, roles are held to their own levels, bad
// values are refused with nothing changed, and each change is in the
// admin log with before and after.
func TestPolicy(t *testing.T) {
	ctx := context.Background()
	cases := []contractCase{
		{"levels inherit down to the kiosk's bundle", func(t *testing.T, f *fixture) {
			a := f.a
			must[store.PolicySettings](t)(f.s.SetPolicy(ctx, a.as(a.owner), store.PolicyOrg, "", keycab.PolicyOverride{
				PINAlways: ptr(true), Curfew: ptr(keycab.Curfew("18:00")), Reasons: &[]string{"viewing", "repair"}, BrandName: ptr("Acme Lettings")}))
			must[store.PolicySettings](t)(f.s.SetPolicy(ctx, a.as(a.manager), store.PolicySite, a.site1.ID, keycab.PolicyOverride{
				ScanCoolDownSeconds: ptr[int64](7), MaxKeysOut: ptr(2)}))
			got := must[store.PolicySettings](t)(f.s.SetPolicy(ctx, a.as(a.manager), store.PolicyCabinet, a.cab1.ID, keycab.PolicyOverride{
				DoorHeldSeconds: ptr[int64](120), PINAlways: ptr(false)}))
			p := got.Policy
			if p.PINAlways || p.ScanCoolDown != 7*time.Second || p.MaxKeysOut != 2 || p.DoorHeld != 2*time.Minute || p.Curfew != "18:00" ||
				strings.Join(p.Reasons, ",") != "viewing,repair" || got.Branding.Name != "Acme Lettings" {
				t.Fatalf("effective at the cabinet: %+v %+v", p, got.Branding)
			}
			cfg := must[keycab.Config](t)(f.s.KioskConfig(ctx, a.kiosk()))
			if cfg.Policy.DoorHeld != p.DoorHeld || cfg.Policy.MaxKeysOut != 2 || cfg.Policy.PINAlways || cfg.Branding.Name != "Acme Lettings" {
				t.Fatalf("the bundle's policy %+v is not the cabinet's %+v", cfg.Policy, p)
			}
			// The other site's cabinet has the organisation's level only.
			other := must[store.PolicySettings](t)(f.s.GetPolicy(ctx, a.as(a.owner), store.PolicyCabinet, a.cab2.ID))
			if !other.Policy.PINAlways || other.Policy.MaxKeysOut != 0 || other.Policy.ScanCoolDown != keycab.DefaultPolicy().ScanCoolDown {
				t.Fatalf("site 2's cabinet: %+v", other.Policy)
			}
			// Removing the organisation's level goes back to the defaults.
			must[store.PolicySettings](t)(f.s.SetPolicy(ctx, a.as(a.admin), store.PolicyOrg, "", keycab.PolicyOverride{}))
			if cfg := must[keycab.Config](t)(f.s.KioskConfig(ctx, a.kiosk())); cfg.Policy.Curfew != "" || cfg.Branding.Name != "" || len(cfg.Policy.Reasons) != len(keycab.DefaultPolicy().Reasons) {
				t.Fatalf("after removing the organisation's level: %+v", cfg.Policy)
			}
		}},
		{"roles: who sets which level", func(t *testing.T, f *fixture) {
			a := f.a
			o := keycab.PolicyOverride{MaxKeysOut: ptr(3)}
			for _, m := range []keycab.Member{a.manager, a.staff, a.auditor, a.contractor} {
				_, err := f.s.SetPolicy(ctx, a.as(m), store.PolicyOrg, "", o)
				wantCode(t, err, keycab.EFORBIDDEN)
			}
			for _, m := range []keycab.Member{a.staff, a.auditor, a.contractor} {
				_, err := f.s.SetPolicy(ctx, a.as(m), store.PolicySite, a.site1.ID, o)
				if code := keycab.ErrorCode(err); code != keycab.EFORBIDDEN && code != keycab.ENOTFOUND {
					t.Errorf("%s set a site's policy: %v", m.Role, err)
				}
			}
			// A site manager of site 1 cannot reach site 2 or its cabinet.
			_, err := f.s.SetPolicy(ctx, a.as(a.manager), store.PolicySite, a.site2.ID, o)
			if code := keycab.ErrorCode(err); code != keycab.EFORBIDDEN && code != keycab.ENOTFOUND {
				t.Errorf("a manager of another site set site 2's policy: %v", err)
			}
			_, err = f.s.SetPolicy(ctx, a.as(a.manager), store.PolicyCabinet, a.cab2.ID, o)
			if code := keycab.ErrorCode(err); code != keycab.EFORBIDDEN && code != keycab.ENOTFOUND {
				t.Errorf("a manager of another site set site 2's cabinet's policy: %v", err)
			}
			// A kiosk reads its policy only through its bundle.
			_, err = f.s.SetPolicy(ctx, a.kiosk(), store.PolicyCabinet, a.cab1.ID, o)
			wantCode(t, err, keycab.EFORBIDDEN)
			if got := must[store.PolicySettings](t)(f.s.GetPolicy(ctx, a.as(a.owner), store.PolicySite, a.site2.ID)); !got.Settings.IsZero() {
				t.Fatalf("site 2's level was changed: %+v", got.Settings)
			}
		}},
		{"id swap: another organisation's site and cabinet", func(t *testing.T, f *fixture) {
			o := keycab.PolicyOverride{RemoteRelease: ptr(true)}
			sameMiss(t, "site", func(id string) error {
				_, err := f.s.SetPolicy(ctx, f.a.as(f.a.owner), store.PolicySite, id, o)
				return err
			}, f.b.site1.ID)
			sameMiss(t, "cabinet", func(id string) error {
				_, err := f.s.SetPolicy(ctx, f.a.as(f.a.owner), store.PolicyCabinet, id, o)
				return err
			}, f.b.cab1.ID)
			sameMiss(t, "cabinet", func(id string) error {
				_, err := f.s.GetPolicy(ctx, f.a.as(f.a.owner), store.PolicyCabinet, id)
				return err
			}, f.b.cab1.ID)
			if cfg := must[keycab.Config](t)(f.s.KioskConfig(ctx, f.b.kiosk())); cfg.Policy.RemoteRelease {
				t.Fatal("A's owner turned on remote release at B's kiosk")
			}
		}},
		{"bad values: a clear error and nothing applied", func(t *testing.T, f *fixture) {
			a := f.a
			good := keycab.PolicyOverride{MaxKeysOut: ptr(4), DoorHeldSeconds: ptr[int64](60), DoorHeldWarningSeconds: ptr[int64](20)}
			must[store.PolicySettings](t)(f.s.SetPolicy(ctx, a.as(a.owner), store.PolicySite, a.site1.ID, good))
			bad := map[string]keycab.PolicyOverride{
				"lock_out":          {LockOutSeconds: ptr[int64](-5), MaxKeysOut: ptr(9)},
				"huge":              {DefaultMaxOutSeconds: ptr[int64](1 << 62)},
				"pin_roles":         {PINRoles: &[]keycab.Role{"janitor"}},
				"approver_role":     {ApproverRole: ptr(keycab.RoleContractor)},
				"curfew":            {Curfew: ptr(keycab.Curfew("18:00 Mars/Olympus_Mons"))},
				"curfew ":           {Curfew: ptr(keycab.Curfew("25:00"))},
				"door_held_warning": {DoorHeldWarningSeconds: ptr[int64](90)},
				"reasons":           {Reasons: &[]string{"ok", "ok"}},
				"max_keys_out":      {MaxKeysOut: ptr(-1)},
				"accent":            {Accent: ptr("red")},
				"logo":              {Logo: &[]byte{'G', 'I', 'F'}},
				"brand name":        {BrandName: ptr("Acme\x00")},
			}
			for field, o := range bad {
				_, err := f.s.SetPolicy(ctx, a.as(a.owner), store.PolicySite, a.site1.ID, o)
				wantCode(t, err, keycab.EINVALID)
				if msg := keycab.ErrorMessage(err); !strings.Contains(msg, strings.Fields(field)[0]) && field != "huge" && field != "logo" {
					t.Errorf("%s: the error %q does not name the field", field, msg)
				}
			}
			// A change above that would break a level below is refused:
			// a door-held time shorter than site 1's warning.
			_, err := f.s.SetPolicy(ctx, a.as(a.owner), store.PolicyOrg, "", keycab.PolicyOverride{DoorHeldWarningSeconds: ptr[int64](0)})
			MustNoErr(t, err)
			must[store.PolicySettings](t)(f.s.SetPolicy(ctx, a.as(a.owner), store.PolicyCabinet, a.cab1.ID, keycab.PolicyOverride{DoorHeldWarningSeconds: ptr[int64](50)}))
			_, err = f.s.SetPolicy(ctx, a.as(a.owner), store.PolicySite, a.site1.ID, keycab.PolicyOverride{DoorHeldSeconds: ptr[int64](30)})
			wantCode(t, err, keycab.EINVALID)
			if !strings.Contains(keycab.ErrorMessage(err), a.cab1.ID) {
				t.Errorf("the refusal %q does not name the cabinet it would break", keycab.ErrorMessage(err))
			}
			got := must[store.PolicySettings](t)(f.s.GetPolicy(ctx, a.as(a.owner), store.PolicySite, a.site1.ID))
			if got.Settings.MaxKeysOut == nil || *got.Settings.MaxKeysOut != 4 || *got.Settings.DoorHeldSeconds != 60 {
				t.Fatalf("a refused change left %+v", got.Settings)
			}
			_, err = f.s.SetPolicy(ctx, a.as(a.owner), "galaxy", "x", good)
			wantCode(t, err, keycab.EINVALID)
		}},
		{"the admin log keeps before and after", func(t *testing.T, f *fixture) {
			a := f.a
			must[store.PolicySettings](t)(f.s.SetPolicy(ctx, a.as(a.owner), store.PolicySite, a.site1.ID, keycab.PolicyOverride{MaxKeysOut: ptr(2)}))
			must[store.PolicySettings](t)(f.s.SetPolicy(ctx, a.as(a.manager), store.PolicySite, a.site1.ID, keycab.PolicyOverride{MaxKeysOut: ptr(5), Logo: &[]byte{}}))
			log := must[[]store.AdminAction](t)(f.s.ListAdminLog(ctx, a.as(a.owner), 5))
			if log[0].Action != "policy.set" || log[0].Target != "site:"+a.site1.ID || log[0].ActorID != a.manager.ID {
				t.Fatalf("newest admin action %+v", log[0])
			}
			var d struct{ Before, After keycab.PolicyOverride }
			MustNoErr(t, json.Unmarshal([]byte(log[0].Detail), &d))
			if d.Before.MaxKeysOut == nil || *d.Before.MaxKeysOut != 2 || d.After.MaxKeysOut == nil || *d.After.MaxKeysOut != 5 {
				t.Fatalf("detail %s", log[0].Detail)
			}
		}},
		{"member access: schedule, expiry and limit reach the bundle", func(t *testing.T, f *fixture) {
			a := f.a
			until := time.Now().Add(48 * time.Hour).Truncate(time.Second)
			sched := []keycab.Window{{Days: []time.Weekday{time.Monday, time.Friday}, From: 8 * 60, Until: 18 * 60}}
			MustNoErr(t, f.s.SetMemberAccess(ctx, a.as(a.manager), a.staff.ID, store.MemberAccess{Schedule: sched, AccessUntil: until, MaxKeysOut: 1}))
			cfg := must[keycab.Config](t)(f.s.KioskConfig(ctx, a.kiosk()))
			var got *keycab.Member
			for i := range cfg.Members {
				if cfg.Members[i].ID == a.staff.ID {
					got = &cfg.Members[i]
				}
			}
			if got == nil || len(got.Schedule) != 1 || got.Schedule[0].From != 480 || !got.AccessUntil.Equal(until) || got.MaxKeysOut != 1 {
				t.Fatalf("the bundle's member: %+v", got)
			}
			for _, bad := range []store.MemberAccess{
				{Schedule: []keycab.Window{{Days: []time.Weekday{9}, From: 0, Until: 60}}},
				{Schedule: []keycab.Window{{Days: []time.Weekday{1}, From: 60, Until: 60}}},
				{MaxKeysOut: -2},
				{AccessUntil: time.Unix(0, 0)},
			} {
				wantCode(t, f.s.SetMemberAccess(ctx, a.as(a.owner), a.staff.ID, bad), keycab.EINVALID)
			}
			// A site manager cannot change an admin's access, nor a
			// member of another organisation.
			if err := f.s.SetMemberAccess(ctx, a.as(a.manager), a.admin.ID, store.MemberAccess{MaxKeysOut: 1}); keycab.ErrorCode(err) != keycab.EFORBIDDEN && keycab.ErrorCode(err) != keycab.ENOTFOUND {
				t.Errorf("a site manager changed an admin's access: %v", err)
			}
			sameMiss(t, "member", func(id string) error {
				return f.s.SetMemberAccess(ctx, a.as(a.owner), id, store.MemberAccess{MaxKeysOut: 1})
			}, f.b.staff.ID)
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
