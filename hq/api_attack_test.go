package hq_test

import (
	"context"
	"testing"
	"time"

	"keycab.dev/keycab"
	"keycab.dev/keycab/hq/store"
)

// Attack cases on the API's writes, on both engines: role escalation
// through PATCH, other organisations' rows named in bodies and paths,
// contractors, auditors and staff writing. Each answers with the status
// it must, and afterwards nothing has changed.
func TestWriteAttacks(t *testing.T) {
	forEngine(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		a, b := e.MustWorld(t, "Acme"), e.MustWorld(t, "Other")
		admin := e.MustJoin(t, a.owner, "admin@acme.test", "admin")
		auditor := e.MustJoin(t, a.owner, "auditor@acme.test", "auditor")
		manager := e.MustJoinAt(t, a.owner, "manager@acme.test", "site_manager", a.site.ID)
		contractor := e.MustJoin(t, a.owner, "plumber@acme.test", "contractor")
		scoped := MustStatus(t, e.do(t, "POST", "/v1/members", a.owner.access, map[string]any{"name": "Scoped", "role": "staff", "site_ids": []string{a.site.ID}}), 201).str("id")
		now := e.clock.Now()
		job := MustStatus(t, e.do(t, "POST", "/v1/jobs", a.owner.access, map[string]any{"member_id": contractor.memberID,
			"key_set_ids": []string{a.ks[0].ID}, "from": now.Add(-time.Hour), "until": now.Add(2 * time.Hour)}), 201).str("id")
		ks0 := a.ks[0].ID

		cases := []struct {
			name         string
			who          *user
			method, path string
			body         any
			want         int
		}{
			// Role escalation through PATCH and create.
			{"admin makes self owner", admin, "PATCH", "/v1/members/" + admin.memberID, map[string]any{"role": "owner"}, 403},
			{"admin demotes the owner", admin, "PATCH", "/v1/members/" + a.owner.memberID, map[string]any{"role": "staff"}, 403},
			{"manager makes staff admin", manager, "PATCH", "/v1/members/" + scoped, map[string]any{"role": "admin"}, 403},
			{"manager makes self admin", manager, "PATCH", "/v1/members/" + manager.memberID, map[string]any{"role": "admin"}, 403},
			{"manager unscopes staff", manager, "PATCH", "/v1/members/" + scoped, map[string]any{"site_ids": []string{}}, 403},
			{"manager creates an admin", manager, "POST", "/v1/members", map[string]any{"name": "x", "role": "admin", "site_ids": []string{a.site.ID}}, 403},
			{"staff makes self admin", a.staff, "PATCH", "/v1/members/" + a.staff.memberID, map[string]any{"role": "admin"}, 403},
			{"last owner demotes self", a.owner, "PATCH", "/v1/members/" + a.owner.memberID, map[string]any{"role": "admin"}, 409},
			{"last owner leaves", a.owner, "DELETE", "/v1/members/" + a.owner.memberID, nil, 409},
			// Another organisation's rows named in a body.
			{"cabinet at other org's site", a.owner, "POST", "/v1/cabinets", map[string]any{"site_id": b.site.ID, "name": "x", "kind": "slotted"}, 404},
			{"key set at other org's site", a.owner, "POST", "/v1/key-sets", map[string]any{"site_id": b.site.ID, "label": "x"}, 404},
			{"slot homing other org's key set", a.owner, "PUT", "/v1/cabinets/" + a.cab.ID + "/slots/9", map[string]any{"key_set_id": b.ks[0].ID}, 404},
			{"job on other org's key set", a.owner, "POST", "/v1/jobs", map[string]any{"member_id": contractor.memberID, "key_set_ids": []string{b.ks[0].ID}, "from": now, "until": now.Add(time.Hour)}, 404},
			{"job for other org's member", a.owner, "POST", "/v1/jobs", map[string]any{"member_id": b.staff.memberID, "key_set_ids": []string{ks0}, "from": now, "until": now.Add(time.Hour)}, 404},
			{"reservation of other org's key set", a.owner, "POST", "/v1/reservations", map[string]any{"key_set_id": b.ks[0].ID, "member_id": a.staff.memberID, "from": now, "until": now.Add(time.Hour)}, 404},
			{"reservation for other org's member", a.owner, "POST", "/v1/reservations", map[string]any{"key_set_id": ks0, "member_id": b.staff.memberID, "from": now, "until": now.Add(time.Hour)}, 404},
			{"member scoped to other org's site", a.owner, "PATCH", "/v1/members/" + scoped, map[string]any{"site_ids": []string{b.site.ID}}, 404},
			{"new member at other org's site", a.owner, "POST", "/v1/members", map[string]any{"name": "x", "role": "staff", "site_ids": []string{b.site.ID}}, 404},
			{"labels of other org's key set", a.owner, "POST", "/v1/labels", map[string]any{"key_set_ids": []string{ks0, b.ks[0].ID}}, 404},
			{"labels of other org's site", a.owner, "POST", "/v1/labels", map[string]any{"site_id": b.site.ID}, 404},
			{"labels of other org's cabinet", a.owner, "POST", "/v1/labels", map[string]any{"cabinet_id": b.cab.ID}, 404},
			// Contractors write nothing, not even on their job's key set.
			{"contractor creates a key set", contractor, "POST", "/v1/key-sets", map[string]any{"site_id": a.site.ID, "label": "x"}, 403},
			{"contractor rotates job's token", contractor, "POST", "/v1/key-sets/" + ks0 + "/tokens/rotate", nil, 403},
			{"contractor changes job's key set", contractor, "PATCH", "/v1/key-sets/" + ks0, map[string]any{"pin_required": false}, 403},
			{"contractor reserves job's key set", contractor, "POST", "/v1/reservations", map[string]any{"key_set_id": ks0, "from": now, "until": now.Add(time.Hour)}, 403},
			{"contractor prints job's label", contractor, "POST", "/v1/labels", map[string]any{"key_set_ids": []string{ks0}}, 403},
			{"contractor ends own job", contractor, "DELETE", "/v1/jobs/" + job, nil, 403},
			{"contractor extends own job", contractor, "POST", "/v1/jobs", map[string]any{"member_id": contractor.memberID, "key_set_ids": []string{ks0}, "from": now, "until": now.Add(99 * time.Hour)}, 403},
			// Auditors read; they write nothing.
			{"auditor creates a site", auditor, "POST", "/v1/sites", map[string]any{"name": "x"}, 403},
			{"auditor changes a key set", auditor, "PATCH", "/v1/key-sets/" + ks0, map[string]any{"label": "x"}, 403},
			{"auditor removes a member", auditor, "DELETE", "/v1/members/" + a.staff.memberID, nil, 403},
			{"auditor sets a PIN", auditor, "PUT", "/v1/members/" + a.staff.memberID + "/pin", map[string]any{"pin": "1234"}, 403},
			{"auditor enrols a badge", auditor, "POST", "/v1/members/" + a.staff.memberID + "/badges", map[string]any{"kind": "rfid", "code": "1"}, 403},
			{"auditor rotates a token", auditor, "POST", "/v1/key-sets/" + ks0 + "/tokens/rotate", nil, 403},
			{"auditor prints labels", auditor, "POST", "/v1/labels", map[string]any{"site_id": a.site.ID}, 403},
			{"auditor sets a slot", auditor, "PUT", "/v1/cabinets/" + a.cab.ID + "/slots/1", map[string]any{}, 403},
			{"auditor deletes a job", auditor, "DELETE", "/v1/jobs/" + job, nil, 403},
			// Staff manage nobody and nothing.
			{"staff adds a member", a.staff, "POST", "/v1/members", map[string]any{"name": "x", "role": "staff"}, 403},
			{"staff deletes the site", a.staff, "DELETE", "/v1/sites/" + a.site.ID, nil, 403},
			{"staff sets another's PIN (whom staff do not see)", a.staff, "PUT", "/v1/members/" + scoped + "/pin", map[string]any{"pin": "1234"}, 404},
			{"staff revokes tokens", a.staff, "DELETE", "/v1/key-sets/" + ks0 + "/tokens", nil, 403},
		}
		for _, c := range cases {
			r := e.do(t, c.method, c.path, c.who.access, c.body)
			if r.status != c.want {
				t.Errorf("%s: %s %s answered %d, want %d: %s", c.name, c.method, c.path, r.status, c.want, r.raw)
			}
		}

		// Another organisation's id in the path answers exactly as a
		// missing one does.
		name, pin, badge, none := map[string]any{"name": "x"}, map[string]any{"pin": "1234"}, map[string]any{"kind": "rfid", "code": "1"}, map[string]any{}
		paths := []struct {
			method, path, missing string
			body                  any
		}{
			{"PATCH", "/v1/sites/" + b.site.ID, "/v1/sites/site_missing", name},
			{"DELETE", "/v1/sites/" + b.site.ID, "/v1/sites/site_missing", nil},
			{"PATCH", "/v1/cabinets/" + b.cab.ID, "/v1/cabinets/cab_missing", name},
			{"PUT", "/v1/cabinets/" + b.cab.ID + "/slots/1", "/v1/cabinets/cab_missing/slots/1", none},
			{"DELETE", "/v1/key-sets/" + b.ks[0].ID, "/v1/key-sets/ks_missing", nil},
			{"POST", "/v1/key-sets/" + b.ks[0].ID + "/tokens/rotate", "/v1/key-sets/ks_missing/tokens/rotate", nil},
			{"PATCH", "/v1/members/" + b.staff.memberID, "/v1/members/mem_missing", map[string]any{"role": "staff"}},
			{"PUT", "/v1/members/" + b.staff.memberID + "/pin", "/v1/members/mem_missing/pin", pin},
			{"POST", "/v1/members/" + b.owner.memberID + "/badges", "/v1/members/mem_missing/badges", badge},
			{"DELETE", "/v1/members/" + b.owner.memberID, "/v1/members/mem_missing", nil},
			{"GET", "/v1/kiosks/" + b.kiosk.ID + "/log", "/v1/kiosks/kiosk_missing/log", nil},
		}
		for _, p := range paths {
			theirs, missing := e.do(t, p.method, p.path, a.owner.access, p.body), e.do(t, p.method, p.missing, a.owner.access, p.body)
			if theirs.status != 404 || missing.status != 404 || theirs.code() != missing.code() {
				t.Errorf("%s %s: %d %s; missing: %d %s", p.method, p.path, theirs.status, theirs.raw, missing.status, missing.raw)
			}
		}

		// Nothing changed.
		if m, err := e.st.GetMember(ctx, store.MemberScope(a.owner.orgID, a.owner.memberID), a.owner.memberID); err != nil || m.Role != keycab.RoleOwner {
			t.Errorf("owner is now %v (%v)", m.Role, err)
		}
		for _, u := range []*user{admin, manager, a.staff} {
			m, err := e.st.GetMember(ctx, store.MemberScope(a.owner.orgID, a.owner.memberID), u.memberID)
			MustNoErr(t, err)
			if m.Role == keycab.RoleOwner || (u == a.staff && m.Role != keycab.RoleStaff) || (u == manager && m.Role != keycab.RoleSiteManager) {
				t.Errorf("%s is now %s", u.email, m.Role)
			}
		}
		bsc := store.MemberScope(b.owner.orgID, b.owner.memberID)
		if st, err := e.st.GetSite(ctx, bsc, b.site.ID); err != nil || st.Name != b.site.Name {
			t.Errorf("other org's site: %q, %v", st.Name, err)
		}
		if toks, err := e.st.ListTokens(ctx, bsc, b.ks[0].ID); err != nil || len(toks) != 0 {
			t.Errorf("other org's key set has %d tokens (%v)", len(toks), err)
		}
		if toks, err := e.st.ListTokens(ctx, store.MemberScope(a.owner.orgID, a.owner.memberID), ks0); err != nil || len(toks) != 0 {
			t.Errorf("key set %s has %d tokens after refused writes (%v)", ks0, len(toks), err)
		}
		if n := len(MustStatus(t, e.do(t, "GET", "/v1/cabinets", b.owner.access, nil), 200).body["cabinets"].([]any)); n != 1 {
			t.Errorf("other org has %d cabinets", n)
		}
		if n := len(MustStatus(t, e.do(t, "GET", "/v1/jobs", a.owner.access, nil), 200).body["jobs"].([]any)); n != 1 {
			t.Errorf("%d jobs after refused writes", n)
		}
	})
}
