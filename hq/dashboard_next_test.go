package hq_test

import (
	"html"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"testing"
	"time"

	"keycab.dev/keycab/hq/auth"
)

// hostileNext are next= values that must never become a redirect off
// this host: browsers strip tabs and newlines from a URL and read a
// backslash as a slash, so "/\t/evil" lands on //evil.
var hostileNext = []string{
	"/\t/evil.example", "/\n/evil.example", "/\r/evil.example", "/\r\n/evil.example", "/\x00/evil.example",
	"\t//evil.example", "/\x0b/evil.example", "/\x7f/evil.example",
	"//evil.example", "//evil.example/x", "///evil.example", "////evil.example", "/\\evil.example", "/\\/evil.example",
	"\\\\evil.example", "https://evil.example", "http://evil.example/", "HTTPS://evil.example", "javascript:alert(1)",
	"JavaScript:alert(1)", "data:text/html,x", "evil.example", "history", "", " /history",
	"/%09/evil.example", "/%0a/evil.example", "/%0D/evil.example", "/%00/evil.example", "/%5C/evil.example",
	"/%5cevil.example", "/%2F/evil.example", "/%2f%2fevil.example", "%2F%2Fevil.example", "https:%2F%2Fevil.example",
	"/\xff/evil.example", "/history\x00", "/history?x=\n", "/history\\x",
}

// goodNext are ordinary pages to come back to.
var goodNext = []string{"/", "/history", "/history?kind=key.taken", "/history?kind=key.taken&since=2026-01-01", "/sites/site_1",
	"/people/mem_1/jobs/new", "/key-sets?notice=saved", "/history?q=%2F%2Fevil.example", "/caf%C3%A9"}

var nextField = regexp.MustCompile(`name="next" value="([^"]*)"`)

// formNext is the next= value a signed-out page carries in its form.
func formNext(tb testing.TB, p page) string {
	tb.Helper()
	m := nextField.FindStringSubmatch(p.body)
	if m == nil {
		tb.Fatalf("page has no next field:\n%s", p.body)
	}
	return html.UnescapeString(m[1])
}

// wantNext checks where a page would send the browser for next=in: to
// in itself when it is a good value, else to "/".
func wantNext(t *testing.T, what, in, got string) {
	t.Helper()
	want := "/"
	for _, g := range goodNext {
		if in == g {
			want = g
		}
	}
	if got != want {
		t.Errorf("%s with next=%q: sends to %q, want %q", what, in, got, want)
	}
}

// Every page that takes next= (sign-in, its MFA step) goes back only to
// a path on this host: never another host through a scheme, //, a
// backslash, a control character a browser strips, or their encodings.
func TestDashboardNextStaysLocal(t *testing.T) {
	e := newDashEnv(t, engines()[0], nil, false)
	w := e.web()
	w.MustSignupWeb(t, "Acme", "Ann", "ann@acme.test")
	w.post(t, "/logout", nil)
	m := e.web()
	m.MustSignupWeb(t, "Bolt", "Bea", "bea@bolt.test")
	p := MustPage(t, m.post(t, "/settings/mfa/setup", nil), 200)
	secret, err := decodeKey(regexp.MustCompile(`data-testid="totp-secret">([A-Z2-7]+)<`).FindStringSubmatch(p.body)[1])
	MustNoErr(t, err)
	MustPage(t, m.post(t, "/settings/mfa/enable", url.Values{"code": {auth.TOTPCode(secret, e.clock.Now())}}), 200, `data-testid="recovery-codes"`)

	for _, next := range append(append([]string{}, hostileNext...), goodNext...) {
		// Fresh rate-limit windows and TOTP steps for each value.
		e.clock.Advance(16 * time.Minute)
		// check runs one step: a page refused outright (400: text that is
		// not valid) sends the browser nowhere; else where it sends to.
		check := func(what string, p page, status int, where func(page) string) {
			t.Helper()
			if p.status == http.StatusBadRequest && !slices.Contains(goodNext, next) {
				return
			}
			if p.status != status {
				t.Fatalf("%s with next=%q: status %d, want %d; body:\n%s", what, next, p.status, status, p.body)
			}
			wantNext(t, what, next, where(p))
		}
		location := func(p page) string { return p.location() }

		b := e.web()
		check("GET /login", b.get(t, "/login?next="+url.QueryEscape(next)), 200, func(p page) string { return formNext(t, p) })
		check("POST /login", b.post(t, "/login", url.Values{"email": {"ann@acme.test"}, "password": {goodPassword}, "next": {next}}), http.StatusSeeOther, location)
		// A failed sign-in re-renders the form with next.
		check("POST /login (wrong password)", b.post(t, "/login", url.Values{"email": {"ann@acme.test"}, "password": {"wrong password here"}, "next": {next}}),
			http.StatusUnauthorized, func(p page) string { return formNext(t, p) })

		b = e.web()
		check("POST /login (to MFA)", b.post(t, "/login", url.Values{"email": {"bea@bolt.test"}, "password": {goodPassword}, "next": {next}}), http.StatusSeeOther,
			func(p page) string {
				loc, err := url.Parse(p.location())
				MustNoErr(t, err)
				if loc.Path != "/login/mfa" {
					t.Fatalf("MFA login sends to %q", p.location())
				}
				return loc.Query().Get("next")
			})
		if b.cookies["__Host-keycab_mfa"] == "" {
			// The password step was refused: start the MFA step with a
			// plain next.
			MustPage(t, b.post(t, "/login", url.Values{"email": {"bea@bolt.test"}, "password": {goodPassword}}), http.StatusSeeOther)
		}
		check("GET /login/mfa", b.get(t, "/login/mfa?next="+url.QueryEscape(next)), 200, func(p page) string { return formNext(t, p) })
		check("POST /login/mfa (wrong code)", b.post(t, "/login/mfa", url.Values{"code": {"000000"}, "next": {next}}), http.StatusUnauthorized,
			func(p page) string { return formNext(t, p) })
		check("POST /login/mfa", b.post(t, "/login/mfa", url.Values{"code": {auth.TOTPCode(secret, e.clock.Now())}, "next": {next}}), http.StatusSeeOther, location)
	}
}
