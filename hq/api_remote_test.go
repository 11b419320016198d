package hq_test

import (
	"context"
	"strings"
	"testing"

	"keycab.dev/keycab"
	"keycab.dev/keycab/hq/store"
)

// Remote actions through the API on both engines: who may ask, another
// organisation's kiosk, malformed bodies, the list and the admin log.
func TestRemoteActionsAPI(t *testing.T) {
	forEngine(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		a, b := e.MustWorld(t, "Acme"), e.MustWorld(t, "Other")
		own := store.MemberScope(a.owner.orgID, a.owner.memberID)
		site2, err := e.st.CreateSite(ctx, own, store.Site{Site: keycab.Site{Name: "Depot two"}})
		MustNoErr(t, err)
		auditor := e.MustJoin(t, a.owner, "auditor@acme.test", "auditor")
		contractor := e.MustJoin(t, a.owner, "plumber@acme.test", "contractor")
		manager := e.MustJoinAt(t, a.owner, "manager@acme.test", "site_manager", a.site.ID)
		elsewhere := e.MustJoinAt(t, a.owner, "far@acme.test", "site_manager", site2.ID)
		path := "/v1/kiosks/" + a.kiosk.ID + "/actions"
		release := map[string]any{"kind": "release_slot", "slot": 1, "reason": "courier locked out"}

		for _, u := range []*user{a.staff, auditor, contractor, elsewhere} {
			r := MustStatus(t, e.do(t, "POST", path, u.access, release), 403)
			if r.code() != keycab.EFORBIDDEN {
				t.Fatalf("%s: %s", u.email, r.raw)
			}
		}
		MustStatus(t, e.do(t, "GET", path, a.staff.access, nil), 403)
		MustStatus(t, e.do(t, "GET", path, elsewhere.access, nil), 403)
		// Another organisation's kiosk: as missing as one that is not.
		cross := MustStatus(t, e.do(t, "POST", "/v1/kiosks/"+b.kiosk.ID+"/actions", a.owner.access, release), 404)
		miss := MustStatus(t, e.do(t, "POST", "/v1/kiosks/kiosk_nope/actions", a.owner.access, release), 404)
		if strings.ReplaceAll(cross.raw, b.kiosk.ID, "ID") != strings.ReplaceAll(miss.raw, "kiosk_nope", "ID") {
			t.Fatalf("another org's kiosk answers %s, a missing one %s", cross.raw, miss.raw)
		}
		MustStatus(t, e.do(t, "GET", "/v1/kiosks/"+b.kiosk.ID+"/actions", a.owner.access, nil), 404)

		// Malformed bodies: 400 with a message that says what is wrong.
		for _, c := range []struct {
			body any
			want string
		}{
			{"not an object", ""},
			{map[string]any{"kind": "explode"}, "kind"},
			{map[string]any{"kind": "release_door"}, "reason"},
			{map[string]any{"kind": "release_slot", "reason": "x"}, "slot"},
			{map[string]any{"kind": "hand_over", "key_set_id": a.ks[0].ID}, "member"},
			{map[string]any{"kind": "mark_lost", "slot": 2, "key_set_id": a.ks[0].ID}, "slot"},
		} {
			r := MustStatus(t, e.do(t, "POST", path, a.owner.access, c.body), 400)
			if r.code() != keycab.EINVALID || !strings.Contains(r.raw, c.want) {
				t.Fatalf("%v: %s", c.body, r.raw)
			}
		}
		MustStatus(t, e.do(t, "POST", path, a.owner.access, map[string]any{"kind": "mark_lost", "key_set_id": b.ks[0].ID}), 404)

		// Those who may.
		r := MustStatus(t, e.do(t, "POST", path, a.owner.access, release), 201)
		if r.str("outcome") != "pending" || r.str("requested_by") != a.owner.memberID || r.str("kind") != "release_slot" {
			t.Fatalf("created %s", r.raw)
		}
		MustStatus(t, e.do(t, "POST", path, manager.access, map[string]any{"kind": "mark_returned", "key_set_id": a.ks[0].ID}), 201)
		fob := MustStatus(t, e.do(t, "POST", path, manager.access, map[string]any{"kind": "replace_fob", "key_set_id": a.ks[1].ID}), 201)
		if !strings.HasPrefix(fob.str("new_token"), "kc1.") {
			t.Fatalf("replace_fob answers no new token: %s", fob.raw)
		}
		l := MustStatus(t, e.do(t, "GET", path, auditor.access, nil), 200)
		acts := l.body["actions"].([]any)
		if len(acts) != 3 || strings.Contains(l.raw, fob.str("new_token")) {
			t.Fatalf("list: %s", l.raw)
		}
		log := MustStatus(t, e.do(t, "GET", "/v1/admin-log", a.owner.access, nil), 200)
		for _, want := range []string{"remote.release_slot", "remote.mark_returned", "remote.replace_fob"} {
			if !strings.Contains(log.raw, want) {
				t.Fatalf("admin log has no %s: %s", want, log.raw)
			}
		}
	})
}
