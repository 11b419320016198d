package hq_test

import (
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"keycab.dev/keycab"
	"keycab.dev/keycab/hq/auth"
	"keycab.dev/keycab/hq/mail"
)

// signupRaw signs up without verifying the address.
func (e *env) signupRaw(tb testing.TB, org, email string) *user {
	tb.Helper()
	r := MustStatus(tb, e.do(tb, "POST", "/v1/signup", "", map[string]string{
		"org_name": org, "name": "Owner of " + org, "email": email, "password": goodPassword}), 200)
	u := &user{email: email, password: goodPassword}
	u.set(r)
	return u
}

// mustRefuse checks that r is a 403 whose message contains want.
func mustRefuse(tb testing.TB, what string, r resp, want string) {
	tb.Helper()
	m, _ := r.body["error"].(map[string]any)
	msg, _ := m["message"].(string)
	if r.status != 403 || r.code() != keycab.EFORBIDDEN || !strings.Contains(msg, want) {
		tb.Fatalf("%s: %d %s, want 403 saying %q", what, r.status, r.raw, want)
	}
}

// An unverified account can do nothing but verify, resend the link
// (rate-limited), see itself and sign out; the link works once and
// expires; a resent link replaces the last.
func TestEmailVerification(t *testing.T) {
	forEngine(t, func(t *testing.T, e *env) {
		u := e.signupRaw(t, "Acme", "ann@acme.test")
		first := e.mail.MustToken(t, "verify", u.email)
		if !strings.HasPrefix(first, "kcv_") || strings.Contains(e.logText(), first) {
			t.Fatalf("verification token %q (or it is in the log)", first)
		}
		for _, c := range []struct{ method, path string }{
			{"GET", "/v1/sites"}, {"GET", "/v1/members"}, {"GET", "/v1/org"}, {"GET", "/v1/me/sessions"},
			{"POST", "/v1/me/mfa/setup"}, {"POST", "/v1/invites"}, {"POST", "/v1/sites"},
		} {
			mustRefuse(t, c.method+" "+c.path, e.do(t, c.method, c.path, u.access, map[string]any{}), "verify your email address")
		}
		if me := MustStatus(t, e.do(t, "GET", "/v1/me", u.access, nil), 200); me.body["account"].(map[string]any)["verified"] != false {
			t.Fatalf("me: %s", me.raw)
		}
		// The resend is rate-limited per address; each replaces the last link.
		MustStatus(t, e.do(t, "POST", "/v1/me/verify/resend", u.access, nil), 202)
		second := e.mail.MustToken(t, "verify", u.email)
		MustStatus(t, e.do(t, "POST", "/v1/auth/verify", "", map[string]string{"token": first}), 404)
		MustStatus(t, e.do(t, "POST", "/v1/me/verify/resend", u.access, nil), 202)
		MustStatus(t, e.do(t, "POST", "/v1/me/verify/resend", u.access, nil), 202)
		if r := e.do(t, "POST", "/v1/me/verify/resend", u.access, nil); r.status != 429 || r.header.Get("Retry-After") == "" {
			t.Fatalf("fourth resend: %d %s", r.status, r.raw)
		}
		MustStatus(t, e.do(t, "POST", "/v1/auth/verify", "", map[string]string{"token": second}), 404) // replaced
		last := e.mail.MustToken(t, "verify", u.email)
		MustStatus(t, e.do(t, "POST", "/v1/auth/verify", "", map[string]string{"token": "kcv_nonesuch"}), 404)
		MustStatus(t, e.do(t, "POST", "/v1/auth/verify", "", map[string]string{"token": last}), 200)
		MustStatus(t, e.do(t, "POST", "/v1/auth/verify", "", map[string]string{"token": last}), 404) // once
		MustStatus(t, e.do(t, "GET", "/v1/sites", u.access, nil), 200)
		e.clock.Advance(16 * time.Minute)
		MustStatus(t, e.do(t, "POST", "/v1/me/verify/resend", u.access, nil), 409) // verified already

		// A link expires.
		v := e.signupRaw(t, "Bolt", "bea@bolt.test")
		tok := e.mail.MustToken(t, "verify", v.email)
		e.clock.Advance(e.auth.Config().VerifyTTL)
		MustStatus(t, e.do(t, "POST", "/v1/auth/verify", "", map[string]string{"token": tok}), 404)

		// An invitation's link reached its address: the account it makes is verified.
		e.MustLogin(t, u)
		staff := e.MustJoin(t, u, "sam@acme.test", "staff")
		MustStatus(t, e.do(t, "GET", "/v1/sites", staff.access, nil), 200)
	})
}

// The dashboard sends an unverified account to /verify, refuses its
// forms, and verifies it through the link's page.
func TestDashboardVerification(t *testing.T) {
	e := newDashEnv(t, engines()[0], nil, false)
	w := e.web()
	p := w.post(t, "/signup", url.Values{"org_name": {"Acme"}, "name": {"Ann"}, "email": {"ann@acme.test"}, "password": {goodPassword}})
	if p.status != 303 || p.location() != "/verify?notice=welcome" {
		t.Fatalf("signup: %d to %q", p.status, p.location())
	}
	for _, path := range []string{"/", "/history", "/people", "/settings"} {
		if p := w.get(t, path); p.status != 303 || p.location() != "/verify" {
			t.Fatalf("unverified GET %s: %d to %q", path, p.status, p.location())
		}
	}
	p = MustPage(t, w.get(t, "/verify"), 200, "ann@acme.test", `data-testid="verify-resend"`)
	w.csrf = regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(p.body)[1]
	MustPage(t, w.post(t, "/people/invite", url.Values{"email": {"x@acme.test"}, "role": {"staff"}}), 403, "verify your email address")
	MustPage(t, w.post(t, "/verify/resend", nil), 303)
	MustPage(t, w.post(t, "/verify", url.Values{"token": {"kcv_wrong"}}), 404)
	w.MustVerifyWeb(t, "ann@acme.test")
	MustPage(t, w.get(t, "/"), 200, "Acme")
}

// A change of address: re-authenticated, verified at the new address
// before it takes effect, the old one told and working until then.
func TestEmailChange(t *testing.T) {
	forEngine(t, func(t *testing.T, e *env) {
		u := e.MustSignup(t, "Acme", "ann@acme.test")
		e.MustSignup(t, "Bolt", "bea@bolt.test")
		e.clock.Advance(16 * time.Minute) // fresh mail-limit windows
		change := func(email, password string) resp {
			return e.do(t, "POST", "/v1/me/email", u.access, map[string]string{"email": email, "password": password})
		}
		mustRefuse(t, "wrong password", change("ann@new.test", "not the password"), "password")
		MustStatus(t, change("bea@bolt.test", goodPassword), 409)
		MustStatus(t, change("not an address", goodPassword), 400)
		MustStatus(t, change("ann@new.test", goodPassword), 202)
		tok := e.mail.MustToken(t, "email-change", "ann@new.test")
		notice := e.mail.last(t, "email-change-notice", "ann@acme.test")
		if !strings.Contains(notice.Body, "ann@new.test") || strings.Contains(notice.Body, tok) {
			t.Fatalf("notice to the old address: %q", notice.Body)
		}
		// Until the link is opened, the old address signs in, the new one does not.
		MustStatus(t, e.do(t, "POST", "/v1/auth/login", "", map[string]string{"email": "ann@new.test", "password": goodPassword}), 401)
		MustStatus(t, e.do(t, "POST", "/v1/auth/login", "", map[string]string{"email": "ann@acme.test", "password": goodPassword}), 200)
		MustStatus(t, e.do(t, "POST", "/v1/auth/verify", "", map[string]string{"token": tok}), 200)
		MustStatus(t, e.do(t, "POST", "/v1/auth/verify", "", map[string]string{"token": tok}), 404)
		e.mail.last(t, "email-changed", "ann@acme.test")
		MustStatus(t, e.do(t, "POST", "/v1/auth/login", "", map[string]string{"email": "ann@acme.test", "password": goodPassword}), 401)
		MustStatus(t, e.do(t, "POST", "/v1/auth/login", "", map[string]string{"email": "ann@new.test", "password": goodPassword}), 200)
		me := MustStatus(t, e.do(t, "GET", "/v1/me", u.access, nil), 200)
		if a := me.body["account"].(map[string]any); a["email"] != "ann@new.test" || a["verified"] != true {
			t.Fatalf("me: %s", me.raw)
		}
	})
}

// enableMFA enrols u in TOTP and returns the secret and the recovery codes.
func (e *env) enableMFA(tb testing.TB, u *user) ([]byte, []string) {
	tb.Helper()
	r := MustStatus(tb, e.do(tb, "POST", "/v1/me/mfa/setup", u.access, nil), 200)
	secret, err := decodeKey(r.str("secret"))
	MustNoErr(tb, err)
	r = MustStatus(tb, e.do(tb, "POST", "/v1/me/mfa/enable", u.access, map[string]string{"code": auth.TOTPCode(secret, e.clock.Now())}), 200)
	var codes []string
	for _, c := range r.body["recovery_codes"].([]any) {
		codes = append(codes, c.(string))
	}
	e.clock.Advance(30 * time.Second)
	return secret, codes
}

// mfaLogin signs u in with code at the MFA step, answering the step's response.
func (e *env) mfaLogin(tb testing.TB, u *user, code string) resp {
	tb.Helper()
	ch := MustStatus(tb, e.do(tb, "POST", "/v1/auth/login", "", map[string]string{"email": u.email, "password": u.password}), 200)
	if ch.body["mfa_required"] != true {
		tb.Fatalf("no MFA step: %s", ch.raw)
	}
	return e.do(tb, "POST", "/v1/auth/mfa", "", map[string]string{"mfa_token": ch.str("mfa_token"), "code": code})
}

// Recovery codes: ten, shown once, each usable once in place of a TOTP
// code; regenerating and turning MFA off need the password and a second
// factor.
func TestRecoveryCodesAndMFAOff(t *testing.T) {
	forEngine(t, func(t *testing.T, e *env) {
		u := e.MustSignup(t, "Acme", "ann@acme.test")
		secret, codes := e.enableMFA(t, u)
		seen := map[string]bool{}
		for _, c := range codes {
			if !regexp.MustCompile(`^[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}$`).MatchString(c) || seen[c] {
				t.Fatalf("codes %v", codes)
			}
			seen[c] = true
		}
		if len(codes) != 10 || strings.Contains(e.logText(), codes[0]) {
			t.Fatalf("%d codes (or in the log)", len(codes))
		}
		// A code at sign-in, typed loosely; then never again.
		MustStatus(t, e.mfaLogin(t, u, " "+strings.ToUpper(codes[0])+" "), 200)
		if r := e.mfaLogin(t, u, codes[0]); r.status != 401 || r.code() != keycab.EUNAUTHORIZED {
			t.Fatalf("a reused recovery code: %d %s", r.status, r.raw)
		}
		MustStatus(t, e.mfaLogin(t, u, "aaaa-bbbb-cccc-dddd"), 401)
		u.set(MustStatus(t, e.mfaLogin(t, u, auth.TOTPCode(secret, e.clock.Now())), 200))
		e.clock.Advance(16 * time.Minute) // a fresh window of the sign-in limit

		// Regenerating needs the password and a second factor.
		regen := func(password, code string) resp {
			return e.do(t, "POST", "/v1/me/mfa/recovery-codes", u.access, map[string]string{"password": password, "code": code})
		}
		mustRefuse(t, "regenerate with a wrong password", regen("wrong password", auth.TOTPCode(secret, e.clock.Now())), "password")
		mustRefuse(t, "regenerate with a used code", regen(goodPassword, codes[0]), "code")
		r := MustStatus(t, regen(goodPassword, codes[1]), 200)
		fresh := r.body["recovery_codes"].([]any)
		if len(fresh) != 10 {
			t.Fatalf("regenerated %s", r.raw)
		}
		MustStatus(t, e.mfaLogin(t, u, codes[2]), 401) // the old set is gone
		e.clock.Advance(16 * time.Minute)
		MustStatus(t, e.do(t, "GET", "/v1/me", u.access, nil), 200)

		// Turning MFA off: password and a TOTP code or a recovery code.
		off := func(password, code string) resp {
			return e.do(t, "POST", "/v1/me/mfa/disable", u.access, map[string]string{"password": password, "code": code})
		}
		mustRefuse(t, "off without a code", off(goodPassword, ""), "code")
		mustRefuse(t, "off with a wrong password", off("wrong password", fresh[0].(string)), "password")
		mustRefuse(t, "off with a wrong code", off(goodPassword, "000000"), "code")
		MustStatus(t, off(goodPassword, fresh[0].(string)), 200)
		MustStatus(t, off(goodPassword, fresh[1].(string)), 409) // off already
		e.MustLogin(t, u)
	})
}

// An admin's reset of another member's MFA: only of their own
// organisation's members, never an owner's by an admin, never by staff;
// in the admin log with before and after.
func TestMFAReset(t *testing.T) {
	forEngine(t, func(t *testing.T, e *env) {
		owner := e.MustSignup(t, "Acme", "ann@acme.test")
		admin := e.MustJoin(t, owner, "al@acme.test", "admin")
		staff := e.MustJoin(t, owner, "sam@acme.test", "staff")
		other := e.MustSignup(t, "Bolt", "bea@bolt.test")
		e.enableMFA(t, owner)
		e.enableMFA(t, admin)
		e.enableMFA(t, staff)
		reset := func(by *user, memberID string) resp {
			return e.do(t, "DELETE", "/v1/members/"+memberID+"/mfa", by.access, nil)
		}
		MustStatus(t, reset(other, staff.memberID), 404) // another organisation's member
		MustStatus(t, reset(other, "mem_nonesuch"), 404) // the same as a missing one
		mustRefuse(t, "staff resets an admin", reset(staff, admin.memberID), "")
		mustRefuse(t, "an admin resets an owner", reset(admin, owner.memberID), "owner")
		mustRefuse(t, "an admin resets their own", reset(admin, admin.memberID), "")
		MustStatus(t, reset(admin, staff.memberID), 204)
		// The member is signed out and signs in with the password alone.
		MustStatus(t, e.do(t, "GET", "/v1/me", staff.access, nil), 401)
		e.MustLogin(t, staff)
		MustStatus(t, reset(admin, staff.memberID), 409)
		log := MustStatus(t, e.do(t, "GET", "/v1/admin-log", owner.access, nil), 200)
		found := false
		for _, a := range items(t, log, "actions") {
			if a["action"] == "member.mfa_reset" {
				found = a["target"] == staff.memberID && a["actor_id"] == admin.memberID &&
					a["detail"] == `{"before":{"mfa":true},"after":{"mfa":false}}`
			}
		}
		if !found {
			t.Fatalf("admin log: %s", log.raw)
		}
		// The owner may reset the admin's.
		MustStatus(t, reset(owner, admin.memberID), 204)
	})
}

// The organisation's MFA rule: owners and admins without MFA can do
// nothing but enrol (and see themselves, and sign out); staff are not
// held; turning it on needs one's own MFA.
func TestRequireMFA(t *testing.T) {
	forEngine(t, func(t *testing.T, e *env) {
		owner := e.MustSignup(t, "Acme", "ann@acme.test")
		admin := e.MustJoin(t, owner, "al@acme.test", "admin")
		staff := e.MustJoin(t, owner, "sam@acme.test", "staff")
		rule := func(by *user, on bool) resp {
			return e.do(t, "PUT", "/v1/org/security", by.access, map[string]bool{"require_mfa": on})
		}
		MustStatus(t, rule(owner, true), 400) // own MFA first
		e.enableMFA(t, owner)
		mustRefuse(t, "staff sets the rule", rule(staff, true), "")
		if r := MustStatus(t, rule(owner, true), 200); r.body["require_mfa"] != true {
			t.Fatalf("org: %s", r.raw)
		}
		mustRefuse(t, "an admin without MFA", e.do(t, "GET", "/v1/sites", admin.access, nil), "two-step sign-in")
		mustRefuse(t, "an admin without MFA", e.do(t, "GET", "/v1/me/sessions", admin.access, nil), "two-step sign-in")
		if me := MustStatus(t, e.do(t, "GET", "/v1/me", admin.access, nil), 200); me.body["account"].(map[string]any)["mfa_required"] != true {
			t.Fatalf("me: %s", me.raw)
		}
		MustStatus(t, e.do(t, "GET", "/v1/sites", staff.access, nil), 200)
		MustStatus(t, e.do(t, "GET", "/v1/sites", owner.access, nil), 200)
		e.enableMFA(t, admin)
		MustStatus(t, e.do(t, "GET", "/v1/sites", admin.access, nil), 200)

		// The dashboard sends such an admin to enrolment.
		e.clock.Advance(16 * time.Minute)
		late := e.MustJoin(t, owner, "lee@acme.test", "admin")
		w := e.web()
		w.cookies["__Host-keycab_session"] = late.access
		if p := w.get(t, "/history"); p.status != 303 || p.location() != "/settings?notice=mfarequired" {
			t.Fatalf("GET /history: %d to %q", p.status, p.location())
		}
		p := MustPage(t, w.get(t, "/settings?notice=mfarequired"), 200, "requires two-step sign-in")
		w.csrf = regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(p.body)[1]
		MustPage(t, w.post(t, "/people/invite", url.Values{"email": {"x@acme.test"}, "role": {"staff"}}), 403)
		MustPage(t, w.post(t, "/settings/mfa/setup", nil), 200, "otpauth://")
	})
}

// One's sessions: listed with when, the client and the current one
// marked; each can be signed out; another account's cannot.
func TestSessionList(t *testing.T) {
	forEngine(t, func(t *testing.T, e *env) {
		u := e.MustSignup(t, "Acme", "ann@acme.test")
		other := e.MustSignup(t, "Bolt", "bea@bolt.test")
		phone := MustStatus(t, e.do(t, "POST", "/v1/auth/login", "", map[string]string{"email": u.email, "password": goodPassword},
			"User-Agent", "KeycabPhone/1.0"), 200)
		list := items(t, MustStatus(t, e.do(t, "GET", "/v1/me/sessions", u.access, nil), 200), "sessions")
		if len(list) != 2 {
			t.Fatalf("sessions %v", list)
		}
		var phoneID, mine string
		for _, s := range list {
			if s["user_agent"] == "KeycabPhone/1.0" && s["current"] == false && s["ip"] == "127.0.0.1" {
				phoneID = s["id"].(string)
			} else if s["current"] == true {
				mine = s["id"].(string)
			}
		}
		if phoneID == "" || mine == "" {
			t.Fatalf("sessions %v", list)
		}
		// Another account's session: refused as unknown, and untouched.
		r := MustStatus(t, e.do(t, "DELETE", "/v1/me/sessions/"+phoneID, other.access, nil), 404)
		if r.code() != keycab.ENOTFOUND {
			t.Fatalf("another's session: %s", r.raw)
		}
		MustStatus(t, e.do(t, "GET", "/v1/me", phone.str("access_token"), nil), 200)
		// A refreshed login keeps its id; signing it out ends it.
		ph := MustStatus(t, e.do(t, "POST", "/v1/auth/refresh", "", map[string]string{"refresh_token": phone.str("refresh_token")}), 200)
		MustStatus(t, e.do(t, "DELETE", "/v1/me/sessions/"+phoneID, u.access, nil), 204)
		MustStatus(t, e.do(t, "GET", "/v1/me", ph.str("access_token"), nil), 401)
		MustStatus(t, e.do(t, "POST", "/v1/auth/refresh", "", map[string]string{"refresh_token": ph.str("refresh_token")}), 401)
		if list := items(t, MustStatus(t, e.do(t, "GET", "/v1/me/sessions", u.access, nil), 200), "sessions"); len(list) != 1 {
			t.Fatalf("after sign-out: %v", list)
		}
		// The dashboard lists them too, and refuses another's.
		w := e.web()
		w.cookies["__Host-keycab_session"] = u.access
		p := MustPage(t, w.get(t, "/settings"), 200, "This session", "/settings/sessions/"+mine+"/revoke")
		w.csrf = regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(p.body)[1]
		ow := MustStatus(t, e.do(t, "GET", "/v1/me/sessions", other.access, nil), 200)
		MustPage(t, w.post(t, "/settings/sessions/"+items(t, ow, "sessions")[0]["id"].(string)+"/revoke", nil), 404)
		MustStatus(t, e.do(t, "GET", "/v1/me", other.access, nil), 200)
		// Signing out the current one signs this client out.
		MustStatus(t, e.do(t, "DELETE", "/v1/me/sessions/"+mine, u.access, nil), 204)
		MustStatus(t, e.do(t, "GET", "/v1/me", u.access, nil), 401)
	})
}

// The dashboard's MFA reset: refused to staff, done by an admin.
func TestDashboardMFAReset(t *testing.T) {
	e := newDashEnv(t, engines()[0], nil, false)
	owner := e.MustSignup(t, "Acme", "ann@acme.test")
	staff := e.MustJoin(t, owner, "sam@acme.test", "staff")
	e.enableMFA(t, staff)
	as := func(u *user) *web {
		w := e.web()
		w.cookies["__Host-keycab_session"] = u.access
		p := MustPage(t, w.get(t, "/settings"), 200)
		w.csrf = regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(p.body)[1]
		return w
	}
	MustPage(t, as(staff).post(t, "/people/"+owner.memberID+"/mfa/reset", nil), 403)
	ow := as(owner)
	MustPage(t, ow.get(t, "/people/"+staff.memberID), 200, `data-testid="mfa-reset"`)
	p := MustPage(t, ow.post(t, "/people/"+staff.memberID+"/mfa/reset", nil), 303)
	if !strings.Contains(p.location(), "notice=mfareset") {
		t.Fatalf("reset: to %q", p.location())
	}
	MustStatus(t, e.do(t, "GET", "/v1/me", staff.access, nil), 401)
}

// last returns the last message of kind sent to to.
func (mb *mailbox) last(tb testing.TB, kind, to string) mail.Message {
	tb.Helper()
	mb.mu.Lock()
	defer mb.mu.Unlock()
	for i := len(mb.msgs) - 1; i >= 0; i-- {
		if m := mb.msgs[i]; m.Kind == kind && m.To == to {
			return m
		}
	}
	tb.Fatalf("no %s message to %s", kind, to)
	return mail.Message{}
}
