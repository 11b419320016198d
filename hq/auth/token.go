package auth

import (
	"crypto/rand"
	"crypto/sha256"
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
)

func newToken(prefix string) string { return prefix + rand.Text() }

// HashToken returns the stored form of a token.
func HashToken(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}
