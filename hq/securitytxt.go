package hq

import (
	"errors"
	"fmt"
	"net/http"
	"net/mail"
	"net/url"
	"strings"
	"time"

	"keycab.dev/keycab"
)

// SecurityTxtPath is where HQ serves its security.txt (RFC 9116 §3).
const SecurityTxtPath = "/.well-known/security.txt"

// SecurityTxt is the content of HQ's /.well-known/security.txt (RFC 9116):
// whom to tell about a vulnerability in this deployment, and until when
// that holds. It comes from the operator's configuration; HQ never
// invents a contact.
type SecurityTxt struct {
	// Contacts are mailto: or https: URIs, most preferred first; at least
	// one is required.
	Contacts []string
	// Expires is when the file stops being valid; required, in the
	// future and at most a year ahead (RFC 9116 §2.5.5).
	Expires time.Time
	// PreferredLanguages is an optional comma-separated list of language
	// tags, e.g. "en, de".
	PreferredLanguages string
	// Policy is an optional https: URL of the deployment's disclosure
	// policy.
	Policy string
	// Canonical is the optional https: URL this file is served at.
	Canonical string
}

// Validate checks the file as of now: every contact a mailto: address or
// an https: URL, an expiry in the future and at most a year ahead, and
// Policy and Canonical https: URLs when set.
func (t *SecurityTxt) Validate(now time.Time) error {
	if len(t.Contacts) == 0 {
		return errors.New("security.txt: no contact")
	}
	for _, c := range t.Contacts {
		if err := validContact(c); err != nil {
			return fmt.Errorf("security.txt: contact %q: %w", c, err)
		}
	}
	switch {
	case t.Expires.IsZero():
		return errors.New("security.txt: no expiry (RFC 9116 requires Expires)")
	case !t.Expires.After(now):
		return fmt.Errorf("security.txt: expiry %s is in the past", t.Expires.UTC().Format(time.RFC3339))
	case t.Expires.After(now.AddDate(1, 0, 0)):
		return fmt.Errorf("security.txt: expiry %s is more than a year ahead (RFC 9116 §2.5.5 asks for less than a year)", t.Expires.UTC().Format(time.RFC3339))
	}
	for name, u := range map[string]string{"policy": t.Policy, "canonical": t.Canonical} {
		if u == "" {
			continue
		}
		if err := validHTTPS(u); err != nil {
			return fmt.Errorf("security.txt: %s %q: %w", name, u, err)
		}
	}
	if strings.ContainsAny(t.PreferredLanguages, "\r\n") {
		return errors.New("security.txt: preferred languages: a line break")
	}
	return nil
}

func validContact(c string) error {
	if strings.ContainsAny(c, "\r\n \t") {
		return errors.New("white space in a URI")
	}
	u, err := url.Parse(c)
	if err != nil {
		return err
	}
	switch u.Scheme {
	case "mailto":
		a, err := mail.ParseAddress(u.Opaque)
		if err != nil || a.Address != u.Opaque || u.RawQuery != "" {
			return errors.New("want mailto:ADDRESS")
		}
		return nil
	case "https":
		return validHTTPS(c)
	}
	return errors.New("want a mailto: or https: URI")
}

func validHTTPS(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return err
	}
	if u.Scheme != "https" || u.Host == "" || u.User != nil || strings.ContainsAny(s, "\r\n \t") {
		return errors.New("want an https:// URL")
	}
	return nil
}

// String is the file as RFC 9116 §2 formats it.
func (t *SecurityTxt) String() string {
	var b strings.Builder
	for _, c := range t.Contacts {
		fmt.Fprintf(&b, "Contact: %s\n", c)
	}
	fmt.Fprintf(&b, "Expires: %s\n", t.Expires.UTC().Format(time.RFC3339))
	if t.PreferredLanguages != "" {
		fmt.Fprintf(&b, "Preferred-Languages: %s\n", t.PreferredLanguages)
	}
	if t.Policy != "" {
		fmt.Fprintf(&b, "Policy: %s\n", t.Policy)
	}
	if t.Canonical != "" {
		fmt.Fprintf(&b, "Canonical: %s\n", t.Canonical)
	}
	return b.String()
}

// securityTxt answers /.well-known/security.txt, or 404 when the operator
// configured no contact.
func (s *Server) securityTxt(w http.ResponseWriter, r *http.Request) {
	if s.SecurityTxt == nil {
		WriteError(w, r, keycab.Errorf(keycab.ENOTFOUND, "no security.txt is configured"))
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprint(w, s.SecurityTxt.String())
}

// legacySecurityTxt redirects the legacy top-level location (RFC 9116 §3).
func (s *Server) legacySecurityTxt(w http.ResponseWriter, r *http.Request) {
	if s.SecurityTxt == nil {
		WriteError(w, r, keycab.Errorf(keycab.ENOTFOUND, "no security.txt is configured"))
		return
	}
	http.Redirect(w, r, SecurityTxtPath, http.StatusMovedPermanently)
}
