package hq_test

import "testing"

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
