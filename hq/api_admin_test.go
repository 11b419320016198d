package hq_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"keycab.dev/keycab"
	"keycab.dev/keycab/hq/store"
)

// enrolWith burns an enrolment token at the store, as HQ's sync handler
// does when a kiosk enrols.
func enrolWith(e *env, token string) error {
	_, _, err := e.st.Enrol(context.Background(), token, make([]byte, 32), "kiosk", func(id string) (string, string, error) {
		return "test.keycab/" + id, "test.keycab/" + id + "+00000000+AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", nil
	})
	return err
}

// Enrolment tokens from the API: owners issue them for their cabinets
// (24 hours by default, bounded), each enrols one kiosk; staff, auditors
// and other organisations cannot issue them. HQ's admin log is readable
// by owners and auditors, not staff, and records the token.
func TestEnrolTokensAndAdminLog(t *testing.T) {
	forEngine(t, func(t *testing.T, e *env) {
		owner := e.MustSignup(t, "Acme", "owner@acme.test")
		o := owner.access
		sid := MustStatus(t, e.do(t, "POST", "/v1/sites", o, map[string]any{"name": "Depot"}), 201).str("id")
		cab := MustStatus(t, e.do(t, "POST", "/v1/cabinets", o, map[string]any{"site_id": sid, "name": "front", "kind": "slotted"}), 201).str("id")

		r := MustStatus(t, e.do(t, "POST", "/v1/cabinets/"+cab+"/enrol-tokens", o, nil), 201)
		tok := r.str("token")
		if tok == "" || r.str("cabinet_id") != cab {
			t.Fatalf("token answer %s", r.raw)
		}
		if exp, _ := r.body["expires_at"].(string); !strings.HasPrefix(exp, "2026-03-03T09:00:00") {
			t.Errorf("expires_at %v, want 24 hours after 2026-03-02T09:00Z", r.body["expires_at"])
		}
		MustNoErr(t, enrolWith(e, tok))
		if err := enrolWith(e, tok); keycab.ErrorCode(err) != keycab.EUNAUTHORIZED {
			t.Fatalf("a used token enrolled again: %v", err)
		}
		kiosks := MustStatus(t, e.do(t, "GET", "/v1/kiosks", o, nil), 200)
		kioskID := kiosks.body["kiosks"].([]any)[0].(map[string]any)["id"].(string)
		r = MustStatus(t, e.do(t, "POST", "/v1/cabinets/"+cab+"/enrol-tokens", o, map[string]any{"ttl_hours": 2}), 201)
		if exp, _ := r.body["expires_at"].(string); !strings.HasPrefix(exp, "2026-03-02T11:00:00") {
			t.Errorf("ttl_hours 2: expires_at %v", r.body["expires_at"])
		}
		MustStatus(t, e.do(t, "POST", "/v1/cabinets/"+cab+"/enrol-tokens", o, map[string]any{"ttl_hours": 1000}), 400)
		MustStatus(t, e.do(t, "POST", "/v1/cabinets/"+cab+"/enrol-tokens", o, map[string]any{"cabinet_id": "other"}), 400)

		staff := e.MustJoin(t, owner, "staff@acme.test", "staff")
		auditor := e.MustJoin(t, owner, "audit@acme.test", "auditor")
		other := e.MustSignup(t, "Other", "owner@other.test")
		MustStatus(t, e.do(t, "POST", "/v1/cabinets/"+cab+"/enrol-tokens", staff.access, nil), 403)
		MustStatus(t, e.do(t, "POST", "/v1/cabinets/"+cab+"/enrol-tokens", auditor.access, nil), 403)
		MustStatus(t, e.do(t, "POST", "/v1/cabinets/"+cab+"/enrol-tokens", other.access, nil), 404)
		MustStatus(t, e.do(t, "POST", "/v1/cabinets/no-such-cabinet/enrol-tokens", o, nil), 404)

		// Revoking the kiosk: not by staff, auditors or other orgs; by the owner.
		orgID := MustStatus(t, e.do(t, "GET", "/v1/org", o, nil), 200).str("id")
		if _, err := e.st.KioskConfig(context.Background(), store.KioskScope(orgID, kioskID)); err != nil {
			t.Fatalf("the kiosk cannot read its config before revocation: %v", err)
		}
		MustStatus(t, e.do(t, "POST", "/v1/kiosks/"+kioskID+"/revoke", staff.access, nil), 404)
		MustStatus(t, e.do(t, "POST", "/v1/kiosks/"+kioskID+"/revoke", auditor.access, nil), 403)
		MustStatus(t, e.do(t, "POST", "/v1/kiosks/"+kioskID+"/revoke", other.access, nil), 404)
		MustStatus(t, e.do(t, "POST", "/v1/kiosks/"+kioskID+"/revoke", o, nil), 204)
		if _, err := e.st.KioskConfig(context.Background(), store.KioskScope(orgID, kioskID)); err == nil {
			t.Fatal("a revoked kiosk still reads its config")
		}
		if k := MustStatus(t, e.do(t, "GET", "/v1/kiosks", o, nil), 200).body["kiosks"].([]any)[0].(map[string]any); k["revoked"] != true {
			t.Fatalf("kiosk after revocation: %v", k)
		}

		for _, u := range []*user{owner, auditor} {
			r := MustStatus(t, e.do(t, "GET", "/v1/admin-log?limit=50", u.access, nil), 200)
			var actions []string
			for _, a := range r.body["actions"].([]any) {
				actions = append(actions, a.(map[string]any)["action"].(string))
			}
			joined := strings.Join(actions, " ")
			if strings.Count(joined, "kiosk.enrol_token") != 2 || !strings.Contains(joined, "site.create") {
				t.Fatalf("%s reads the admin log as %v", u.email, actions)
			}
		}
		MustStatus(t, e.do(t, "GET", "/v1/admin-log", staff.access, nil), 403)
		MustStatus(t, e.do(t, "GET", "/v1/admin-log?limit=0", o, nil), 400)
		if r := MustStatus(t, e.do(t, "GET", "/v1/admin-log", other.access, nil), 200); strings.Contains(r.raw, "kiosk.enrol_token") {
			t.Fatalf("another organisation reads this one's admin log: %s", r.raw)
		}
	})
}

// The dashboard: the cabinet page issues an enrolment token once, with
// the command to run on the Pi; staff get no form and a refused post; the
// admin log page lists the token for owners and is refused to staff.
func TestDashboardEnrolTokenAndAdminLog(t *testing.T) {
	for _, eng := range engines() {
		t.Run(eng.name, func(t *testing.T) {
			e := newDashEnv(t, eng, nil, false)
			w := e.web()
			w.MustSignupWeb(t, "Acme Lettings", "Ann Owner", "ann@acme.test")
			sc := e.scopeOf(t, w)
			ctx := context.Background()
			site, err := e.st.CreateSite(ctx, sc, store.Site{Site: keycab.Site{Name: "Quay"}})
			MustNoErr(t, err)
			c, err := e.st.CreateCabinet(ctx, sc, keycab.Cabinet{SiteID: site.ID, Name: "Front", Kind: keycab.Slotted})
			MustNoErr(t, err)

			MustPage(t, w.get(t, "/cabinets/"+c.ID), http.StatusOK, `data-testid="enrol-form"`)
			p := MustPage(t, w.post(t, "/cabinets/"+c.ID+"/enrol-token", url.Values{"ttl_hours": {"1"}}), http.StatusOK,
				`data-testid="enrol-token"`, "sudo -u keycab keycab-kiosk enroll --hq http://127.0.0.1:")
			i := strings.Index(p.body, "--token ")
			if i < 0 {
				t.Fatal("no token on the page")
			}
			tok := strings.Fields(p.body[i+len("--token "):])[0]
			MustNoErr(t, enrolWith(e, tok))
			if strings.Contains(w.get(t, "/cabinets/"+c.ID).body, tok) {
				t.Fatal("the token is shown again")
			}
			ks, err := e.st.ListKiosks(ctx, sc)
			MustNoErr(t, err)
			if len(ks) != 1 {
				t.Fatalf("kiosks after enrolment: %+v", ks)
			}
			MustPage(t, w.get(t, "/audit"), http.StatusOK, "kiosk.enrol_token", "site.create")

			staff := e.MustJoinWeb(t, w, "sam@acme.test", keycab.RoleStaff)
			if strings.Contains(staff.get(t, "/cabinets/"+c.ID).body, `data-testid="enrol-form"`) {
				t.Error("staff are offered the enrolment form")
			}
			if p := staff.post(t, "/cabinets/"+c.ID+"/enrol-token", nil); p.status != http.StatusForbidden {
				t.Errorf("staff post: %d", p.status)
			}
			if p := staff.get(t, "/audit"); p.status != http.StatusForbidden {
				t.Errorf("staff read the admin log: %d", p.status)
			}

			// The kiosks page revokes a kiosk; staff cannot.
			if p := staff.post(t, "/kiosks/"+ks[0].ID+"/revoke", nil); p.status == http.StatusSeeOther {
				t.Error("staff revoked a kiosk")
			}
			MustPage(t, w.get(t, "/kiosks"), http.StatusOK, `data-testid="revoke-kiosk"`)
			MustPage(t, w.post(t, "/kiosks/"+ks[0].ID+"/revoke", nil), http.StatusSeeOther)
			p = MustPage(t, w.get(t, "/kiosks?notice=kioskrevoked"), http.StatusOK, "Revoked", "Kiosk revoked")
			if strings.Contains(p.body, `data-testid="revoke-kiosk"`) {
				t.Error("a revoked kiosk is offered for revocation again")
			}
		})
	}
}

// A member's JSON says whether a PIN is set, never the hash.
func TestMemberHasPIN(t *testing.T) {
	forEngine(t, func(t *testing.T, e *env) {
		owner := e.MustSignup(t, "Acme", "owner@acme.test")
		o := owner.access
		id := MustStatus(t, e.do(t, "POST", "/v1/members", o, map[string]any{"name": "Kim Kiosk", "role": "staff"}), 201).str("id")
		hasPIN := func() any {
			r := MustStatus(t, e.do(t, "GET", "/v1/members/"+id, o, nil), 200)
			if strings.Contains(r.raw, "argon2") || strings.Contains(r.raw, store.RedactedPIN) {
				t.Fatalf("member JSON shows the PIN hash: %s", r.raw)
			}
			return r.body["has_pin"]
		}
		if hasPIN() != false {
			t.Fatal("a new member has a PIN")
		}
		MustStatus(t, e.do(t, "PUT", "/v1/members/"+id+"/pin", o, map[string]any{"pin": "482913"}), 204)
		if hasPIN() != true {
			t.Fatal("has_pin false after setting a PIN")
		}
		MustStatus(t, e.do(t, "DELETE", "/v1/members/"+id+"/pin", o, nil), 204)
		if hasPIN() != false {
			t.Fatal("has_pin true after clearing the PIN")
		}
	})
}

// Accepting an invitation is one transaction: when the inviter may no
// longer grant what they offered, nothing is made (no account, no member)
// and the invitation stays usable; once they may again, it works.
func TestInviteAcceptanceAllOrNothing(t *testing.T) {
	forEngine(t, func(t *testing.T, e *env) {
		owner := e.MustSignup(t, "Acme", "owner@acme.test")
		o := owner.access
		sid := MustStatus(t, e.do(t, "POST", "/v1/sites", o, map[string]any{"name": "Depot"}), 201).str("id")
		mgr := e.MustJoinAt(t, owner, "mgr@acme.test", "site_manager", sid)
		mgrID := MustStatus(t, e.do(t, "GET", "/v1/me", mgr.access, nil), 200).body["member"].(map[string]any)["id"].(string)
		MustStatus(t, e.do(t, "POST", "/v1/invites", mgr.access, map[string]any{"email": "new@acme.test", "role": "staff", "site_ids": []string{sid}}), 201)
		tok := e.mail.MustToken(t, "invite", "new@acme.test")

		MustStatus(t, e.do(t, "PATCH", "/v1/members/"+mgrID, o, map[string]any{"role": "staff"}), 200)
		accept := map[string]string{"token": tok, "name": "Newcomer", "password": goodPassword}
		if r := e.do(t, "POST", "/v1/invites/accept", "", accept); r.status == 200 {
			t.Fatal("accepted an invitation its inviter may no longer grant")
		}
		if _, err := e.st.Accounts().AccountByEmail(context.Background(), "new@acme.test"); keycab.ErrorCode(err) != keycab.ENOTFOUND {
			t.Fatalf("a refused acceptance left an account: %v", err)
		}
		MustStatus(t, e.do(t, "PATCH", "/v1/members/"+mgrID, o, map[string]any{"role": "site_manager", "site_ids": []string{sid}}), 200)
		MustStatus(t, e.do(t, "POST", "/v1/invites/accept", "", accept), 200)
		if r := e.do(t, "POST", "/v1/invites/accept", "", accept); r.status == 200 {
			t.Fatal("an invitation was accepted twice")
		}
	})
}
