package hq_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"keycab.dev/keycab/hq/auth"
	"keycab.dev/keycab/hq/store"
	"keycab.dev/keycab/sync/wire"
)

// Deleting an organisation at the API: owners only, with their password,
// their MFA code and the name typed; meanwhile its kiosks and other
// members are refused and its owner may read and restore; after the grace
// period HQ removes it and its owner's session and kiosk are unknown.
func TestOrgDeletionAPI(t *testing.T) {
	forEachEngine(t, func(t *testing.T, eng engine) {
		ctx := context.Background()
		e := newEnv(t, eng, withKioskAPI(t, nil))
		w := e.MustWorld(t, "Acme")
		other := e.MustWorld(t, "Other")
		admin := e.MustJoin(t, w.owner, "admin@acme.test", "admin")
		k := e.MustEnrolKiosk(t, store.MemberScope(w.owner.orgID, w.owner.memberID), w.cab.ID, "kiosk")
		kioskPoll := func() int {
			req, err := http.NewRequest(http.MethodGet, e.srv.URL+wire.PathConfig+"?after=0&wait=0", nil)
			MustNoErr(t, err)
			wire.SignRequest(req, nil, k.peer.OrgID, k.peer.KioskID, k.key.Private, time.Now())
			res, err := http.DefaultClient.Do(req)
			MustNoErr(t, err)
			res.Body.Close()
			return res.StatusCode
		}
		if got := kioskPoll(); got != 200 {
			t.Fatalf("kiosk poll before: %d", got)
		}
		ask := map[string]string{"confirm": "Acme", "password": goodPassword}

		// Refusals: not an owner, no password, a wrong name, another org.
		if r := e.do(t, "POST", "/v1/org/deletion", admin.access, ask); r.status != 403 {
			t.Fatalf("an admin deleted the organisation: %d %s", r.status, r.raw)
		}
		if r := e.do(t, "POST", "/v1/org/deletion", w.staff.access, ask); r.status != 403 {
			t.Fatalf("staff deleted the organisation: %d %s", r.status, r.raw)
		}
		if r := e.do(t, "POST", "/v1/org/deletion", w.owner.access, map[string]string{"confirm": "Acme", "password": "not it at all"}); r.status != 401 {
			t.Fatalf("deleted with a wrong password: %d %s", r.status, r.raw)
		}
		if r := e.do(t, "POST", "/v1/org/deletion", w.owner.access, map[string]string{"confirm": "Acme"}); r.status != 401 {
			t.Fatalf("deleted without a password: %d %s", r.status, r.raw)
		}
		if r := e.do(t, "POST", "/v1/org/deletion", w.owner.access, map[string]string{"confirm": "Other", "password": goodPassword}); r.status != 400 {
			t.Fatalf("deleted with another organisation's name: %d %s", r.status, r.raw)
		}
		if r := e.do(t, "POST", "/v1/org/deletion", w.owner.access, "not an object"); r.status != 400 {
			t.Fatalf("a body that is no object: %d %s", r.status, r.raw)
		}
		secret := e.MustEnableMFA(t, w.owner)
		if r := e.do(t, "POST", "/v1/org/deletion", w.owner.access, ask); r.status != 401 || !strings.Contains(r.raw, "code") {
			t.Fatalf("deleted without the MFA code: %d %s", r.status, r.raw)
		}
		withCode := map[string]string{"confirm": "Acme", "password": goodPassword, "code": auth.TOTPCode(secret, e.clock.Now())}
		r := MustStatus(t, e.do(t, "POST", "/v1/org/deletion", w.owner.access, withCode), 202)
		if r.body["scheduled"] != true || r.str("delete_after") == "" {
			t.Fatalf("scheduled %s", r.raw)
		}
		if r := e.do(t, "POST", "/v1/org/deletion", w.owner.access, withCode); r.status != 401 {
			t.Fatalf("the same MFA code worked twice: %d %s", r.status, r.raw)
		}

		// Meanwhile.
		if got := kioskPoll(); got != 403 {
			t.Fatalf("a kiosk of a deleted organisation polled: %d", got)
		}
		if r := e.do(t, "GET", "/v1/members", admin.access, nil); r.status != 403 || !strings.Contains(r.raw, "scheduled for deletion") {
			t.Fatalf("an admin of a deleted organisation: %d %s", r.status, r.raw)
		}
		MustStatus(t, e.do(t, "GET", "/v1/events", w.owner.access, nil), 200) // the export stays open to owners
		if r := e.do(t, "POST", "/v1/sites", w.owner.access, map[string]string{"name": "new"}); r.status != 403 {
			t.Fatalf("the owner changed a deleted organisation: %d %s", r.status, r.raw)
		}
		if r := e.do(t, "DELETE", "/v1/org/deletion", other.owner.access, nil); r.status != 409 {
			t.Fatalf("another organisation's owner restored: %d %s", r.status, r.raw)
		}
		if r := e.do(t, "DELETE", "/v1/org/deletion", admin.access, nil); r.status != 403 {
			t.Fatalf("an admin restored: %d %s", r.status, r.raw)
		}
		MustStatus(t, e.do(t, "GET", "/v1/members", other.owner.access, nil), 200)

		// Restored: all back.
		r = MustStatus(t, e.do(t, "DELETE", "/v1/org/deletion", w.owner.access, nil), 200)
		if r.body["scheduled"] != false {
			t.Fatalf("restored %s", r.raw)
		}
		MustStatus(t, e.do(t, "GET", "/v1/members", admin.access, nil), 200)
		if got := kioskPoll(); got != 200 {
			t.Fatalf("the kiosk after the restore: %d", got)
		}

		// Deleted for good after the grace period.
		e.clock.Advance(30 * time.Second)
		withCode["code"] = auth.TOTPCode(secret, e.clock.Now())
		MustStatus(t, e.do(t, "POST", "/v1/org/deletion", w.owner.access, withCode), 202)
		e.clock.Advance(store.DefaultDeletionGrace)
		// The owner signs in again (the session has expired meanwhile).
		r = MustStatus(t, e.do(t, "POST", "/v1/auth/login", "", map[string]string{"email": w.owner.email, "password": goodPassword}), 200)
		r = MustStatus(t, e.do(t, "POST", "/v1/auth/mfa", "", map[string]string{"mfa_token": r.str("mfa_token"), "code": auth.TOTPCode(secret, e.clock.Now())}), 200)
		w.owner.set(r)
		if r := e.do(t, "DELETE", "/v1/org/deletion", w.owner.access, nil); r.status != 403 {
			t.Fatalf("restored after the grace period: %d %s", r.status, r.raw)
		}
		ids, err := e.st.PurgeDeletedOrgs(ctx)
		MustNoErr(t, err)
		if len(ids) != 1 || ids[0] != w.owner.orgID {
			t.Fatalf("purged %v", ids)
		}
		if r := e.do(t, "GET", "/v1/org", w.owner.access, nil); r.status != 401 {
			t.Fatalf("the deleted organisation's owner: %d %s", r.status, r.raw)
		}
		if got := kioskPoll(); got != 401 {
			t.Fatalf("the deleted organisation's kiosk: %d", got)
		}
		e.MustLogin(t, other.owner)
		MustStatus(t, e.do(t, "GET", "/v1/members", other.owner.access, nil), 200)
	})
}
