package hq_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"keycab.dev/keycab"
	"keycab.dev/keycab/hq/store"
)

// The policy through the API, on both engines: each level set and read
// back with what is in effect, the kiosk's bundle carrying the cabinet's,
// bad bodies refused with an error naming the field and nothing applied,
// roles held to their levels, and other organisations' sites and
// cabinets not found.
func TestPolicyAPI(t *testing.T) {
	forEngine(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		a, b := e.MustWorld(t, "Acme"), e.MustWorld(t, "Other")
		admin := e.MustJoin(t, a.owner, "admin@acme.test", "admin")
		auditor := e.MustJoin(t, a.owner, "auditor@acme.test", "auditor")
		manager := e.MustJoinAt(t, a.owner, "manager@acme.test", "site_manager", a.site.ID)

		MustStatus(t, e.do(t, "PUT", "/v1/policy", admin.access, map[string]any{"curfew": "18:00 Europe/London", "reasons": []string{"viewing", "repair"},
			"brand_name": "Acme Lettings", "approver_role": "site_manager"}), 200)
		MustStatus(t, e.do(t, "PUT", "/v1/sites/"+a.site.ID+"/policy", manager.access, map[string]any{"max_keys_out": 2, "pin_roles": []string{"staff"}}), 200)
		got := MustStatus(t, e.do(t, "PUT", "/v1/cabinets/"+a.cab.ID+"/policy", manager.access, map[string]any{"door_held_seconds": 120, "door_held_warning_seconds": 30}), 200)
		var p struct {
			Settings  map[string]any `json:"settings"`
			Effective map[string]any `json:"effective"`
		}
		MustNoErr(t, json.Unmarshal([]byte(got.raw), &p))
		if len(p.Settings) != 2 || p.Effective["curfew"] != "18:00 Europe/London" || p.Effective["max_keys_out"] != 2.0 || p.Effective["door_held_seconds"] != 120.0 ||
			p.Effective["brand_name"] != "Acme Lettings" || p.Effective["scan_cool_down_seconds"] != 3.0 {
			t.Fatalf("cabinet policy %s", got.raw)
		}
		cfg, err := e.st.KioskConfig(ctx, store.KioskScope(a.owner.orgID, a.kiosk.ID))
		MustNoErr(t, err)
		if cfg.Policy.DoorHeldWarning.Seconds() != 30 || cfg.Policy.MaxKeysOut != 2 || cfg.Policy.ApproverRole != keycab.RoleSiteManager || cfg.Branding.Name != "Acme Lettings" {
			t.Fatalf("bundle policy %+v %+v", cfg.Policy, cfg.Branding)
		}

		before := MustStatus(t, e.do(t, "GET", "/v1/sites/"+a.site.ID+"/policy", a.owner.access, nil), 200).raw
		bad := []struct {
			body  any
			field string
		}{
			{map[string]any{"lock_out_seconds": -60, "max_keys_out": 9}, "lock_out_seconds"},
			{map[string]any{"pin_roles": []string{"janitor"}}, "pin_roles"},
			{map[string]any{"approver_role": "contractor"}, "approver_role"},
			{map[string]any{"curfew": "18:00 Atlantis/Central"}, "curfew"},
			{map[string]any{"curfew": "6pm"}, "curfew"},
			{map[string]any{"door_held_warning_seconds": 500}, "door_held_warning"},
			{map[string]any{"reasons": []string{"  "}}, "reasons"},
			{map[string]any{"max_keys_out": "two"}, "max_keys_out"},
			{map[string]any{"dual_release_window_seconds": 1e12}, "dual_release_window_seconds"},
			{map[string]any{"door_held_secs": 10}, "door_held_secs"},
			{json.RawMessage(`{"brand_name": "Acme\u0000"}`), "NUL"},
		}
		for _, c := range bad {
			r := MustStatus(t, e.do(t, "PUT", "/v1/sites/"+a.site.ID+"/policy", a.owner.access, c.body), 400)
			if !strings.Contains(r.raw, c.field) {
				t.Errorf("%v: the error %s does not name %s", c.body, r.raw, c.field)
			}
		}
		if after := MustStatus(t, e.do(t, "GET", "/v1/sites/"+a.site.ID+"/policy", a.owner.access, nil), 200).raw; after != before {
			t.Fatalf("a refused change changed the site's policy:\n%s\n%s", before, after)
		}

		// Roles and other organisations.
		for _, c := range []struct {
			who    *user
			method string
			path   string
			want   int
		}{
			{manager, "PUT", "/v1/policy", 403},
			{manager, "DELETE", "/v1/policy", 403},
			{auditor, "PUT", "/v1/sites/" + a.site.ID + "/policy", 403},
			{a.staff, "PUT", "/v1/cabinets/" + a.cab.ID + "/policy", 403},
			{a.owner, "PUT", "/v1/sites/" + b.site.ID + "/policy", 404},
			{a.owner, "PUT", "/v1/cabinets/" + b.cab.ID + "/policy", 404},
			{a.owner, "GET", "/v1/cabinets/" + b.cab.ID + "/policy", 404},
			{a.owner, "DELETE", "/v1/sites/" + b.site.ID + "/policy", 404},
		} {
			MustStatus(t, e.do(t, c.method, c.path, c.who.access, map[string]any{"remote_release": true}), c.want)
		}
		if cfg, err := e.st.KioskConfig(ctx, store.KioskScope(b.owner.orgID, b.kiosk.ID)); err != nil || cfg.Policy.RemoteRelease {
			t.Fatalf("B's kiosk after A's attempts: %v %+v", err, cfg.Policy)
		}

		// A member's access.
		MustStatus(t, e.do(t, "PUT", "/v1/members/"+a.staff.memberID+"/access", admin.access, map[string]any{
			"schedule": []map[string]any{{"days": []int{1, 2, 3, 4, 5}, "from": "08:00", "until": "18:30"}}, "access_until": "2030-01-01T00:00:00Z", "max_keys_out": 1}), 200)
		m := MustStatus(t, e.do(t, "GET", "/v1/members/"+a.staff.memberID, a.owner.access, nil), 200)
		if sched, _ := m.body["schedule"].([]any); len(sched) != 1 || sched[0].(map[string]any)["until"] != "18:30" ||
			m.str("access_until") != "2030-01-01T00:00:00Z" || m.body["max_keys_out"] != 1.0 {
			t.Fatalf("member after access %s", m.raw)
		}
		for _, body := range []map[string]any{
			{"schedule": []map[string]any{{"days": []int{7}, "from": "08:00", "until": "18:00"}}, "max_keys_out": 0},
			{"schedule": []map[string]any{{"days": []int{1}, "from": "8am", "until": "18:00"}}, "max_keys_out": 0},
			{"schedule": []map[string]any{{"days": []int{1}, "from": "24:30", "until": "18:00"}}, "max_keys_out": 0},
			{"schedule": []map[string]any{}, "max_keys_out": -1},
		} {
			MustStatus(t, e.do(t, "PUT", "/v1/members/"+a.staff.memberID+"/access", a.owner.access, body), 400)
		}
		MustStatus(t, e.do(t, "PUT", "/v1/members/"+b.staff.memberID+"/access", a.owner.access, map[string]any{"schedule": []any{}, "max_keys_out": 1}), 404)

		// Every change is in the admin log with before and after.
		log := MustStatus(t, e.do(t, "GET", "/v1/admin-log?limit=20", a.owner.access, nil), 200)
		if !strings.Contains(log.raw, `policy.set`) || !strings.Contains(log.raw, `member.access`) || !strings.Contains(log.raw, `\"before\"`) {
			t.Fatalf("admin log %.3000s", log.raw)
		}
	})
}

// The policy pages: a level's form shows what it sets and what is in
// effect; a save sets exactly the ticked fields; a bad value comes back
// with the error and what was typed, and changes nothing.
func TestDashboardPolicy(t *testing.T) {
	for _, eng := range engines() {
		t.Run(eng.name, func(t *testing.T) {
			e := newDashEnv(t, eng, nil, false)
			ctx := context.Background()
			w := e.web()
			w.MustSignupWeb(t, "Acme Lettings", "Ann Owner", "ann@acme.test")
			sc := e.scopeOf(t, w)
			site, err := e.st.CreateSite(ctx, sc, store.Site{Site: keycab.Site{Name: "Harbour House", TimeZone: "Europe/London"}})
			MustNoErr(t, err)
			cab, err := e.st.CreateCabinet(ctx, sc, keycab.Cabinet{SiteID: site.ID, Name: "front desk", Kind: keycab.Slotted})
			MustNoErr(t, err)

			MustPage(t, w.get(t, "/settings"), 200, `href="/policy"`)
			MustPage(t, w.get(t, "/policy"), 200, "Kiosk policy: Acme Lettings", `name="set_curfew"`, `data-testid="effective-scan_cool_down_seconds">3s<`)
			MustPage(t, w.post(t, "/policy", url.Values{"set_curfew": {"1"}, "curfew": {"18:00"}, "set_reasons": {"1"}, "reasons": {"viewing\r\nrepair\r\n"},
				"set_pin_roles": {"1"}, "pin_roles": {"staff", "contractor"}, "set_lock_out_seconds": {"1"}, "lock_out_seconds": {"10m"},
				"brand_name": {"not ticked: not set"}}), http.StatusSeeOther)
			ps, err := e.st.GetPolicy(ctx, sc, store.PolicyOrg, "")
			MustNoErr(t, err)
			if ps.Policy.Curfew != "18:00" || strings.Join(ps.Policy.Reasons, ",") != "viewing,repair" || len(ps.Policy.PINRoles) != 2 ||
				ps.Policy.LockOut.Minutes() != 10 || ps.Settings.BrandName != nil {
				t.Fatalf("after the org form: %+v %+v", ps.Settings, ps.Policy)
			}

			MustPage(t, w.get(t, "/sites/"+site.ID), 200, `href="/sites/`+site.ID+`/policy"`)
			MustPage(t, w.post(t, "/sites/"+site.ID+"/policy", url.Values{"set_door_held_seconds": {"1"}, "door_held_seconds": {"-5s"}}),
				http.StatusBadRequest, "Door-held alarm after", `value="-5s"`)
			MustPage(t, w.post(t, "/sites/"+site.ID+"/policy", url.Values{"set_door_held_warning_seconds": {"1"}, "door_held_warning_seconds": {"2h"}}),
				http.StatusBadRequest, "door_held_warning", `value="2h"`)
			if ps, _ := e.st.GetPolicy(ctx, sc, store.PolicySite, site.ID); !ps.Settings.IsZero() {
				t.Fatalf("a refused form set %+v", ps.Settings)
			}
			MustPage(t, w.post(t, "/sites/"+site.ID+"/policy", url.Values{"set_max_keys_out": {"1"}, "max_keys_out": {"2"}}), http.StatusSeeOther)
			MustPage(t, w.get(t, "/cabinets/"+cab.ID+"/policy"), 200, "Kiosk policy: cabinet front desk",
				`data-testid="effective-max_keys_out">2<`, `data-testid="effective-curfew">18:00<`)
			MustPage(t, w.post(t, "/sites/"+site.ID+"/policy", url.Values{"inherit_all": {"1"}, "set_max_keys_out": {"1"}, "max_keys_out": {"5"}}), http.StatusSeeOther)
			if ps, _ := e.st.GetPolicy(ctx, sc, store.PolicySite, site.ID); !ps.Settings.IsZero() {
				t.Fatalf("inherit everything left %+v", ps.Settings)
			}

			// A member's access, and a key set's triple release.
			m, err := e.st.CreateMember(ctx, sc, keycab.Member{Name: "Sid Staff", Role: keycab.RoleStaff})
			MustNoErr(t, err)
			MustPage(t, w.get(t, "/people/"+m.ID), 200, "any time", "No end date", `data-testid="access-form"`)
			MustPage(t, w.post(t, "/people/"+m.ID+"/access", url.Values{"day": {"1", "5"}, "from": {"8am"}, "until": {"18:00"}}), http.StatusBadRequest, "HH:MM")
			MustPage(t, w.post(t, "/people/"+m.ID+"/access", url.Values{"day": {"1", "5"}, "from": {"08:00"}, "until": {"18:00"},
				"access_until": {"2030-06-30T17:00"}, "max_keys_out": {"2"}}), http.StatusSeeOther)
			got, err := e.st.GetMember(ctx, sc, m.ID)
			MustNoErr(t, err)
			if len(got.Schedule) != 1 || got.Schedule[0].From != 480 || len(got.Schedule[0].Days) != 2 || got.AccessUntil.Format("2006-01-02 15:04") != "2030-06-30 17:00" || got.MaxKeysOut != 2 {
				t.Fatalf("member access after the form: %+v", got)
			}
			MustPage(t, w.get(t, "/people/"+m.ID), 200, "Mon Fri 08:00–18:00", "30 Jun 2030 17:00 UTC", "At most 2 key sets")
			ks, err := e.st.CreateKeySet(ctx, sc, keycab.KeySet{SiteID: site.ID, Label: "Plant room"})
			MustNoErr(t, err)
			MustPage(t, w.post(t, "/key-sets/"+ks.ID, url.Values{"label": {"Plant room"}, "triple_release": {"on"}}), http.StatusSeeOther)
			if k, err := e.st.GetKeySet(ctx, sc, ks.ID); err != nil || !k.TripleRelease || !k.Sensitive {
				t.Fatalf("key set after ticking triple release: %+v %v", k, err)
			}
			MustPage(t, w.get(t, "/key-sets/"+ks.ID), 200, `name="triple_release" checked`)
		})
	}
}

// Groups through the API, on both engines: a key set put in a group is
// refused to a member outside it, at once in the decision HQ answers and
// in the kiosk's bundle; a site manager of another site and other
// organisations reach nothing.
func TestGroupsAPI(t *testing.T) {
	forEngine(t, func(t *testing.T, e *env) {
		a, b := e.MustWorld(t, "Acme"), e.MustWorld(t, "Other")
		manager := e.MustJoinAt(t, a.owner, "manager@acme.test", "site_manager", a.site.ID)
		other := MustStatus(t, e.do(t, "POST", "/v1/sites", a.owner.access, map[string]any{"name": "Elsewhere"}), 201).str("id")
		far := e.MustJoinAt(t, a.owner, "far@acme.test", "site_manager", other)
		o := a.owner.access
		may := func(member string) bool {
			t.Helper()
			return MustStatus(t, e.do(t, "GET", "/v1/members/"+member+"/may-take/"+a.ks[1].ID, o, nil), 200).body["allowed"] == true
		}
		if !may(a.staff.memberID) {
			t.Fatal("staff may not take before any group")
		}
		kg := MustStatus(t, e.do(t, "POST", "/v1/groups", manager.access, map[string]any{"kind": "key_sets", "name": "Safe", "site_id": a.site.ID}), 201).str("id")
		mg := MustStatus(t, e.do(t, "POST", "/v1/groups", o, map[string]any{"kind": "members", "name": "Holders"}), 201).str("id")
		MustStatus(t, e.do(t, "PUT", "/v1/groups/"+kg+"/entries", manager.access, map[string]any{"ids": []string{a.ks[1].ID}}), 200)
		MustStatus(t, e.do(t, "PUT", "/v1/groups/"+mg+"/entries", o, map[string]any{"ids": []string{a.owner.memberID}}), 200)
		rule := MustStatus(t, e.do(t, "POST", "/v1/access-rules", manager.access, map[string]any{"member_group_id": mg, "key_set_group_id": kg}), 201).str("id")
		if may(a.staff.memberID) || !may(a.owner.memberID) {
			t.Fatal("the group's rule is not applied")
		}
		for _, c := range []struct {
			who          *user
			method, path string
			body         any
			want         int
		}{
			// A manager of another site does not see this site's groups.
			{far, "PUT", "/v1/groups/" + kg + "/entries", map[string]any{"ids": []string{}}, 404},
			{far, "DELETE", "/v1/access-rules/" + rule, nil, 404},
			{far, "POST", "/v1/groups", map[string]any{"kind": "key_sets", "name": "Mine", "site_id": a.site.ID}, 404},
			{manager, "PUT", "/v1/groups/" + mg + "/entries", map[string]any{"ids": []string{a.staff.memberID}}, 403},
			{a.staff, "POST", "/v1/groups", map[string]any{"kind": "members", "name": "x"}, 403},
			{b.owner, "GET", "/v1/groups/" + kg, nil, 404},
			{b.owner, "PUT", "/v1/groups/" + kg + "/entries", map[string]any{"ids": []string{b.ks[0].ID}}, 404},
			{b.owner, "DELETE", "/v1/access-rules/" + rule, nil, 404},
			{a.owner, "PUT", "/v1/groups/" + mg + "/entries", map[string]any{"ids": []string{b.staff.memberID}}, 404},
			{a.owner, "POST", "/v1/groups", map[string]any{"kind": "people", "name": "x"}, 400},
			{a.owner, "POST", "/v1/groups", map[string]any{"kind": "members", "name": "Holders"}, 409},
			{a.owner, "POST", "/v1/access-rules", map[string]any{"member_group_id": kg, "key_set_group_id": mg}, 400},
			{a.owner, "POST", "/v1/access-rules", map[string]any{"member_group_id": mg, "key_set_group_id": kg, "schedule": []map[string]any{{"days": []int{1}, "from": "7am", "until": "19:00"}}}, 400},
		} {
			r := e.do(t, c.method, c.path, c.who.access, c.body)
			if r.status != c.want {
				t.Errorf("%s %s by %s: %d, want %d: %s", c.method, c.path, c.who.email, r.status, c.want, r.raw)
			}
		}
		if may(a.staff.memberID) {
			t.Fatal("a refused request opened the key set to staff")
		}
		MustStatus(t, e.do(t, "DELETE", "/v1/access-rules/"+rule, manager.access, nil), 204)
		if may(a.owner.memberID) {
			t.Fatal("the owner still may take after the rule's removal")
		}
	})
}

// The groups page: groups made, filled and joined by a rule through its
// forms; a bad rule comes back with the error; the rule removed.
func TestDashboardGroups(t *testing.T) {
	for _, eng := range engines() {
		t.Run(eng.name, func(t *testing.T) {
			e := newDashEnv(t, eng, nil, false)
			ctx := context.Background()
			w := e.web()
			w.MustSignupWeb(t, "Acme Lettings", "Ann Owner", "ann@acme.test")
			sc := e.scopeOf(t, w)
			site, err := e.st.CreateSite(ctx, sc, store.Site{Site: keycab.Site{Name: "Harbour House", TimeZone: "Europe/London"}})
			MustNoErr(t, err)
			ks, err := e.st.CreateKeySet(ctx, sc, keycab.KeySet{SiteID: site.ID, Label: "Boiler room"})
			MustNoErr(t, err)
			staff, err := e.st.CreateMember(ctx, sc, keycab.Member{Name: "Sid Staff", Role: keycab.RoleStaff})
			MustNoErr(t, err)

			MustPage(t, w.get(t, "/groups"), 200, "No member groups yet", `href="/groups" aria-current="page"`)
			MustPage(t, w.post(t, "/groups", url.Values{"kind": {"members"}, "name": {"Engineers"}}), http.StatusSeeOther)
			MustPage(t, w.post(t, "/groups", url.Values{"kind": {"key_sets"}, "name": {"Plant"}, "site": {site.ID}}), http.StatusSeeOther)
			MustPage(t, w.post(t, "/groups", url.Values{"kind": {"members"}, "name": {"Engineers"}}), http.StatusConflict, "named")
			gs, err := e.st.ListGroups(ctx, sc)
			MustNoErr(t, err)
			ids := map[keycab.GroupKind]string{}
			for _, g := range gs {
				ids[g.Kind] = g.ID
			}
			MustPage(t, w.post(t, "/groups/"+ids[keycab.KeySetGroup]+"/entries", url.Values{"entry": {ks.ID}}), http.StatusSeeOther)
			MustPage(t, w.post(t, "/groups/rules", url.Values{"member_group": {ids[keycab.MemberGroup]}, "key_set_group": {ids[keycab.KeySetGroup]},
				"day": {"1"}, "from": {"8am"}, "until": {"18:00"}}), http.StatusBadRequest, "HH:MM")
			MustPage(t, w.post(t, "/groups/rules", url.Values{"member_group": {ids[keycab.MemberGroup]}, "key_set_group": {ids[keycab.KeySetGroup]}}), http.StatusSeeOther)
			if d, err := e.st.DecideTake(ctx, sc, staff.ID, ks.ID); err != nil || d.Allowed {
				t.Fatalf("staff outside the group: %+v %v", d, err)
			}
			MustPage(t, w.post(t, "/groups/"+ids[keycab.MemberGroup]+"/entries", url.Values{"entry": {staff.ID}}), http.StatusSeeOther)
			if d, err := e.st.DecideTake(ctx, sc, staff.ID, ks.ID); err != nil || !d.Allowed {
				t.Fatalf("staff in the group: %+v %v", d, err)
			}
			MustPage(t, w.get(t, "/groups"), 200, "Engineers", "Plant", "any time", "Sid Staff")
			rules, err := e.st.ListAccessRules(ctx, sc)
			MustNoErr(t, err)
			MustPage(t, w.post(t, "/groups/rules/"+rules[0].ID+"/delete", url.Values{}), http.StatusSeeOther)
			if d, _ := e.st.DecideTake(ctx, sc, staff.ID, ks.ID); d.Allowed {
				t.Fatalf("after the rule's removal: %+v", d)
			}
		})
	}
}
