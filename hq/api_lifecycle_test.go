package hq_test

import (
	"context"
	"testing"
	"time"

	"keycab.dev/keycab/hq/store"
)

// Attack cases on erasure, legal holds and retention, on both engines:
// another organisation's members and holds, auditors erasing, staff and
// site managers placing holds, an erasure without its confirmation.
// Afterwards nothing has changed; then the permitted calls work.
func TestLifecycleAttacks(t *testing.T) {
	forEngine(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		a, b := e.MustWorld(t, "Acme"), e.MustWorld(t, "Other")
		auditor := e.MustJoin(t, a.owner, "auditor@acme.test", "auditor")
		manager := e.MustJoinAt(t, a.owner, "manager@acme.test", "site_manager", a.site.ID)
		target := MustStatus(t, e.do(t, "POST", "/v1/members", a.owner.access, map[string]any{"name": "Tess Target", "role": "staff", "site_ids": []string{a.site.ID}}), 201).str("id")
		theirs := MustStatus(t, e.do(t, "POST", "/v1/members", b.owner.access, map[string]any{"name": "Bo Other", "role": "staff"}), 201).str("id")
		bHold := MustStatus(t, e.do(t, "POST", "/v1/holds", b.owner.access, map[string]any{"target": "site", "target_id": b.site.ID, "reason": "B's", "owner_id": b.owner.memberID}), 201).str("id")
		hold := func(target, id string) map[string]any {
			return map[string]any{"target": target, "target_id": id, "reason": "litigation", "owner_id": a.owner.memberID}
		}
		confirm := func(id string) map[string]any { return map[string]any{"confirm": id} }
		cases := []struct {
			name         string
			who          *user
			method, path string
			body         any
			want         int
		}{
			{"auditor erases a member", auditor, "POST", "/v1/members/" + target + "/erase", confirm(target), 403},
			{"staff erases a member they do not see", a.staff, "POST", "/v1/members/" + target + "/erase", confirm(target), 404},
			{"staff erases themselves", a.staff, "POST", "/v1/members/" + a.staff.memberID + "/erase", confirm(a.staff.memberID), 403},
			{"owner erases other org's member", a.owner, "POST", "/v1/members/" + theirs + "/erase", confirm(theirs), 404},
			{"erase without confirmation", a.owner, "POST", "/v1/members/" + target + "/erase", map[string]any{"confirm": ""}, 400},
			{"erase confirming another id", a.owner, "POST", "/v1/members/" + target + "/erase", confirm(a.staff.memberID), 400},
			{"staff places a hold", a.staff, "POST", "/v1/holds", hold("member", a.staff.memberID), 403},
			{"manager places a hold", manager, "POST", "/v1/holds", hold("site", a.site.ID), 403},
			{"auditor places a hold", auditor, "POST", "/v1/holds", hold("site", a.site.ID), 403},
			{"hold on other org's member", a.owner, "POST", "/v1/holds", hold("member", theirs), 404},
			{"hold on other org's key set", a.owner, "POST", "/v1/holds", hold("key_set", b.ks[0].ID), 404},
			{"hold on other org's site", a.owner, "POST", "/v1/holds", hold("site", b.site.ID), 404},
			{"hold owned by other org's member", a.owner, "POST", "/v1/holds", map[string]any{"target": "site", "target_id": a.site.ID, "reason": "x", "owner_id": b.owner.memberID}, 404},
			{"end other org's hold", a.owner, "POST", "/v1/holds/" + bHold + "/end", nil, 404},
			{"staff lists holds", a.staff, "GET", "/v1/holds", nil, 403},
			{"staff reads retention", a.staff, "GET", "/v1/retention", nil, 403},
			{"auditor sets retention", auditor, "PUT", "/v1/retention", map[string]any{"personal_text_days": 1, "deliveries_days": 1, "sessions_days": 1, "admin_detail_days": 1}, 403},
			{"manager sets retention", manager, "PUT", "/v1/retention", map[string]any{"personal_text_days": 1, "deliveries_days": 1, "sessions_days": 1, "admin_detail_days": 1}, 403},
			{"retention out of range", a.owner, "PUT", "/v1/retention", map[string]any{"personal_text_days": -1, "deliveries_days": 0, "sessions_days": 0, "admin_detail_days": 0}, 400},
		}
		for _, c := range cases {
			r := e.do(t, c.method, c.path, c.who.access, c.body)
			if r.status != c.want {
				t.Errorf("%s: %s %s answered %d, want %d: %s", c.name, c.method, c.path, r.status, c.want, r.raw)
			}
		}
		// Another organisation's member or hold answers as a missing one.
		for _, p := range [][2]string{{"/v1/members/" + theirs + "/erase", "/v1/members/mem_missing/erase"}, {"/v1/holds/" + bHold + "/end", "/v1/holds/hold_missing/end"}} {
			x, y := e.do(t, "POST", p[0], a.owner.access, confirm(theirs)), e.do(t, "POST", p[1], a.owner.access, confirm("mem_missing"))
			if x.status != 404 || y.status != 404 || x.code() != y.code() {
				t.Errorf("%s: %d %s; missing: %d %s", p[0], x.status, x.raw, y.status, y.raw)
			}
		}

		// Nothing changed.
		bsc := store.MemberScope(b.owner.orgID, b.owner.memberID)
		if m, err := e.st.GetMember(ctx, bsc, theirs); err != nil || !m.ErasedAt.IsZero() || m.Name != "Bo Other" {
			t.Errorf("other org's member: %+v, %v", m, err)
		}
		if hs, err := e.st.ListHolds(ctx, bsc); err != nil || len(hs) != 1 || !hs[0].Active(time.Now()) {
			t.Errorf("other org's holds: %+v, %v", hs, err)
		}
		asc := store.MemberScope(a.owner.orgID, a.owner.memberID)
		if hs, err := e.st.ListHolds(ctx, asc); err != nil || len(hs) != 0 {
			t.Errorf("A's holds after refused writes: %+v, %v", hs, err)
		}
		if m, err := e.st.GetMember(ctx, asc, target); err != nil || !m.ErasedAt.IsZero() {
			t.Errorf("target erased by a refused call: %+v, %v", m, err)
		}

		// The site manager of the target's site erases; the answer is the
		// tombstone.
		got := MustStatus(t, e.do(t, "POST", "/v1/members/"+target+"/erase", manager.access, confirm(target)), 200)
		if got.body["name"] != "" || got.body["erased_at"] == nil {
			t.Errorf("erase answered %s", got.raw)
		}
	})
}
