package hq_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"keycab.dev/keycab"
	"keycab.dev/keycab/hq/auth"
	"keycab.dev/keycab/hq/store"
	"keycab.dev/keycab/internal/testenv"
)

// buildOIDCProvider builds the OpenID Connect provider of these tests,
// internal/oidctest's command (mockoidc), into dir.
func buildOIDCProvider(tb testing.TB, dir string) string {
	tb.Helper()
	testenv.BuildForHost(tb, dir, "keycab.dev/keycab/internal/oidctest/cmd/oidcprovider")
	return filepath.Join(dir, "oidcprovider")
}

const (
	idpClientID = "keycab-hq"
	idpSecret   = "keycab-hq-client-secret"
)

type idp struct {
	issuer string
	origin string
}

// startIdP runs the provider binary as its own process on loopback.
func startIdP(tb testing.TB, binary string) *idp {
	tb.Helper()
	cmd := exec.Command(binary, "-client-id", idpClientID, "-client-secret", idpSecret)
	out, err := cmd.StdoutPipe()
	MustNoErr(tb, err)
	cmd.Stderr = os.Stderr
	MustNoErr(tb, cmd.Start())
	tb.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	MustNoErr(tb, err)
	issuer, ok := strings.CutPrefix(strings.TrimSpace(line), "ISSUER ")
	if !ok {
		tb.Fatalf("provider said %q", line)
	}
	u, err := url.Parse(issuer)
	MustNoErr(tb, err)
	return &idp{issuer: issuer, origin: u.Scheme + "://" + u.Host}
}

type idpUser struct {
	Sub           string   `json:"sub"`
	Email         string   `json:"email"`
	EmailVerified bool     `json:"email_verified"`
	Groups        []string `json:"groups"`
}

// next sets who the provider signs in next, and how it spoils the ID
// token ("", forge, audience, expired).
func (p *idp) next(tb testing.TB, u idpUser, spoil string) {
	tb.Helper()
	b, _ := json.Marshal(map[string]any{"user": u, "spoil": spoil})
	res, err := http.Post(p.origin+"/control", "application/json", bytes.NewReader(b))
	MustNoErr(tb, err)
	res.Body.Close()
	if res.StatusCode != http.StatusNoContent {
		tb.Fatalf("control: %d", res.StatusCode)
	}
}

var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// ssoBegin starts an SSO sign-in to orgID in w by its login page, as a
// browser would: it answers the callback URL path the provider sends the
// browser back to.
func ssoBegin(tb testing.TB, w *web, p *idp, orgID string, u idpUser, spoil string) string {
	tb.Helper()
	MustPage(tb, w.get(tb, "/login"), 200, `href="/sso"`)
	MustPage(tb, w.get(tb, "/sso"), 200, "Work email")
	start := "/sso/start?org=" + url.QueryEscape(orgID)
	MustPage(tb, w.post(tb, "/sso", url.Values{"org": {orgID}}), 200, `href="`+strings.ReplaceAll(start, "&", "&amp;")+`"`)
	res := w.get(tb, start)
	if res.status != http.StatusFound || !strings.HasPrefix(res.location(), p.issuer) {
		tb.Fatalf("start: %d %s %s", res.status, res.location(), res.body)
	}
	auth, err := url.Parse(res.location())
	MustNoErr(tb, err)
	q := auth.Query()
	if q.Get("code_challenge_method") != "S256" || q.Get("nonce") == "" || !strings.HasPrefix(q.Get("state"), orgID+".") ||
		q.Get("redirect_uri") != w.e.srv.URL+"/sso/callback" {
		tb.Fatalf("authorization request %s", auth)
	}
	p.next(tb, u, spoil)
	r, err := noRedirect.Get(res.location())
	MustNoErr(tb, err)
	r.Body.Close()
	back, err := url.Parse(r.Header.Get("Location"))
	MustNoErr(tb, err)
	if r.StatusCode != http.StatusFound || back.Path != "/sso/callback" {
		tb.Fatalf("provider: %d %s", r.StatusCode, back)
	}
	return back.RequestURI()
}

// ssoSignIn signs in w by SSO and answers the callback's page.
func ssoSignIn(tb testing.TB, w *web, p *idp, orgID string, u idpUser, spoil string) page {
	tb.Helper()
	return w.get(tb, ssoBegin(tb, w, p, orgID, u, spoil))
}

// mustSSOSession checks that res signed w in, and answers its member.
func mustSSOSession(tb testing.TB, e *env, w *web, res page) string {
	tb.Helper()
	if res.status != http.StatusSeeOther || res.location() != "/" || w.cookies["__Host-keycab_session"] == "" {
		tb.Fatalf("sso sign-in: %d %s %s", res.status, res.location(), res.body)
	}
	p, err := e.auth.Authenticate(context.Background(), w.cookies["__Host-keycab_session"])
	MustNoErr(tb, err)
	return p.MemberID
}

func adminActions(tb testing.TB, e *env, sc store.Scope, action string) []store.AdminAction {
	tb.Helper()
	log, err := e.st.ListAdminLog(context.Background(), sc, 1000)
	MustNoErr(tb, err)
	var out []store.AdminAction
	for _, a := range log {
		if a.Action == action {
			out = append(out, a)
		}
	}
	return out
}

// TestSSO: single sign-on against a real OpenID Connect provider (its
// own process on loopback, one for each engine), on both engines. A first sign-in makes the
// member with the role and sites its group maps to; a later one follows
// the groups. Forged, wrong-audience and expired ID tokens, a replayed
// state, a state from another browser, an unverified address, an
// address outside the verified domains, another organisation's
// configuration and an account of another organisation are refused; an
// account with keycab's two-step sign-in on gets its code step. Enforced SSO refuses a member's password,
// sign-in link and password reset while the owner's break-glass password
// sign-in works and is in the admin log.
func TestSSO(t *testing.T) {
	binary := buildOIDCProvider(t, t.TempDir())
	for _, eng := range engines() {
		t.Run(eng.name, func(t *testing.T) {
			t.Parallel()
			idp := startIdP(t, binary) // one each: who signs in next is the provider's state
			ctx := context.Background()
			e := newDashEnv(t, eng, nil, true)
			a, b := e.web(), e.web()
			a.MustSignupWeb(t, "Acme", "Ann", "ann@acme.test")
			b.MustSignupWeb(t, "Bolt", "Bob", "bob@bolt.test")
			pat := e.MustJoinWeb(t, a, "pat@acme.test", keycab.RoleStaff)
			asc, bsc := ownerScope(t, e, a), ownerScope(t, e, b)
			site, err := e.st.CreateSite(ctx, asc, store.Site{Site: keycab.Site{Name: "Depot", TimeZone: "Europe/London"}})
			MustNoErr(t, err)
			cfg := store.SSOConfig{Issuer: idp.issuer, ClientID: idpClientID, Domains: []string{"Acme.test"},
				Roles: []store.SSORoleMap{{Group: "keycab-admins", Role: keycab.RoleAdmin}, {Group: "depot", Role: keycab.RoleStaff, SiteIDs: []string{site.ID}}}}
			_, err = e.st.Accounts().SetSSOConfig(ctx, asc, cfg, idpSecret)
			MustNoErr(t, err)
			// Another organisation cannot claim Acme's domain.
			bcfg := cfg
			bcfg.Roles = []store.SSORoleMap{{Group: "depot", Role: keycab.RoleAdmin}}
			if _, err := e.st.Accounts().SetSSOConfig(ctx, bsc, bcfg, idpSecret); keycab.ErrorCode(err) != keycab.ECONFLICT {
				t.Fatalf("claiming another organisation's domain: %v", err)
			}
			bcfg.Domains = []string{"bolt.test"}
			_, err = e.st.Accounts().SetSSOConfig(ctx, bsc, bcfg, idpSecret)
			MustNoErr(t, err)

			// The first sign-in: just-in-time membership, role and sites
			// from the groups claim, the address verified. By email domain.
			carol := idpUser{Sub: "carol-1", Email: "carol@acme.test", EmailVerified: true, Groups: []string{"depot", "other"}}
			orgA, err := e.auth.SSOOrg(ctx, "", "someone@ACME.test")
			MustNoErr(t, err)
			if orgA != asc.OrgID() {
				t.Fatalf("domain lookup: %s, want %s", orgA, asc.OrgID())
			}
			c := e.web()
			callback := ssoBegin(t, c, idp, orgA, carol, "")
			bind := c.cookies["__Host-keycab_sso"]
			carolID := mustSSOSession(t, e, c, c.get(t, callback))
			m, err := e.st.GetMember(ctx, asc, carolID)
			MustNoErr(t, err)
			if m.Role != keycab.RoleStaff || !slices.Equal(m.SiteIDs, []string{site.ID}) || m.Email != "carol@acme.test" {
				t.Fatalf("JIT member %+v", m)
			}
			acct, err := e.st.Accounts().AccountByEmail(ctx, "carol@acme.test")
			MustNoErr(t, err)
			if !acct.Verified() || acct.PasswordHash != "" {
				t.Fatalf("JIT account %+v", acct)
			}
			if len(adminActions(t, e, asc, "sso.join")) != 1 {
				t.Fatal("no sso.join in the admin log")
			}
			MustPage(t, c.get(t, "/"), 200)

			// The replayed state: the same callback again, in the same
			// browser with its binding cookie.
			c.cookies["__Host-keycab_sso"] = bind
			MustPage(t, c.get(t, callback), 401, "unknown, used or expired")
			c2 := e.web()
			c2.cookies["__Host-keycab_sso"] = bind
			// A state begun in another browser.
			other := ssoBegin(t, e.web(), idp, orgA, carol, "")
			MustPage(t, c2.get(t, other), 401, "unknown, used or expired")

			// A later sign-in follows the groups: carol becomes an admin.
			carol.Groups = []string{"keycab-admins"}
			if id := mustSSOSession(t, e, c, ssoSignIn(t, c, idp, orgA, carol, "")); id != carolID {
				t.Fatalf("a second member %s", id)
			}
			m, err = e.st.GetMember(ctx, asc, carolID)
			MustNoErr(t, err)
			if m.Role != keycab.RoleAdmin || len(m.SiteIDs) != 0 {
				t.Fatalf("member after the groups changed %+v", m)
			}
			if roles := adminActions(t, e, asc, "sso.role"); len(roles) != 1 || !strings.Contains(roles[0].Detail, `"before":{"role":"staff"`) {
				t.Fatalf("sso.role in the admin log: %+v", roles)
			}

			// Spoiled ID tokens.
			for spoil, want := range map[string]string{"forge": "signature", "audience": "audience", "expired": "expired"} {
				w := e.web()
				MustPage(t, ssoSignIn(t, w, idp, orgA, carol, spoil), 401, "ID token is not valid", want)
				if w.cookies["__Host-keycab_session"] != "" {
					t.Fatalf("%s: signed in", spoil)
				}
			}
			// An address the provider does not vouch for, one outside the
			// verified domains, groups that map to no role.
			MustPage(t, ssoSignIn(t, e.web(), idp, orgA, idpUser{Sub: "u2", Email: "una@acme.test", Groups: []string{"depot"}}, ""), 403, "email_verified")
			MustPage(t, ssoSignIn(t, e.web(), idp, orgA, idpUser{Sub: "u3", Email: "eve@evil.test", EmailVerified: true, Groups: []string{"keycab-admins"}}, ""),
				403, "not in a domain")
			MustPage(t, ssoSignIn(t, e.web(), idp, orgA, idpUser{Sub: "u4", Email: "nogroup@acme.test", EmailVerified: true, Groups: []string{"x"}}, ""),
				403, "no role")
			// Another organisation's configuration: Bolt's SSO does not
			// sign in an Acme address, nor to Acme; a state whose
			// organisation is rewritten finds nothing.
			MustPage(t, ssoSignIn(t, e.web(), idp, bsc.OrgID(), idpUser{Sub: "u5", Email: "dave@acme.test", EmailVerified: true, Groups: []string{"depot"}}, ""),
				403, "not in a domain")
			w := e.web()
			cb := ssoBegin(t, w, idp, orgA, carol, "")
			MustPage(t, w.get(t, strings.Replace(cb, url.QueryEscape(orgA+"."), url.QueryEscape(bsc.OrgID()+"."), 1)), 401, "unknown, used or expired")
			if _, err := e.st.Accounts().AccountByEmail(ctx, "dave@acme.test"); keycab.ErrorCode(err) != keycab.ENOTFOUND {
				t.Fatalf("dave: %v", err)
			}
			// An account of another organisation is not joined by SSO
			// (invited instead): zed@acme.test is Bolt's.
			e.MustJoinWeb(t, b, "zed@acme.test", keycab.RoleStaff)
			MustPage(t, ssoSignIn(t, e.web(), idp, orgA, idpUser{Sub: "z", Email: "zed@acme.test", EmailVerified: true, Groups: []string{"depot"}}, ""),
				403, "another organisation")

			// Enforced SSO.
			cfg.Enforce = true
			_, err = e.st.Accounts().SetSSOConfig(ctx, asc, cfg, "")
			MustNoErr(t, err)
			MustPage(t, e.web().post(t, "/login", url.Values{"email": {"pat@acme.test"}, "password": {goodPassword}}), 403, "single sign-on")
			MustNoErr(t, e.auth.RequestMagicLink(ctx, "pat@acme.test", "127.0.0.1"))
			if _, err := e.auth.ConfirmMagicLink(ctx, e.mail.MustToken(t, "magic", "pat@acme.test"), "", "127.0.0.1"); keycab.ErrorCode(err) != keycab.EFORBIDDEN {
				t.Fatalf("magic link with SSO enforced: %v", err)
			}
			MustNoErr(t, e.auth.RequestReset(ctx, "pat@acme.test", "127.0.0.1"))
			if err := e.auth.ConfirmReset(ctx, e.mail.MustToken(t, "reset", "pat@acme.test"), goodPassword+"x", "127.0.0.1"); keycab.ErrorCode(err) != keycab.EFORBIDDEN {
				t.Fatalf("password reset with SSO enforced: %v", err)
			}
			_ = pat
			// The owner's break-glass password sign-in, in the admin log.
			owner := e.web()
			res := owner.post(t, "/login", url.Values{"email": {"ann@acme.test"}, "password": {goodPassword}})
			if res.status != http.StatusSeeOther || owner.cookies["__Host-keycab_session"] == "" {
				t.Fatalf("break-glass: %d %s", res.status, res.body)
			}
			if len(adminActions(t, e, asc, "sso.break_glass")) != 1 {
				t.Fatal("no sso.break_glass in the admin log")
			}
			// Bolt does not enforce: Bob's password works, unlogged.
			res = e.web().post(t, "/login", url.Values{"email": {"bob@bolt.test"}, "password": {goodPassword}})
			if res.status != http.StatusSeeOther || len(adminActions(t, e, bsc, "sso.break_glass")) != 0 {
				t.Fatalf("bob: %d", res.status)
			}
			// SSO still signs members in.
			last := e.web()
			mustSSOSession(t, e, last, ssoSignIn(t, last, idp, orgA, carol, ""))

			// An account with keycab's two-step sign-in on gets its code
			// step after the provider, as after a password.
			mia := idpUser{Sub: "mia", Email: "mia@acme.test", EmailVerified: true, Groups: []string{"depot"}}
			mw := e.web()
			mustSSOSession(t, e, mw, ssoSignIn(t, mw, idp, orgA, mia, ""))
			r := MustStatus(t, e.do(t, "POST", "/v1/me/mfa/setup", mw.cookies["__Host-keycab_session"], nil), 200)
			totp, err := decodeKey(r.str("secret"))
			MustNoErr(t, err)
			MustStatus(t, e.do(t, "POST", "/v1/me/mfa/enable", mw.cookies["__Host-keycab_session"], map[string]string{"code": auth.TOTPCode(totp, time.Now())}), 200)
			mw2 := e.web()
			res = ssoSignIn(t, mw2, idp, orgA, mia, "")
			if res.status != http.StatusSeeOther || !strings.HasPrefix(res.location(), "/login/mfa") || mw2.cookies["__Host-keycab_session"] != "" || mw2.cookies["__Host-keycab_mfa"] == "" {
				t.Fatalf("sso sign-in with MFA on: %d %s %v", res.status, res.location(), mw2.cookies)
			}
		})
	}
}

// TestSSOAPI: the configuration endpoints, on both engines: owners only
// (an admin, and an API key with every scope, are refused); the client
// secret is never answered nor in the admin log, which has before and
// after; a change without a secret keeps it; bad input is refused with
// its reason; each organisation sees its own configuration only.
func TestSSOAPI(t *testing.T) {
	forEngine(t, func(t *testing.T, e *env) {
		acme, bolt := e.MustSignup(t, "Acme", "ann@acme.test"), e.MustSignup(t, "Bolt", "bob@bolt.test")
		admin := e.MustJoin(t, acme, "ada@acme.test", "admin")
		key := MustStatus(t, e.do(t, "POST", "/v1/api-keys", acme.access, map[string]any{"name": "all",
			"scopes": []string{"history:read", "custody:write", "people:write", "cabinets:write"}}), 201).str("token")
		in := map[string]any{"issuer": "https://login.acme.test", "client_id": "keycab", "client_secret": "acme-idp-secret",
			"domains": []string{"acme.test"}, "roles": []map[string]any{{"group": "it", "role": "admin"}}}
		MustStatus(t, e.do(t, "GET", "/v1/sso", acme.access, nil), 404)
		for _, tok := range []string{admin.access, key} {
			MustStatus(t, e.do(t, "PUT", "/v1/sso", tok, in), 403)
			MustStatus(t, e.do(t, "GET", "/v1/sso", tok, nil), 403)
			MustStatus(t, e.do(t, "DELETE", "/v1/sso", tok, nil), 403)
		}
		out := MustStatus(t, e.do(t, "PUT", "/v1/sso", acme.access, in), 200)
		if strings.Contains(out.raw, "acme-idp-secret") || !strings.HasSuffix(out.str("redirect_uri"), "/sso/callback") {
			t.Fatalf("PUT answer %s", out.raw)
		}
		delete(in, "client_secret")
		in["enforce"] = true
		MustStatus(t, e.do(t, "PUT", "/v1/sso", acme.access, in), 200)
		got := MustStatus(t, e.do(t, "GET", "/v1/sso", acme.access, nil), 200)
		if strings.Contains(got.raw, "acme-idp-secret") || got.body["enforce"] != true {
			t.Fatalf("GET %s", got.raw)
		}
		c, secret, err := e.st.Accounts().SSOProvider(context.Background(), acme.orgID)
		MustNoErr(t, err)
		if secret != "acme-idp-secret" || !c.Enforce {
			t.Fatalf("stored %+v %q", c, secret)
		}
		log := MustStatus(t, e.do(t, "GET", "/v1/admin-log", acme.access, nil), 200)
		if strings.Contains(log.raw, "acme-idp-secret") || !strings.Contains(log.raw, "sso.configure") || !strings.Contains(log.raw, `\"enforce\":false`) {
			t.Fatalf("admin log %s", log.raw)
		}
		for bad, why := range map[string]map[string]any{
			"https":             {"issuer": "http://login.acme.test", "client_id": "x", "domains": []string{"acme.test"}},
			"email domain":      {"issuer": "https://login.acme.test", "client_id": "x", "domains": []string{"not a domain"}},
			"owners are made":   {"issuer": "https://login.acme.test", "client_id": "x", "domains": []string{"acme.test"}, "roles": []map[string]any{{"group": "g", "role": "owner"}}},
			"client id":         {"issuer": "https://login.acme.test", "domains": []string{"acme.test"}},
			"another organisat": {"issuer": "https://login.bolt.test", "client_id": "x", "client_secret": "s", "domains": []string{"acme.test"}},
		} {
			tok := acme.access
			if bad == "another organisat" {
				tok = bolt.access
			}
			r := e.do(t, "PUT", "/v1/sso", tok, why)
			if r.status < 400 || r.status >= 500 || !strings.Contains(r.raw, bad) {
				t.Errorf("%s: %d %s", bad, r.status, r.raw)
			}
		}
		MustStatus(t, e.do(t, "GET", "/v1/sso", bolt.access, nil), 404)
		MustStatus(t, e.do(t, "DELETE", "/v1/sso", acme.access, nil), 204)
		MustStatus(t, e.do(t, "GET", "/v1/sso", acme.access, nil), 404)
	})
}

// TestDashboardSSOSettings: the SSO settings page over HTTP, on both
// engines: an owner sets the provider, domains, a mapping scoped to a
// site and enforcement; the secret is never on the page and an empty
// one keeps it; a bad issuer is refused on the form with its reason; an
// admin gets 403; the settings page links to it for owners only.
func TestDashboardSSOSettings(t *testing.T) {
	for _, eng := range engines() {
		t.Run(eng.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			e := newDashEnv(t, eng, nil, false)
			a := e.web()
			a.MustSignupWeb(t, "Acme", "Ann", "ann@acme.test")
			admin := e.MustJoinWeb(t, a, "ada@acme.test", keycab.RoleAdmin)
			sc := ownerScope(t, e, a)
			site, err := e.st.CreateSite(ctx, sc, store.Site{Site: keycab.Site{Name: "Depot", TimeZone: "Europe/London"}})
			MustNoErr(t, err)
			MustPage(t, a.get(t, "/settings"), 200, `href="/settings/sso"`)
			if strings.Contains(admin.get(t, "/settings").body, `href="/settings/sso"`) {
				t.Fatal("an admin is offered the SSO settings")
			}
			MustPage(t, admin.get(t, "/settings/sso"), 403)
			MustPage(t, a.get(t, "/settings/sso"), 200, "/sso/callback", "Set up", "Every site")
			form := url.Values{"issuer": {"https://login.acme.test"}, "client_id": {"keycab"}, "client_secret": {"acme-idp-secret"},
				"domains": {"acme.test, acme.example"}, "groups_claim": {"groups"},
				"group": {"it", "depot", ""}, "role": {"admin", "staff", "staff"}, "site": {"", site.ID, ""}, "enforce": {"on"}}
			p := MustPage(t, a.get(t, MustPage(t, a.post(t, "/settings/sso", form), 303).location()), 200, "Single sign-on saved", `value="https://login.acme.test"`, "acme.example, acme.test", `name="enforce" checked`)
			if strings.Contains(p.body, "acme-idp-secret") {
				t.Fatal("the secret is on the page")
			}
			form.Set("client_secret", "")
			form.Set("issuer", "http://login.acme.test")
			MustPage(t, a.post(t, "/settings/sso", form), 400, "https")
			form.Set("issuer", "https://sso.acme.test")
			MustPage(t, a.post(t, "/settings/sso", form), 303)
			c, secret, err := e.st.Accounts().SSOProvider(ctx, sc.OrgID())
			MustNoErr(t, err)
			if secret != "acme-idp-secret" || c.Issuer != "https://sso.acme.test" || len(c.Roles) != 2 || !slices.Equal(c.Roles[1].SiteIDs, []string{site.ID}) || !c.Enforce {
				t.Fatalf("stored %+v", c)
			}
			MustPage(t, admin.post(t, "/settings/sso/delete", nil), 403)
			MustPage(t, a.get(t, MustPage(t, a.post(t, "/settings/sso/delete", nil), 303).location()), 200, "Single sign-on removed", "Set up")
		})
	}
}
