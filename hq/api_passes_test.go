package hq_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"keycab.dev/keycab"
	"keycab.dev/keycab/hq/store"
	"keycab.dev/keycab/sync/agent"
	"keycab.dev/keycab/sync/wire"
)

// Offline passes through the API on both engines: who may issue, list and
// revoke, malformed and out-of-bounds bodies, another organisation's, the
// admin log with before and after, and the kiosk's side of it: the code
// verifies with the key the kiosk pinned at enrolment, and a revoked pass
// reaches the kiosk in its next bundle.
func TestPassesAPI(t *testing.T) {
	forEachEngine(t, func(t *testing.T, eng engine) {
		ctx := context.Background()
		e := newEnv(t, eng, withKioskAPI(t, nil))
		a, b := e.MustWorld(t, "Acme"), e.MustWorld(t, "Other")
		own := store.MemberScope(a.owner.orgID, a.owner.memberID)
		site2, err := e.st.CreateSite(ctx, own, store.Site{Site: keycab.Site{Name: "Depot two"}})
		MustNoErr(t, err)
		auditor := e.MustJoin(t, a.owner, "auditor@acme.test", "auditor")
		plumber := e.MustJoin(t, a.owner, "plumber@acme.test", "contractor")
		manager := e.MustJoinAt(t, a.owner, "manager@acme.test", "site_manager", a.site.ID)
		elsewhere := e.MustJoinAt(t, a.owner, "far@acme.test", "site_manager", site2.ID)
		otherPlumber := e.MustJoin(t, b.owner, "plumber@other.test", "contractor")
		roofer := e.MustJoinAt(t, a.owner, "roofer@acme.test", "contractor", site2.ID)
		now := e.clock.Now()
		body := func(member string, ks ...string) map[string]any {
			return map[string]any{"member_id": member, "key_set_ids": ks, "not_before": now.Add(-time.Hour), "not_after": now.Add(8 * time.Hour), "note": "WO-1234 boiler"}
		}
		good := body(plumber.memberID, a.ks[0].ID, a.ks[1].ID)

		for _, u := range []*user{a.staff, auditor, plumber} {
			r := MustStatus(t, e.do(t, "POST", "/v1/passes", u.access, good), 403)
			if r.code() != keycab.EFORBIDDEN {
				t.Fatalf("%s: %s", u.email, r.raw)
			}
		}
		// A manager of another site does not see these key sets.
		MustStatus(t, e.do(t, "POST", "/v1/passes", elsewhere.access, good), 404)
		MustStatus(t, e.do(t, "GET", "/v1/passes", a.staff.access, nil), 403)
		MustStatus(t, e.do(t, "GET", "/v1/passes", plumber.access, nil), 403)

		// Malformed or out of bounds: 400 saying what is wrong.
		for _, c := range []struct {
			body any
			want string
		}{
			{"not an object", ""},
			{body(plumber.memberID), "at least one key set"},
			{map[string]any{"member_id": plumber.memberID, "key_set_ids": []string{a.ks[0].ID}}, "not_before and not_after"},
			{map[string]any{"member_id": plumber.memberID, "key_set_ids": []string{a.ks[0].ID}, "not_before": now, "not_after": now.Add(-time.Minute)}, "after not_before"},
			{map[string]any{"member_id": plumber.memberID, "key_set_ids": []string{a.ks[0].ID}, "not_before": now, "not_after": now.Add(32 * 24 * time.Hour)}, "31 days"},
			{map[string]any{"member_id": plumber.memberID, "key_set_ids": []string{a.ks[0].ID}, "not_before": now.Add(-3 * time.Hour), "not_after": now.Add(-time.Hour)}, "in the past"},
			{body(plumber.memberID, a.ks[0].ID, a.ks[0].ID), "named twice"},
			{body(a.staff.memberID, a.ks[0].ID), "passes are for contractors"},
			{body(roofer.memberID, a.ks[0].ID), "does not work at the site of"},
		} {
			r := MustStatus(t, e.do(t, "POST", "/v1/passes", a.owner.access, c.body), 400)
			if r.code() != keycab.EINVALID || !strings.Contains(r.raw, c.want) {
				t.Fatalf("%v: %s", c.body, r.raw)
			}
		}
		// Another organisation's key set or member: as missing as none.
		MustStatus(t, e.do(t, "POST", "/v1/passes", a.owner.access, body(plumber.memberID, b.ks[0].ID)), 404)
		MustStatus(t, e.do(t, "POST", "/v1/passes", a.owner.access, body(otherPlumber.memberID, a.ks[0].ID)), 404)

		// Those who may: the owner, and the site's manager.
		r := MustStatus(t, e.do(t, "POST", "/v1/passes", a.owner.access, good), 201)
		code, id := r.str("code"), r.str("id")
		if !strings.HasPrefix(code, wire.PassPrefix) || r.str("state") != "valid" || r.str("issued_by") != a.owner.memberID || r.str("member_id") != plumber.memberID {
			t.Fatalf("issued %s", r.raw)
		}
		MustStatus(t, e.do(t, "POST", "/v1/passes", manager.access, body(plumber.memberID, a.ks[2].ID)), 201)
		theirs := MustStatus(t, e.do(t, "POST", "/v1/passes", b.owner.access, body(otherPlumber.memberID, b.ks[0].ID)), 201)

		l := MustStatus(t, e.do(t, "GET", "/v1/passes", auditor.access, nil), 200)
		if ps := l.body["passes"].([]any); len(ps) != 2 || strings.Contains(l.raw, code) || strings.Contains(l.raw, theirs.str("id")) {
			t.Fatalf("list: %s", l.raw)
		}
		if l := MustStatus(t, e.do(t, "GET", "/v1/passes", elsewhere.access, nil), 200); len(l.body["passes"].([]any)) != 0 {
			t.Fatalf("a manager of another site lists %s", l.raw)
		}
		// Another organisation's pass: not found, to revoke as to list.
		MustStatus(t, e.do(t, "POST", "/v1/passes/"+theirs.str("id")+"/revoke", a.owner.access, nil), 404)
		MustStatus(t, e.do(t, "POST", "/v1/passes/"+id+"/revoke", elsewhere.access, nil), 403)

		// The kiosk's side: the code verifies with the key it pinned, and
		// names the organisation (another's verifies too, being HQ's, and
		// the kiosk refuses it by its organisation).
		k := e.MustEnrolKiosk(t, own, a.cab.ID, "kiosk")
		p, err := wire.OpenPass(code, k.peer.ConfigKey)
		MustNoErr(t, err)
		if p.ID != id || p.OrgID != a.owner.orgID || p.MemberID != plumber.memberID || strings.Join(p.KeySetIDs, ",") != a.ks[0].ID+","+a.ks[1].ID ||
			p.NotBefore != now.Add(-time.Hour).Unix() || p.NotAfter != now.Add(8*time.Hour).Unix() {
			t.Fatalf("pass %+v", p)
		}
		if op, err := wire.OpenPass(theirs.str("code"), k.peer.ConfigKey); err != nil || op.OrgID != b.owner.orgID {
			t.Fatalf("another organisation's pass: %+v %v", op, err)
		}
		ag, err := agent.New(ctx, agent.Config{DB: k.db, Key: k.key})
		MustNoErr(t, err)
		pull := func() *keycab.Config {
			t.Helper()
			_, err := ag.PullConfig(ctx, 0)
			MustNoErr(t, err)
			c, err := k.db.Snapshot(ctx)
			MustNoErr(t, err)
			return c
		}
		c := pull()
		holder := false
		for _, m := range c.Members {
			holder = holder || m.ID == plumber.memberID
		}
		if len(c.RevokedPasses) != 0 || !holder {
			t.Fatalf("bundle before revocation: revoked %v, the holder in it: %v", c.RevokedPasses, holder)
		}

		rv := MustStatus(t, e.do(t, "POST", "/v1/passes/"+id+"/revoke", manager.access, nil), 200)
		if rv.str("state") != "revoked" || rv.str("revoked_by") != manager.memberID {
			t.Fatalf("revoked %s", rv.raw)
		}
		if r := MustStatus(t, e.do(t, "POST", "/v1/passes/"+id+"/revoke", a.owner.access, nil), 409); r.code() != keycab.ECONFLICT {
			t.Fatalf("revoked twice: %s", r.raw)
		}
		e.clock.Advance(time.Second) // a new bundle version
		if c := pull(); strings.Join(c.RevokedPasses, ",") != id {
			t.Fatalf("bundle after revocation lists %v, want %s", c.RevokedPasses, id)
		}
		// Expired, it stays listed for store.RevokedPassesKept (a kiosk
		// whose clock runs slow must still refuse it), then leaves.
		e.clock.Advance(9 * time.Hour)
		if c := pull(); strings.Join(c.RevokedPasses, ",") != id {
			t.Fatalf("a pass just expired is not listed: %v", c.RevokedPasses)
		}
		e.clock.Advance(store.RevokedPassesKept)
		if c := pull(); len(c.RevokedPasses) != 0 {
			t.Fatalf("a pass expired %v ago still listed: %v", store.RevokedPassesKept, c.RevokedPasses)
		}

		e.MustLogin(t, a.owner) // nine hours idle
		log := MustStatus(t, e.do(t, "GET", "/v1/admin-log", a.owner.access, nil), 200)
		for _, want := range []string{"pass.issue", "pass.revoke", "before: none; after: pass for " + plumber.memberID,
			"after: pass for " + plumber.memberID + " to " + a.ks[0].ID + ", " + a.ks[1].ID + " from ", ", revoked "} {
			if !strings.Contains(log.raw, want) {
				t.Fatalf("admin log has no %q: %s", want, log.raw)
			}
		}
	})
}

// TestErasureRevokesPasses: erasing a contractor revokes the passes they
// hold and clears the notes HQ kept with them, on both engines.
func TestErasureRevokesPasses(t *testing.T) {
	forEachEngine(t, func(t *testing.T, eng engine) {
		e := newEnv(t, eng, withKioskAPI(t, nil))
		a := e.MustWorld(t, "Acme")
		plumber := e.MustJoin(t, a.owner, "plumber@acme.test", "contractor")
		now := e.clock.Now()
		p := MustStatus(t, e.do(t, "POST", "/v1/passes", a.owner.access, map[string]any{"member_id": plumber.memberID, "key_set_ids": []string{a.ks[0].ID},
			"not_before": now.Add(-time.Hour), "not_after": now.Add(8 * time.Hour), "note": "WO-77 for Pat Plumber, 07700 900123"}), 201)
		MustStatus(t, e.do(t, "POST", "/v1/members/"+plumber.memberID+"/erase", a.owner.access, map[string]any{"confirm": plumber.memberID}), 200)
		l := MustStatus(t, e.do(t, "GET", "/v1/passes", a.owner.access, nil), 200)
		ps := l.body["passes"].([]any)
		if len(ps) != 1 {
			t.Fatalf("passes after erasure: %s", l.raw)
		}
		got := ps[0].(map[string]any)
		if got["id"] != p.str("id") || got["state"] != "revoked" || strings.Contains(l.raw, "Pat Plumber") || strings.Contains(l.raw, "07700") {
			t.Fatalf("an erased contractor's pass: %s", l.raw)
		}
	})
}
