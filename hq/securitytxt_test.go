package hq_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"keycab.dev/keycab/hq"
	"keycab.dev/keycab/hq/auth"
)

// TestSecurityTxt: HQ serves the operator's security.txt (RFC 9116) as
// plain text behind the same middleware as every page, and redirects the
// legacy location to it.
func TestSecurityTxt(t *testing.T) {
	expires := time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC)
	e := newEnv(t, engines()[0], func(_ *auth.Config, s *hq.Server) {
		s.SecurityTxt = &hq.SecurityTxt{
			Contacts:           []string{"mailto:security@example.com", "https://example.com/report"},
			Expires:            expires,
			PreferredLanguages: "en, de",
			Policy:             "https://example.com/disclosure",
			Canonical:          "https://hq.example.com/.well-known/security.txt",
		}
	})
	r := MustStatus(t, e.do(t, "GET", "/.well-known/security.txt", "", nil), http.StatusOK)
	if ct := r.header.Get("Content-Type"); ct != "text/plain; charset=utf-8" {
		t.Errorf("Content-Type %q, want text/plain; charset=utf-8", ct)
	}
	want := "Contact: mailto:security@example.com\n" +
		"Contact: https://example.com/report\n" +
		"Expires: 2026-09-01T00:00:00Z\n" +
		"Preferred-Languages: en, de\n" +
		"Policy: https://example.com/disclosure\n" +
		"Canonical: https://hq.example.com/.well-known/security.txt\n"
	if r.raw != want {
		t.Errorf("security.txt:\n%s\nwant:\n%s", r.raw, want)
	}
	for _, h := range []string{"Strict-Transport-Security", "Content-Security-Policy", "X-Content-Type-Options", "X-Frame-Options", "Referrer-Policy"} {
		if r.header.Get(h) == "" {
			t.Errorf("security.txt answered without %s", h)
		}
	}

	req, err := http.NewRequest("GET", e.srv.URL+"/security.txt", nil)
	MustNoErr(t, err)
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := noFollow.Do(req)
	MustNoErr(t, err)
	res.Body.Close()
	if res.StatusCode != http.StatusMovedPermanently || res.Header.Get("Location") != "/.well-known/security.txt" {
		t.Errorf("/security.txt: %d to %q, want 301 to /.well-known/security.txt", res.StatusCode, res.Header.Get("Location"))
	}
}

// TestSecurityTxtOff: with no contact configured there is no file, at
// either location; HQ does not make one up.
func TestSecurityTxtOff(t *testing.T) {
	e := newEnv(t, engines()[0], nil)
	for _, path := range []string{"/.well-known/security.txt", "/security.txt"} {
		r := MustStatus(t, e.do(t, "GET", path, "", nil), http.StatusNotFound)
		if strings.Contains(r.raw, "Contact:") {
			t.Errorf("%s answered a contact: %q", path, r.raw)
		}
		if r.header.Get("Content-Security-Policy") == "" {
			t.Errorf("%s: 404 without security headers", path)
		}
	}
}

// TestSecurityTxtValidate: what the configuration is checked for.
func TestSecurityTxtValidate(t *testing.T) {
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	good := func() hq.SecurityTxt {
		return hq.SecurityTxt{Contacts: []string{"mailto:security@example.com"}, Expires: now.AddDate(0, 6, 0)}
	}
	g := good()
	if err := g.Validate(now); err != nil {
		t.Fatalf("good file refused: %v", err)
	}
	for name, change := range map[string]func(*hq.SecurityTxt){
		"no contact":        func(s *hq.SecurityTxt) { s.Contacts = nil },
		"http contact":      func(s *hq.SecurityTxt) { s.Contacts = []string{"http://example.com/report"} },
		"bare address":      func(s *hq.SecurityTxt) { s.Contacts = []string{"security@example.com"} },
		"mailto no address": func(s *hq.SecurityTxt) { s.Contacts = []string{"mailto:"} },
		"tel contact":       func(s *hq.SecurityTxt) { s.Contacts = []string{"tel:+441234567890"} },
		"line break": func(s *hq.SecurityTxt) {
			s.Contacts = []string{"mailto:a@example.com\nContact: mailto:evil@example.com"}
		},
		"no expiry":          func(s *hq.SecurityTxt) { s.Expires = time.Time{} },
		"expired":            func(s *hq.SecurityTxt) { s.Expires = now.Add(-time.Second) },
		"over a year":        func(s *hq.SecurityTxt) { s.Expires = now.AddDate(1, 0, 1) },
		"http policy":        func(s *hq.SecurityTxt) { s.Policy = "http://example.com/policy" },
		"languages on lines": func(s *hq.SecurityTxt) { s.PreferredLanguages = "en\nContact: x" },
	} {
		s := good()
		change(&s)
		if err := s.Validate(now); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
