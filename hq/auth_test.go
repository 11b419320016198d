package hq_test

import (
	"bytes"
	"context"
	"encoding/base32"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"keycab.dev/keycab"
	"keycab.dev/keycab/hq"
	"keycab.dev/keycab/hq/auth"
	"keycab.dev/keycab/hq/store"
)

func decodeKey(s string) ([]byte, error) {
	return base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(s)
}

// lockedBuffer is a log sink safe for the server's goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf *bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func newLogger(lb *lockedBuffer) *slog.Logger {
	return slog.New(slog.NewJSONHandler(lb, nil))
}

func (e *env) logText() string {
	e.logs.mu.Lock()
	defer e.logs.mu.Unlock()
	return e.logs.buf.String()
}

// Sessions: the token works until logout, and never after.
func TestSessionReuseAfterLogout(t *testing.T) {
	forEngine(t, func(t *testing.T, e *env) {
		u := e.MustSignup(t, "Acme", "owner@acme.test")
		me := MustStatus(t, e.do(t, "GET", "/v1/me", u.access, nil), 200)
		if acct := me.body["account"].(map[string]any); acct["email"] != "owner@acme.test" {
			t.Fatalf("me: %v", me.body)
		}
		MustStatus(t, e.do(t, "POST", "/v1/auth/logout", u.access, nil), 204)
		MustStatus(t, e.do(t, "GET", "/v1/me", u.access, nil), 401)
		MustStatus(t, e.do(t, "POST", "/v1/auth/refresh", "", map[string]string{"refresh_token": u.refresh}), 401)
		MustStatus(t, e.do(t, "GET", "/v1/me", "", nil), 401)
		MustStatus(t, e.do(t, "GET", "/v1/me", "kca_forged", nil), 401)
	})
}

// Refresh rotates; a refresh token used twice revokes the whole family.
func TestRefreshReuseRevokesFamily(t *testing.T) {
	forEngine(t, func(t *testing.T, e *env) {
		u := e.MustSignup(t, "Acme", "owner@acme.test")
		old := *u
		r := MustStatus(t, e.do(t, "POST", "/v1/auth/refresh", "", map[string]string{"refresh_token": u.refresh}), 200)
		u.set(r)
		if u.access == old.access || u.refresh == old.refresh {
			t.Fatal("refresh did not rotate")
		}
		MustStatus(t, e.do(t, "GET", "/v1/me", old.access, nil), 401)
		MustStatus(t, e.do(t, "GET", "/v1/me", u.access, nil), 200)
		// The stolen old refresh token comes back: reuse.
		MustStatus(t, e.do(t, "POST", "/v1/auth/refresh", "", map[string]string{"refresh_token": old.refresh}), 401)
		MustStatus(t, e.do(t, "GET", "/v1/me", u.access, nil), 401)
		MustStatus(t, e.do(t, "POST", "/v1/auth/refresh", "", map[string]string{"refresh_token": u.refresh}), 401)
		if !strings.Contains(e.logText(), "refresh token reuse") {
			t.Error("reuse not logged")
		}
		// Another login of the same account is untouched.
		other := &user{email: u.email, password: u.password}
		e.MustLogin(t, other)
		MustStatus(t, e.do(t, "GET", "/v1/me", other.access, nil), 200)
	})
}

// Idle and absolute expiry.
func TestSessionExpiry(t *testing.T) {
	forEngine(t, func(t *testing.T, e *env) {
		u := e.MustSignup(t, "Acme", "owner@acme.test")
		e.clock.Advance(29 * time.Minute)
		MustStatus(t, e.do(t, "GET", "/v1/me", u.access, nil), 200)
		e.clock.Advance(29 * time.Minute) // used 29 minutes ago: still live
		MustStatus(t, e.do(t, "GET", "/v1/me", u.access, nil), 200)
		e.clock.Advance(31 * time.Minute)
		MustStatus(t, e.do(t, "GET", "/v1/me", u.access, nil), 401)
		MustStatus(t, e.do(t, "POST", "/v1/auth/refresh", "", map[string]string{"refresh_token": u.refresh}), 401)

		e.MustLogin(t, u)
		for range 12 * 3 { // active every 20 minutes, refreshing each time
			e.clock.Advance(20 * time.Minute)
			r := e.do(t, "POST", "/v1/auth/refresh", "", map[string]string{"refresh_token": u.refresh})
			if r.status != 200 {
				MustStatus(t, r, 401)
				if e.clock.Now().Before(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC).Add(89*time.Minute + 12*time.Hour - 20*time.Minute)) {
					t.Fatalf("refresh refused before the absolute expiry: %s", r.raw)
				}
				return
			}
			u.set(r)
		}
		t.Fatal("a login lived past its absolute expiry")
	})
}

// Changing the password signs out every other session.
func TestPasswordChangeSignsOutEverywhere(t *testing.T) {
	forEngine(t, func(t *testing.T, e *env) {
		u := e.MustSignup(t, "Acme", "owner@acme.test")
		laptop := &user{email: u.email, password: u.password}
		e.MustLogin(t, laptop)
		MustStatus(t, e.do(t, "POST", "/v1/auth/password", u.access, map[string]string{"current_password": "wrong one!", "new_password": "a new long passphrase"}), 403)
		MustStatus(t, e.do(t, "POST", "/v1/auth/password", u.access, map[string]string{"current_password": goodPassword, "new_password": "password1"}), 400)
		r := MustStatus(t, e.do(t, "POST", "/v1/auth/password", u.access, map[string]string{"current_password": goodPassword, "new_password": "a new long passphrase"}), 200)
		MustStatus(t, e.do(t, "GET", "/v1/me", laptop.access, nil), 401)
		MustStatus(t, e.do(t, "GET", "/v1/me", u.access, nil), 401)
		MustStatus(t, e.do(t, "GET", "/v1/me", r.str("access_token"), nil), 200)
		MustStatus(t, e.do(t, "POST", "/v1/auth/login", "", map[string]string{"email": u.email, "password": goodPassword}), 401)
		u.password = "a new long passphrase"
		e.MustLogin(t, u)
	})
}

// Signup enforces the password rules.
func TestSignupPasswordRules(t *testing.T) {
	forEngine(t, func(t *testing.T, e *env) {
		for _, p := range []string{"short", "password", "iloveyou1", "qwerty123"} {
			r := MustStatus(t, e.do(t, "POST", "/v1/signup", "", map[string]string{"org_name": "X", "email": "x@x.test", "password": p}), 400)
			if r.code() != keycab.EINVALID {
				t.Errorf("%q: %s", p, r.raw)
			}
		}
		MustStatus(t, e.do(t, "POST", "/v1/signup", "", map[string]string{"org_name": "X", "email": "x@x.test", "password": strings.Repeat("long and lowercase ", 5)}), 200)
		MustStatus(t, e.do(t, "POST", "/v1/signup", "", map[string]string{"org_name": "Y", "email": "X@x.test", "password": goodPassword}), 409)
	})
}

// Reset links: same answer for known and unknown addresses, single use,
// time-limited, and the reset signs out everywhere.
func TestPasswordReset(t *testing.T) {
	forEngine(t, func(t *testing.T, e *env) {
		u := e.MustSignup(t, "Acme", "owner@acme.test")
		known := MustStatus(t, e.do(t, "POST", "/v1/auth/reset", "", map[string]string{"email": "Owner@Acme.test"}), 202)
		unknown := MustStatus(t, e.do(t, "POST", "/v1/auth/reset", "", map[string]string{"email": "nobody@acme.test"}), 202)
		if known.raw != unknown.raw {
			t.Fatalf("answers differ: %s / %s", known.raw, unknown.raw)
		}
		if n := e.mail.count(); n != 2 {
			t.Fatalf("%d messages sent, want 2 (the signup's verification, one reset)", n)
		}
		ds, err := e.st.Accounts().ListDeliveries(context.Background(), "", 10)
		MustNoErr(t, err)
		if len(ds) == 2 && ds[0].Kind == "verify" {
			ds[0] = ds[1] // sent in the same microsecond: either order
		}
		if len(ds) != 2 || ds[0].Kind != "reset" || ds[0].To != "owner@acme.test" || ds[0].Status != "sent" {
			t.Fatalf("delivery log %+v", ds)
		}
		tok := e.mail.MustToken(t, "reset", "owner@acme.test")
		if strings.Contains(e.logText(), tok) {
			t.Fatal("the reset token is in the log")
		}
		MustStatus(t, e.do(t, "POST", "/v1/auth/reset/confirm", "", map[string]string{"token": tok, "password": "12345678"}), 400)
		MustStatus(t, e.do(t, "POST", "/v1/auth/reset/confirm", "", map[string]string{"token": tok, "password": "reset passphrase one"}), 200)
		MustStatus(t, e.do(t, "GET", "/v1/me", u.access, nil), 401) // signed out everywhere
		r := MustStatus(t, e.do(t, "POST", "/v1/auth/reset/confirm", "", map[string]string{"token": tok, "password": "reset passphrase two"}), 404)
		if r.code() != keycab.ENOTFOUND {
			t.Fatal(r.raw)
		}
		u.password = "reset passphrase one"
		e.MustLogin(t, u)

		// Expired link.
		MustStatus(t, e.do(t, "POST", "/v1/auth/reset", "", map[string]string{"email": u.email}), 202)
		tok = e.mail.MustToken(t, "reset", u.email)
		e.clock.Advance(31 * time.Minute)
		MustStatus(t, e.do(t, "POST", "/v1/auth/reset/confirm", "", map[string]string{"token": tok, "password": "reset passphrase three"}), 404)
		MustStatus(t, e.do(t, "POST", "/v1/auth/reset/confirm", "", map[string]string{"token": "kcp_made_up", "password": "reset passphrase three"}), 404)
	})
}

// A password reset does not turn MFA off, and a TOTP code works once.
func TestMFAResetAndReplay(t *testing.T) {
	forEngine(t, func(t *testing.T, e *env) {
		u := e.MustSignup(t, "Acme", "owner@acme.test")
		secret := e.MustEnableMFA(t, u)

		r := MustStatus(t, e.do(t, "POST", "/v1/auth/login", "", map[string]string{"email": u.email, "password": u.password}), 200)
		if r.body["mfa_required"] != true || r.str("access_token") != "" {
			t.Fatalf("login without MFA step: %s", r.raw)
		}
		code := auth.TOTPCode(secret, e.clock.Now())
		MustStatus(t, e.do(t, "POST", "/v1/auth/mfa", "", map[string]string{"mfa_token": r.str("mfa_token"), "code": "000000"}), 401)
		ok := MustStatus(t, e.do(t, "POST", "/v1/auth/mfa", "", map[string]string{"mfa_token": r.str("mfa_token"), "code": code}), 200)
		MustStatus(t, e.do(t, "GET", "/v1/me", ok.str("access_token"), nil), 200)
		// The MFA token is used up.
		MustStatus(t, e.do(t, "POST", "/v1/auth/mfa", "", map[string]string{"mfa_token": r.str("mfa_token"), "code": code}), 401)
		// The same code in a new login (same 30-second step): replay.
		r2 := MustStatus(t, e.do(t, "POST", "/v1/auth/login", "", map[string]string{"email": u.email, "password": u.password}), 200)
		rep := MustStatus(t, e.do(t, "POST", "/v1/auth/mfa", "", map[string]string{"mfa_token": r2.str("mfa_token"), "code": code}), 401)
		if !strings.Contains(rep.raw, "already used") {
			t.Fatalf("replay answer %s", rep.raw)
		}
		e.clock.Advance(30 * time.Second)
		MustStatus(t, e.do(t, "POST", "/v1/auth/mfa", "", map[string]string{"mfa_token": r2.str("mfa_token"), "code": auth.TOTPCode(secret, e.clock.Now())}), 200)

		// Reset the password: the next login still needs the code.
		MustStatus(t, e.do(t, "POST", "/v1/auth/reset", "", map[string]string{"email": u.email}), 202)
		MustStatus(t, e.do(t, "POST", "/v1/auth/reset/confirm", "", map[string]string{"token": e.mail.MustToken(t, "reset", u.email), "password": "after the reset"}), 200)
		r3 := MustStatus(t, e.do(t, "POST", "/v1/auth/login", "", map[string]string{"email": u.email, "password": "after the reset"}), 200)
		if r3.body["mfa_required"] != true {
			t.Fatalf("a password reset turned MFA off: %s", r3.raw)
		}
		// A sign-in link does not skip it either. (Past the per-account
		// window first: the steps above count against it.)
		e.clock.Advance(16 * time.Minute)
		MustStatus(t, e.do(t, "POST", "/v1/auth/magic", "", map[string]string{"email": u.email}), 202)
		m := MustStatus(t, e.do(t, "POST", "/v1/auth/magic/confirm", "", map[string]string{"token": e.mail.MustToken(t, "magic", u.email)}), 200)
		if m.body["mfa_required"] != true || m.str("access_token") != "" {
			t.Fatalf("a sign-in link skipped MFA: %s", m.raw)
		}
		// Too many wrong codes use up the MFA step.
		for range 5 {
			MustStatus(t, e.do(t, "POST", "/v1/auth/mfa", "", map[string]string{"mfa_token": m.str("mfa_token"), "code": "999999"}), 401)
		}
		e.clock.Advance(30 * time.Second)
		MustStatus(t, e.do(t, "POST", "/v1/auth/mfa", "", map[string]string{"mfa_token": m.str("mfa_token"), "code": auth.TOTPCode(secret, e.clock.Now())}), 401)
	})
}

// Sign-in links: same answer for any address, single use.
func TestMagicLink(t *testing.T) {
	forEngine(t, func(t *testing.T, e *env) {
		u := e.MustSignup(t, "Acme", "owner@acme.test")
		a := MustStatus(t, e.do(t, "POST", "/v1/auth/magic", "", map[string]string{"email": u.email}), 202)
		b := MustStatus(t, e.do(t, "POST", "/v1/auth/magic", "", map[string]string{"email": "ghost@acme.test"}), 202)
		if a.raw != b.raw {
			t.Fatal("answers differ")
		}
		tok := e.mail.MustToken(t, "magic", u.email)
		r := MustStatus(t, e.do(t, "POST", "/v1/auth/magic/confirm", "", map[string]string{"token": tok}), 200)
		MustStatus(t, e.do(t, "GET", "/v1/me", r.str("access_token"), nil), 200)
		MustStatus(t, e.do(t, "POST", "/v1/auth/magic/confirm", "", map[string]string{"token": tok}), 404)
	})
}

// Invitations are bound to their email and used once.
func TestInviteBoundToEmail(t *testing.T) {
	forEngine(t, func(t *testing.T, e *env) {
		owner := e.MustSignup(t, "Acme", "owner@acme.test")
		mallory := e.MustSignup(t, "Mallory Ltd", "mallory@evil.test")
		tok := e.MustInvite(t, owner, "alice@acme.test", "staff")
		// Mallory, signed in, tries to accept Alice's invitation.
		r := MustStatus(t, e.do(t, "POST", "/v1/invites/accept", mallory.access, map[string]string{"token": tok}), 403)
		if !strings.Contains(r.raw, "another email") {
			t.Fatal(r.raw)
		}
		// Without a session it makes Alice's account, nobody else's.
		r = MustStatus(t, e.do(t, "POST", "/v1/invites/accept", "", map[string]string{"token": tok, "name": "Alice", "password": "alice's passphrase"}), 200)
		me := MustStatus(t, e.do(t, "GET", "/v1/me", r.str("access_token"), nil), 200)
		if me.body["account"].(map[string]any)["email"] != "alice@acme.test" || me.body["member"].(map[string]any)["role"] != "staff" {
			t.Fatalf("me %s", me.raw)
		}
		MustStatus(t, e.do(t, "POST", "/v1/invites/accept", "", map[string]string{"token": tok, "name": "Eve", "password": "eve's passphrase!"}), 404)

		// An existing account joins a second organisation by signing in.
		tok2 := e.MustInvite(t, mallory, "alice@acme.test", "auditor")
		MustStatus(t, e.do(t, "POST", "/v1/invites/accept", "", map[string]string{"token": tok2, "password": "whatever passphrase"}), 401)
		r = MustStatus(t, e.do(t, "POST", "/v1/invites/accept", r.str("access_token"), map[string]string{"token": tok2}), 200)
		if r.str("org_id") != mallory.orgID {
			t.Fatalf("joined %s", r.raw)
		}
		me = MustStatus(t, e.do(t, "GET", "/v1/me", r.str("access_token"), nil), 200)
		if n := len(me.body["org_ids"].([]any)); n != 2 {
			t.Fatalf("memberships %s", me.raw)
		}
		// Expired invitation.
		tok3 := e.MustInvite(t, owner, "bob@acme.test", "staff")
		e.clock.Advance(7*24*time.Hour + time.Minute)
		MustStatus(t, e.do(t, "POST", "/v1/invites/accept", "", map[string]string{"token": tok3, "password": "bob's passphrase"}), 404)
	})
}

// Nobody invites above their own role, and an inviter demoted before
// acceptance grants only what they now may.
func TestInviteRoleEscalation(t *testing.T) {
	forEngine(t, func(t *testing.T, e *env) {
		owner := e.MustSignup(t, "Acme", "owner@acme.test")
		admin := e.MustJoin(t, owner, "admin@acme.test", "admin")
		staff := e.MustJoin(t, owner, "staff@acme.test", "staff")
		sm := e.MustJoin(t, admin, "sm@acme.test", "site_manager")
		auditor := e.MustJoin(t, admin, "aud@acme.test", "auditor")
		for _, c := range []struct {
			who  *user
			role string
		}{{admin, "owner"}, {staff, "staff"}, {staff, "admin"}, {sm, "admin"}, {sm, "auditor"}, {sm, "site_manager"}, {auditor, "staff"}} {
			r := e.do(t, "POST", "/v1/invites", c.who.access, map[string]any{"email": "new@acme.test", "role": c.role})
			if r.status != 403 {
				t.Errorf("%s invites %s: %d %s", c.who.email, c.role, r.status, r.raw)
			}
		}
		MustStatus(t, e.do(t, "POST", "/v1/invites", admin.access, map[string]any{"email": "x@acme.test", "role": "superuser"}), 400)
		// Admin invites an admin, then is demoted to staff: acceptance fails.
		tok := e.MustInvite(t, admin, "admin2@acme.test", "admin")
		MustNoErr(t, e.st.SetMemberRole(context.Background(), store.MemberScope(owner.orgID, owner.memberID), admin.memberID, keycab.RoleStaff))
		MustStatus(t, e.do(t, "POST", "/v1/invites/accept", "", map[string]string{"token": tok, "password": "admin two passphrase"}), 403)
		if !strings.Contains(e.logText(), "denied invite") {
			t.Error("denied invitations are not logged")
		}
	})
}

// Another organisation's ids answer 404, exactly like missing ones.
func TestOtherTenantIDs404(t *testing.T) {
	forEngine(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		a := e.MustSignup(t, "A", "a@a.test")
		b := e.MustSignup(t, "B", "b@b.test")
		bsc := store.MemberScope(b.orgID, b.memberID)
		site, err := e.st.CreateSite(ctx, bsc, store.Site{Site: keycab.Site{OrgID: b.orgID, Name: "B site"}})
		MustNoErr(t, err)
		ks, err := e.st.CreateKeySet(ctx, bsc, keycab.KeySet{OrgID: b.orgID, SiteID: site.ID, Label: "B keys"})
		MustNoErr(t, err)
		cab, err := e.st.CreateCabinet(ctx, bsc, keycab.Cabinet{OrgID: b.orgID, SiteID: site.ID, Name: "B cab", Kind: keycab.Slotted})
		MustNoErr(t, err)
		binv := e.MustInvite(t, b, "x@b.test", "staff")
		_ = binv
		invs := MustStatus(t, e.do(t, "GET", "/v1/invites", b.access, nil), 200).body["invites"].([]any)
		invID := invs[0].(map[string]any)["id"].(string)
		for _, p := range []string{"/v1/sites/" + site.ID, "/v1/key-sets/" + ks.ID, "/v1/cabinets/" + cab.ID, "/v1/members/" + b.memberID} {
			other := MustStatus(t, e.do(t, "GET", p, a.access, nil), 404)
			missing := MustStatus(t, e.do(t, "GET", p+"x", a.access, nil), 404)
			if other.code() != missing.code() || other.code() != keycab.ENOTFOUND {
				t.Errorf("%s: other tenant %s, missing %s", p, other.raw, missing.raw)
			}
			MustStatus(t, e.do(t, "GET", p, b.access, nil), 200)
		}
		MustStatus(t, e.do(t, "DELETE", "/v1/invites/"+invID, a.access, nil), 404)
		if cs := MustStatus(t, e.do(t, "GET", "/v1/cabinets?site_id="+site.ID, a.access, nil), 200).body["cabinets"].([]any); len(cs) != 0 {
			t.Errorf("A lists B's cabinets: %v", cs)
		}
		if ks := MustStatus(t, e.do(t, "GET", "/v1/key-sets", a.access, nil), 200).body["key_sets"].([]any); len(ks) != 0 {
			t.Errorf("A lists B's key sets: %v", ks)
		}
		if is := MustStatus(t, e.do(t, "GET", "/v1/invites", a.access, nil), 200).body["invites"].([]any); len(is) != 0 {
			t.Errorf("A lists B's invites: %v", is)
		}
		MustStatus(t, e.do(t, "DELETE", "/v1/invites/"+invID, b.access, nil), 204)
	})
}

// Rate limits: the account locks after repeated failures, even for the
// right password, and per IP.
func TestRateLimit(t *testing.T) {
	forEngine(t, func(t *testing.T, e *env) {
		u := e.MustSignup(t, "Acme", "owner@acme.test")
		for i := range 10 {
			MustStatus(t, e.do(t, "POST", "/v1/auth/login", "", map[string]string{"email": u.email, "password": "wrong guess " + string(rune('a'+i))}), 401)
		}
		r := MustStatus(t, e.do(t, "POST", "/v1/auth/login", "", map[string]string{"email": u.email, "password": u.password}), 429)
		if r.header.Get("Retry-After") == "" || r.code() != keycab.ELOCKED {
			t.Fatalf("429 without Retry-After: %v %s", r.header, r.raw)
		}
		if !strings.Contains(e.logText(), `"msg":"failed login"`) || strings.Contains(e.logText(), "wrong guess") {
			t.Fatal("failed logins not logged, or a password logged")
		}
		e.clock.Advance(16 * time.Minute)
		e.MustLogin(t, u)
		// Per IP: a spray over many accounts.
		n := 0
		for i := range 40 {
			r := e.do(t, "POST", "/v1/auth/login", "", map[string]string{"email": "user" + string(rune('a'+i)) + "@x.test", "password": "wrong guess"})
			if r.status == 429 {
				break
			}
			n++
		}
		if n >= 40 {
			t.Fatal("no per-IP limit")
		}
		// Reset requests are limited per address too.
		for range 3 {
			MustStatus(t, e.do(t, "POST", "/v1/auth/reset", "", map[string]string{"email": "victim@x.test"}), 202)
		}
		MustStatus(t, e.do(t, "POST", "/v1/auth/reset", "", map[string]string{"email": "victim@x.test"}), 429)
	})
}

// Two HQ processes on one database share the rate limits.
func TestRateLimitSharedAcrossProcesses(t *testing.T) {
	eng := engines()[0]
	dsn := eng.dsn(t)
	same := engine{name: "sqlite", dsn: func(testing.TB) string { return dsn }}
	e1 := newEnv(t, same, nil)
	e2 := newEnv(t, same, nil)
	u := e1.MustSignup(t, "Acme", "owner@acme.test")
	for i := range 10 {
		e := []*env{e1, e2}[i%2]
		MustStatus(t, e.do(t, "POST", "/v1/auth/login", "", map[string]string{"email": u.email, "password": "nope nope"}), 401)
	}
	MustStatus(t, e2.do(t, "POST", "/v1/auth/login", "", map[string]string{"email": u.email, "password": u.password}), 429)
}

// Unsafe cross-origin browser requests are refused.
func TestCrossOriginRefused(t *testing.T) {
	forEngine(t, func(t *testing.T, e *env) {
		u := e.MustSignup(t, "Acme", "owner@acme.test")
		body := map[string]any{"email": "new@acme.test", "role": "staff"}
		r := MustStatus(t, e.do(t, "POST", "/v1/invites", u.access, body, "Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example"), 403)
		mustSecurityHeaders(t, r)
		MustStatus(t, e.do(t, "POST", "/v1/auth/login", "", map[string]string{"email": u.email, "password": u.password}, "Origin", "https://evil.example"), 403)
		MustStatus(t, e.do(t, "POST", "/v1/auth/logout", u.access, nil, "Sec-Fetch-Site", "same-site"), 403)
		MustStatus(t, e.do(t, "POST", "/v1/invites", u.access, body, "Sec-Fetch-Site", "same-origin"), 201)
		MustStatus(t, e.do(t, "GET", "/v1/me", u.access, nil, "Sec-Fetch-Site", "cross-site"), 200) // safe method
		if !strings.Contains(e.logText(), "cross-origin") {
			t.Error("refused cross-origin request not logged")
		}
		// A form post (the classic CSRF) is not JSON: refused outright.
		req, _ := http.NewRequest("POST", e.srv.URL+"/v1/auth/logout", strings.NewReader("a=b"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.AddCookie(&http.Cookie{Name: "__Host-keycab_session", Value: u.access})
		req.Header.Set("Origin", "https://evil.example")
		res, err := http.DefaultClient.Do(req)
		MustNoErr(t, err)
		res.Body.Close()
		if res.StatusCode != 403 {
			t.Fatalf("cross-site form post with the cookie: %d", res.StatusCode)
		}
		MustStatus(t, e.do(t, "GET", "/v1/me", u.access, nil), 200)
	})
}

func mustSecurityHeaders(tb testing.TB, r resp) {
	tb.Helper()
	for h, want := range map[string]string{
		"Strict-Transport-Security": "max-age=",
		"Content-Security-Policy":   "frame-ancestors 'none'",
		"X-Frame-Options":           "DENY",
		"X-Content-Type-Options":    "nosniff",
		"Referrer-Policy":           "no-referrer",
		"Permissions-Policy":        "camera=()",
	} {
		if !strings.Contains(r.header.Get(h), want) {
			tb.Errorf("status %d: %s = %q, want it to contain %q", r.status, h, r.header.Get(h), want)
		}
	}
	if csp := r.header.Get("Content-Security-Policy"); strings.Contains(csp, "unsafe-inline") || !strings.Contains(csp, "default-src 'none'") {
		tb.Errorf("weak CSP %q", csp)
	}
}

// Security headers on every response: 200, 401, 404 and 500 (a panicking handler).
func TestSecurityHeadersEverywhere(t *testing.T) {
	e := newEnv(t, engines()[0], func(_ *auth.Config, s *hq.Server) {
		s.KioskAPI = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { panic("kiosk handler bug") })
	})
	u := e.MustSignup(t, "Acme", "owner@acme.test")
	for _, c := range []struct {
		method, path string
		want         int
	}{{"GET", "/healthz", 200}, {"GET", "/openapi.json", 200}, {"GET", "/v1/me", 401}, {"GET", "/nope", 404},
		{"GET", "/v1/sites/site_nope", 404}, {"GET", "/v1/kiosk/anything", 500}} {
		tok := u.access
		if c.want == 401 {
			tok = "kca_not_a_session"
		}
		r := MustStatus(t, e.do(t, c.method, c.path, tok, nil), c.want)
		mustSecurityHeaders(t, r)
	}
	if !strings.Contains(e.logText(), "kiosk handler bug") {
		t.Error("panic not logged")
	}
	// No kiosk API configured: 404 there.
	e2 := newEnv(t, engines()[0], nil)
	mustSecurityHeaders(t, MustStatus(t, e2.do(t, "GET", "/v1/kiosk/push", "", nil), 404))
}

// An invitation names only sites of the inviter's organisation that the
// inviter may scope members to: a site manager invites to their own sites
// only, and nobody names another organisation's site or an unknown id.
// A refused invitation stores nothing and mails nothing.
func TestInviteSiteScope(t *testing.T) {
	forEngine(t, func(t *testing.T, e *env) {
		owner := e.MustSignup(t, "Acme", "owner@acme.test")
		other := e.MustSignup(t, "Other", "owner@other.test")
		site := func(u *user, name string) string {
			return MustStatus(t, e.do(t, "POST", "/v1/sites", u.access, map[string]any{"name": name}), 201).str("id")
		}
		mine, theirs, foreign := site(owner, "Depot"), site(owner, "Yard"), site(other, "Elsewhere")
		mgr := e.MustJoinAt(t, owner, "mgr@acme.test", "site_manager", mine)
		for _, c := range []struct {
			name  string
			who   *user
			role  string
			sites []string
			want  int
		}{
			{"manager invites to a site they do not manage", mgr, "staff", []string{theirs}, 404},
			{"manager invites to their site and another", mgr, "staff", []string{mine, theirs}, 404},
			{"manager invites to every site", mgr, "staff", nil, 403},
			{"manager invites to another organisation's site", mgr, "contractor", []string{foreign}, 404},
			{"owner invites to another organisation's site", owner, "staff", []string{foreign}, 404},
			{"owner invites to a site that does not exist", owner, "staff", []string{"site_nonesuch"}, 404},
		} {
			mails := e.mail.count()
			r := e.do(t, "POST", "/v1/invites", c.who.access, map[string]any{"email": "new@acme.test", "role": c.role, "site_ids": c.sites})
			if r.status != c.want {
				t.Errorf("%s: %d %s, want %d", c.name, r.status, r.raw, c.want)
			}
			if n := e.mail.count(); n != mails {
				t.Errorf("%s: %d mails sent", c.name, n-mails)
			}
		}
		if is := MustStatus(t, e.do(t, "GET", "/v1/invites", owner.access, nil), 200).body["invites"].([]any); len(is) != 0 {
			t.Fatalf("refused invitations were stored: %v", is)
		}
		// What they may do still works.
		MustStatus(t, e.do(t, "POST", "/v1/invites", mgr.access, map[string]any{"email": "new@acme.test", "role": "staff", "site_ids": []string{mine}}), 201)
		MustStatus(t, e.do(t, "POST", "/v1/invites", owner.access, map[string]any{"email": "new2@acme.test", "role": "staff", "site_ids": []string{mine, theirs}}), 201)
	})
}

// A removed member's sessions end with the removal: the access token and
// the refresh token are both refused, everywhere, including the endpoints
// that touch only the account. A change of role takes effect on the next
// request of a session already open.
func TestRemovedMemberSessions(t *testing.T) {
	forEngine(t, func(t *testing.T, e *env) {
		owner := e.MustSignup(t, "Acme", "owner@acme.test")
		gone := e.MustJoin(t, owner, "gone@acme.test", "admin")
		MustStatus(t, e.do(t, "GET", "/v1/me", gone.access, nil), 200)
		MustStatus(t, e.do(t, "DELETE", "/v1/members/"+gone.memberID, owner.access, nil), 204)
		MustStatus(t, e.do(t, "GET", "/v1/me", gone.access, nil), 401)
		MustStatus(t, e.do(t, "POST", "/v1/auth/password", gone.access, map[string]string{"current_password": goodPassword, "new_password": "another good passphrase"}), 401)
		MustStatus(t, e.do(t, "POST", "/v1/me/mfa/setup", gone.access, nil), 401)
		MustStatus(t, e.do(t, "POST", "/v1/auth/refresh", "", map[string]string{"refresh_token": gone.refresh}), 401)

		// A member who leaves is signed out the same way.
		leaver := e.MustJoin(t, owner, "leaver@acme.test", "staff")
		MustStatus(t, e.do(t, "DELETE", "/v1/members/"+leaver.memberID, leaver.access, nil), 204)
		MustStatus(t, e.do(t, "POST", "/v1/auth/refresh", "", map[string]string{"refresh_token": leaver.refresh}), 401)
		MustStatus(t, e.do(t, "GET", "/v1/me", leaver.access, nil), 401)

		// Demotion is not cached in the session.
		admin := e.MustJoin(t, owner, "admin@acme.test", "admin")
		MustStatus(t, e.do(t, "POST", "/v1/sites", admin.access, map[string]any{"name": "Depot"}), 201)
		MustStatus(t, e.do(t, "PATCH", "/v1/members/"+admin.memberID, owner.access, map[string]any{"role": "staff"}), 200)
		MustStatus(t, e.do(t, "POST", "/v1/sites", admin.access, map[string]any{"name": "Yard"}), 403)
		r := MustStatus(t, e.do(t, "POST", "/v1/auth/refresh", "", map[string]string{"refresh_token": admin.refresh}), 200)
		admin.set(r)
		MustStatus(t, e.do(t, "POST", "/v1/sites", admin.access, map[string]any{"name": "Yard"}), 403)
		if role := MustStatus(t, e.do(t, "GET", "/v1/me", admin.access, nil), 200).body["member"].(map[string]any)["role"]; role != "staff" {
			t.Fatalf("demoted admin's session says role %v", role)
		}
	})
}
