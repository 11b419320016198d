package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"strings"
)

// Tokens handed to clients are 128+ bits of randomness (crypto/rand.Text:
// 26 base32 characters) behind a prefix naming their kind, so a token in
// the wrong place is recognisable. The store keeps only SHA-256 hashes: a
// fast hash is enough for secrets of that entropy, and a leaked database
// yields no usable token.
const (
	prefixAccess  = "kca_"
	prefixRefresh = "kcr_"
	prefixReset   = "kcp_"
	prefixMagic   = "kcm_"
	prefixInvite  = "kci_"
	prefixMFA     = "kcf_"
	prefixVerify  = "kcv_" // verifies the account's address
	prefixEmail   = "kce_" // verifies a new address
	prefixAPIKey  = "kck_" // an API key: kck_ORG.KEY.SECRET (apikey.go)
	prefixSCIM    = "kcs_" // a SCIM token: kcs_ORG.TOKEN.SECRET (scim.go)
)

func newToken(prefix string) string { return prefix + rand.Text() }

// HashToken returns the stored form of a token.
func HashToken(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// Recovery codes stand in for a TOTP code when the authenticator is lost.
// Each is 80 bits from crypto/rand, shown as four groups of four base32
// characters (xxxx-xxxx-xxxx-xxxx), and stored as a SHA-256 hash bound to
// its account. A fast hash is enough, as for the tokens above: guessing
// one of ten 80-bit codes offline from a leaked database takes some 2^77
// hashes, beyond reach, whereas argon2id (internal/passhash) would cost
// ten slow verifications per attempt at sign-in for no gain in strength.
const recoveryCodes = 10

// newRecoveryCodes returns fresh recovery codes for an account and their
// hashes.
func newRecoveryCodes(accountID string) (codes []string, hashes [][]byte) {
	for range recoveryCodes {
		b := make([]byte, 10)
		rand.Read(b)
		t := strings.ToLower(b32.EncodeToString(b)) // 16 characters
		code := t[0:4] + "-" + t[4:8] + "-" + t[8:12] + "-" + t[12:16]
		codes = append(codes, code)
		hashes = append(hashes, HashRecoveryCode(accountID, code))
	}
	return codes, hashes
}

// HashRecoveryCode returns the stored form of an account's recovery code,
// as typed: case, spaces and hyphens do not matter.
func HashRecoveryCode(accountID, code string) []byte {
	norm := strings.Map(func(r rune) rune {
		if r == '-' || r == ' ' {
			return -1
		}
		return r
	}, strings.ToLower(strings.TrimSpace(code)))
	h := sha256.Sum256([]byte("keycab recovery code v1\x00" + accountID + "\x00" + norm))
	return h[:]
}

// isTOTPCode reports whether code has the form of a TOTP code (digits
// only) rather than of a recovery code.
func isTOTPCode(code string) bool {
	code = strings.ReplaceAll(code, " ", "")
	if code == "" {
		return false
	}
	for _, r := range code {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}
