package wire

import (
	"fmt"
	"net/url"
	"strings"
)

// EnrolScheme begins an enrolment code.
const EnrolScheme = "keycab-enrol"

// EnrolCode is what a kiosk needs to enrol: HQ's base URL and a token an
// HQ admin created for its cabinet. HQ's dashboard shows it as a QR code
// beside the token, so an installer holds the screen (or a print) to the
// kiosk's camera instead of typing both on the touchscreen:
//
//	keycab-enrol:?hq=https%3A%2F%2Fhq.example.com&token=org_x.abcd
type EnrolCode struct {
	HQ    string
	Token string
}

// String returns the code's text, as ParseEnrolCode reads it.
func (c EnrolCode) String() string {
	q := url.Values{"hq": {c.HQ}, "token": {c.Token}}
	return EnrolScheme + ":?" + q.Encode()
}

// ParseEnrolCode reads an enrolment code. It refuses anything else (a
// badge, a key fob's label) and a code whose HQ is not an http or https
// URL or whose token is missing.
func ParseEnrolCode(s string) (EnrolCode, error) {
	rest, ok := strings.CutPrefix(strings.TrimSpace(s), EnrolScheme+":?")
	if !ok {
		return EnrolCode{}, fmt.Errorf("not an enrolment code")
	}
	q, err := url.ParseQuery(rest)
	if err != nil {
		return EnrolCode{}, fmt.Errorf("enrolment code: %w", err)
	}
	c := EnrolCode{HQ: q.Get("hq"), Token: q.Get("token")}
	if err := CheckHQURL(c.HQ); err != nil {
		return EnrolCode{}, fmt.Errorf("enrolment code: %w", err)
	}
	if c.Token == "" || strings.ContainsAny(c.Token, " \t\r\n") {
		return EnrolCode{}, fmt.Errorf("enrolment code: no token")
	}
	return c, nil
}

// CheckHQURL checks that s can be HQ's base URL: http or https, a host,
// no query or fragment.
func CheckHQURL(s string) error {
	u, err := url.Parse(s)
	switch {
	case s == "":
		return fmt.Errorf("no HQ address")
	case err != nil:
		return fmt.Errorf("HQ address %q: %w", s, err)
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Errorf("HQ address %q: want http:// or https://", s)
	case u.Host == "":
		return fmt.Errorf("HQ address %q: no host", s)
	case u.RawQuery != "" || u.Fragment != "" || u.User != nil:
		return fmt.Errorf("HQ address %q: no query, fragment or user name", s)
	}
	return nil
}
