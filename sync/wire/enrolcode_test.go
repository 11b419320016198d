package wire_test

import (
	"strings"
	"testing"

	"keycab.dev/keycab/sync/wire"
)

func TestEnrolCode(t *testing.T) {
	c := wire.EnrolCode{HQ: "https://hq.example.com:8443/keycab", Token: "org_abc.k2j4&x=y"}
	got, err := wire.ParseEnrolCode(c.String())
	if err != nil || got != c {
		t.Fatalf("round trip of %q: %+v, %v", c.String(), got, err)
	}
	if !strings.HasPrefix(c.String(), "keycab-enrol:?") {
		t.Errorf("code %q", c.String())
	}
	for _, bad := range []string{
		"",
		"0004829301",              // a badge
		"qr-token-1",              // a fob label
		"keycab-enrol:?token=abc", // no HQ
		"keycab-enrol:?hq=https%3A%2F%2Fhq.example", // no token
		"keycab-enrol:?hq=ftp%3A%2F%2Fhq.example&token=abc",
		"keycab-enrol:?hq=https%3A%2F%2F&token=abc",
		"keycab-enrol:?hq=https%3A%2F%2Fhq.example%3Fx%3D1&token=abc",
		"keycab-enrol:?hq=https%3A%2F%2Fhq.example&token=a+b",
		"keycab-enrol:?hq=%zz&token=abc",
	} {
		if c, err := wire.ParseEnrolCode(bad); err == nil {
			t.Errorf("ParseEnrolCode(%q) = %+v, want an error", bad, c)
		}
	}
}
