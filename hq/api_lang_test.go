package hq_test

import (
	"strings"
	"testing"
)

// TestAPILanguages: a site's kiosk language and a member's own are set
// and read through the JSON API, and a locale keycab has no catalogue for
// is refused.
func TestAPILanguages(t *testing.T) {
	forEngine(t, func(t *testing.T, e *env) {
		owner := e.MustSignup(t, "Acme", "owner@acme.test")
		o := owner.access
		site := MustStatus(t, e.do(t, "POST", "/v1/sites", o, map[string]any{"name": "Depot", "language": "de"}), 201)
		if site.str("language") != "de" {
			t.Fatalf("created site %v", site.body)
		}
		sid := site.str("id")
		MustStatus(t, e.do(t, "PATCH", "/v1/sites/"+sid, o, map[string]any{"language": "fr"}), 400)
		if r := MustStatus(t, e.do(t, "PATCH", "/v1/sites/"+sid, o, map[string]any{"language": "en-US"}), 200); r.str("language") != "en-US" {
			t.Fatalf("site after PATCH %v", r.body)
		}
		m := MustStatus(t, e.do(t, "POST", "/v1/members", o, map[string]any{"name": "Kiosk Kim", "role": "staff", "language": "de"}), 201)
		if m.str("language") != "de" {
			t.Fatalf("created member %v", m.body)
		}
		MustStatus(t, e.do(t, "POST", "/v1/members", o, map[string]any{"name": "Kiosk Kay", "role": "staff", "language": "klingon"}), 400)
		if r := MustStatus(t, e.do(t, "PATCH", "/v1/members/"+m.str("id"), o, map[string]any{"language": ""}), 200); r.str("language") != "" || r.str("role") != "staff" {
			t.Fatalf("member after PATCH %v", r.body)
		}
	})
}

// TestAPIErrorsInLanguage: the API says its error messages in the
// language Accept-Language asks for (German here), English when it asks
// for none keycab speaks or for nothing, and the code is the same in
// every language; an import preview's lines too.
func TestAPIErrorsInLanguage(t *testing.T) {
	e := newEnv(t, engines()[0], nil)
	o := e.MustSignup(t, "Acme", "owner@acme.test").access
	message := func(r resp) string {
		m, _ := r.body["error"].(map[string]any)
		s, _ := m["message"].(string)
		return s
	}
	site := map[string]any{"name": "Mondbasis", "time_zone": "Mars/Olympus"}
	for _, c := range []struct {
		accept, want string
	}{
		{"de-DE,de;q=0.9,en;q=0.8", `time_zone: "Mars/Olympus" ist keine IANA-Zeitzone`},
		{"fr-FR, de;q=0.5", `time_zone: "Mars/Olympus" ist keine IANA-Zeitzone`},
		{"", `time_zone: "Mars/Olympus" is not an IANA time zone`},
		{"fr-FR", `time_zone: "Mars/Olympus" is not an IANA time zone`},
		{"zz;q=abc,,;;", `time_zone: "Mars/Olympus" is not an IANA time zone`},
	} {
		r := MustStatus(t, e.do(t, "POST", "/v1/sites", o, site, "Accept-Language", c.accept), 400)
		if r.code() != "invalid" || message(r) != c.want {
			t.Errorf("Accept-Language %q: %s, want code invalid and %q", c.accept, r.raw, c.want)
		}
		if !strings.Contains(strings.Join(r.header.Values("Vary"), ","), "Accept-Language") {
			t.Errorf("Accept-Language %q: Vary %q does not name it", c.accept, r.header.Values("Vary"))
		}
	}
	if r := MustStatus(t, e.do(t, "GET", "/v1/members", "", nil, "Accept-Language", "de"), 401); r.code() != "unauthorized" || message(r) != "bitte melden Sie sich zuerst an" {
		t.Errorf("unauthenticated, in German: %s", r.raw)
	}
	r := MustStatus(t, e.do(t, "POST", "/v1/import/people", o, map[string]any{"csv": "name,role\nIvy Import,wizard\n"}, "Accept-Language", "de"), 200)
	if rows, _ := r.body["rows"].([]any); len(rows) != 1 || rows[0].(map[string]any)["error"] != `unbekannte Rolle "wizard"` {
		t.Errorf("import preview in German: %s", r.raw)
	}
}
