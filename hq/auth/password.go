package auth

import (
	_ "embed"
	"strings"
	"unicode/utf8"

	"keycab.dev/keycab"
)

// commonPasswords is the block list: the 10,000 most common passwords of
// zxcvbn 4.4.2's "passwords" frequency list (MIT licence, Dan Wheeler and
// Dropbox), itself ranked from Mark Burnett's 10 million leaked
// passwords, most common first, lower case, one a line. Derived once with
// `npm pack zxcvbn@4.4.2` and the first 10,000 entries of
// lib/frequency_lists.js; nothing is fetched at run or test time.
//
//go:embed common-passwords.txt
var commonPasswords string

// blocked holds the list for lookups.
var blocked = func() map[string]struct{} {
	m := make(map[string]struct{}, 10000)
	for _, p := range strings.Split(strings.TrimSpace(commonPasswords), "\n") {
		m[p] = struct{}{}
	}
	return m
}()

// Password length limits (OWASP ASVS 5.0 V6.2: at least 8 characters,
// at least 64 permitted; no composition rules). MaxPasswordLen bounds the
// work one request can ask of the hash.
const (
	MinPasswordLen = 8
	MaxPasswordLen = 256
)

// CheckPassword reports whether password may be chosen: long enough, not
// too long, and not on the common-password block list (compared without
// case). It makes no composition rules, and does not trim or otherwise
// change what the person typed.
func CheckPassword(password string) error {
	n := utf8.RuneCountInString(password)
	switch {
	case n < MinPasswordLen:
		return keycab.Errorf(keycab.EINVALID, "a password needs at least %d characters", MinPasswordLen)
	case n > MaxPasswordLen:
		return keycab.Errorf(keycab.EINVALID, "a password may have at most %d characters", MaxPasswordLen)
	}
	if _, ok := blocked[strings.ToLower(password)]; ok {
		return keycab.Errorf(keycab.EINVALID, "this password is one of the most common ones; choose another")
	}
	return nil
}

// BlockListSize returns the number of passwords on the block list.
func BlockListSize() int { return len(blocked) }
