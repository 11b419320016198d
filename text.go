package keycab

import (
	"bytes"
	"encoding/json"
	"strings"
	"unicode"
	"unicode/utf8"
)

// ValidText reports whether s is text keycab can store: valid UTF-8
// without NUL, which PostgreSQL's text cannot hold (SQLite can, so the
// two engines would answer differently). The edges (HQ's HTTP API, its
// dashboard forms, the kiosk API) refuse anything else with EINVALID.
func ValidText(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsRune(s, 0)
}

// ValidJSONText reports whether the JSON document b is valid UTF-8 and
// every string in it, object keys included, is ValidText once decoded
// (so "\u0000" is refused too). A document that is not JSON reports true:
// its decoder reports it.
func ValidJSONText(b []byte) bool {
	if !utf8.Valid(b) {
		return false
	}
	if !bytes.Contains(b, []byte(`\u`)) {
		return true // raw NUL is not JSON; an escape is the only way in
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	for {
		tok, err := dec.Token()
		if err != nil {
			return true
		}
		if s, ok := tok.(string); ok && strings.ContainsRune(s, 0) {
			return false
		}
	}
}

// Printable reports whether s is valid UTF-8 without control characters:
// text fit for one line of a screen.
func Printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return false
		}
	}
	return true
}

// PrintableText returns s fit for one line of a screen: invalid UTF-8
// and control characters (newlines, tabs, NUL) each become a space.
func PrintableText(s string) string {
	if Printable(s) {
		return s
	}
	return strings.Map(func(r rune) rune {
		if r == utf8.RuneError || unicode.IsControl(r) {
			return ' '
		}
		return r
	}, strings.ToValidUTF8(s, " "))
}
